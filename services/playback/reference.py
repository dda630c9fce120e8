"""The far-end reference for echo cancellation: what playback hands to the device, as capture wants it.

The sound card's callback gives blocks at the device rate with the device time of their
first sample; :class:`ReferenceTap` turns them into 16 kHz mono int16 in 10 ms multiples
stamped with the device time of their first sample (a continuous resampler while the
audio is continuous; a gap or a clock jump starts a new run).
"""

from __future__ import annotations

import numpy as np
import soxr

OUT_RATE = 16000
UNIT = 160  # 10 ms at 16 kHz
GAP_NS = 5_000_000  # a block this far from where the previous one ended starts a new run (a skipped block: underrun)


class ReferenceTap:
    def __init__(self, rate: int) -> None:
        self.rate = int(rate)
        self._rs: soxr.ResampleStream | None = None
        self._pending = np.zeros(0, dtype=np.int16)
        self._t_pending = 0  # device time of _pending[0]
        self._t_next_in: int | None = None  # device time where the previous input block ended

    def feed(self, block: np.ndarray, t_ns: int) -> list[tuple[np.ndarray, int]]:
        """One device block (int16 mono at ``rate``) -> zero or more (16 kHz int16, t_ns) pieces."""
        block = np.asarray(block, dtype=np.int16).reshape(-1)
        if self._t_next_in is None or abs(t_ns - self._t_next_in) > GAP_NS:
            self._restart(t_ns)
        self._t_next_in = t_ns + len(block) * 1_000_000_000 // self.rate
        y = block if self._rs is None else self._rs.resample_chunk(block)
        pcm = np.concatenate([self._pending, y]) if len(self._pending) else y
        n = len(pcm) // UNIT * UNIT
        out: list[tuple[np.ndarray, int]] = []
        if n:
            out.append((pcm[:n].copy(), self._t_pending))
            self._t_pending += n * 1_000_000_000 // OUT_RATE
        self._pending = pcm[n:].copy()
        return out

    def _restart(self, t_ns: int) -> None:
        self._rs = None if self.rate == OUT_RATE else soxr.ResampleStream(
            self.rate, OUT_RATE, 1, dtype="int16", quality="HQ")
        self._pending = np.zeros(0, dtype=np.int16)
        self._t_pending = int(t_ns)
