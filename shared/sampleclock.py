"""A steady sample clock from jittery device time stamps (shared by capture and playback for the AEC)."""

from __future__ import annotations


class SampleClock:
    """Device time of a continuous sample stream, from jittery per-block time stamps.

    The canceller needs microphone and reference on steady sample clocks: a reference that
    jumps by the jitter of each block's stamp (PulseAudio hands blocks over in bursts, and
    its first stamps after opening a stream can be hundreds of ms off) looks like a moving
    echo path. The clock advances by exactly the samples it was given, follows the stamps
    very slowly (drift), and re-anchors only when they disagree by more than ``jump_ns``
    for ``persist`` blocks in a row (a real gap, a restart, the end of the start-up ramp).

    ``follow`` is the share of each block's stamp error taken in. PulseAudio's stamps wander
    by tens of ms over seconds while the samples themselves stay locked (measured in the live
    AEC test: mic stamps drifting -14 -> -34 -> -12 ms against the sample count over 16 s);
    at 1/1024 per 20 ms block the clock followed that at up to 1.5 ms/s, and the echo
    canceller lost the echo path mid-reply and across pauses. At 1/32768 a 30 ms stamp error
    moves the clock 0.05 ms/s, and a real clock-rate difference (100 ppm) still settles at a
    constant offset of about 65 ms, well inside the canceller's delay range.
    """

    def __init__(self, rate: int, jump_ns: int = 60_000_000, persist: int = 10, follow: float = 1 / 32768) -> None:
        self.rate = rate
        self.jump_ns = jump_ns
        self.persist = persist
        self.follow = follow
        self._t: float | None = None
        self._off = 0
        self.jumps = 0

    def stamp(self, t_ns: int, n_samples: int) -> int:
        """Time of the first of ``n_samples`` whose block was stamped ``t_ns``; advances the clock."""
        t = self._t
        if t is None:
            t = float(t_ns)
        else:
            err = t_ns - t
            if abs(err) > self.jump_ns:
                self._off += 1
                if self._off >= self.persist:
                    t, self._off = float(t_ns), 0
                    self.jumps += 1
            else:
                self._off = 0
                t += err * self.follow
        self._t = t + n_samples * 1e9 / self.rate
        return int(t)
