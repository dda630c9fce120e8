"""capture's half-duplex gate: a frame captured while Luna's voice may reach the microphone is dropped.

Why by capture time: the sound server can hand audio over late (PulseAudio lags up to
0.5 s), so whether a frame is Luna's own voice is decided from when it was captured,
against the sentences playback said it played (``speaking`` .. ``idle``), not from
when it arrived. The gate is open when ECHO_MODE=off, and while echo cancellation is
running (ECHO_MODE=aec, see services/capture/cancelling.py).
"""

from __future__ import annotations

import time
from collections import deque

from shared.messages import Frame

#: After playback says idle, keep the gate shut this long (room echo, output buffer).
ECHO_TAIL_NS = 300_000_000
#: Frames stamped this long before playback's first sample are gated too (clock estimates).
ECHO_LEAD_NS = 50_000_000


class HalfDuplexGate:
    """Luna's recent sentences and the gate decision; mixed into :class:`CaptureService`."""

    def _init_gate(self) -> None:
        self.speaking = False
        self.speak_since = 0  # ts of playback's first sample of the current sentence
        # Luna's recent sentences as (first sample, last sample) monotonic ns. The gate is
        # decided per frame from its capture time, so audio that the sound server hands
        # over late (PulseAudio can lag 0.5 s) is still recognised as Luna's own voice.
        self.spoken: deque[tuple[int, int]] = deque(maxlen=16)

    def _luna_voice(self, f: Frame) -> None:
        """playback's ``speaking`` / ``idle``: a sentence of Luna's starts or ends."""
        if f.type == "speaking":
            if not self.speaking:
                self.speaking = True
                self.speak_since = f.ts
        elif f.type == "idle":
            if self.speaking:
                self.spoken.append((self.speak_since, f.ts))
            self.speaking = False

    def gated(self, t_ns: int) -> bool:
        """Half-duplex: drop a frame captured while Luna's voice may have reached the microphone."""
        if self.echo_mode == "off" or self.effective in ("off", "aec"):
            return False
        if self.speaking and self.peers.status("playback") == "down":
            self.speaking = False  # playback died mid-sentence: never stay deaf forever
            self.spoken.append((self.speak_since, time.monotonic_ns()))
        if self.speaking and t_ns >= self.speak_since - ECHO_LEAD_NS:
            return True
        return any(a - ECHO_LEAD_NS <= t_ns <= b + ECHO_TAIL_NS for a, b in self.spoken)
