"""capture's echo canceller stage (ECHO_MODE=aec): each microphone frame meets the reference of the same instant.

playback sends what it hands to the speaker on the ``reference`` stream, stamped with
device time; every 10 ms microphone frame goes through the canceller with the reference
of the same instant before anything else (ring, stt) sees it, so the user can talk over
Luna. Why the waiting and the fallbacks: while Luna speaks a frame waits for its
reference, and if none comes for REF_MISSING_NS (playback down, reference lost) capture
falls back to half-duplex with a notice (``info["echo_mode_effective"]``): it never hears
itself. A cold canceller can leak Luna's first words, so frames under her voice stay gated
until it has proven itself (WARMUP_DB over WARMUP_S); after a second of silent reference
it restarts (RESET_GAP_NS).
"""

from __future__ import annotations

import os
import time
from collections import deque

import numpy as np

from services.capture.aec import AEC_FRAME, Canceller, ReferenceBuffer, make_canceller
from services.capture.resample import FRAME_SAMPLES, OUT_RATE
from shared.messages import Frame
from shared.sampleclock import SampleClock

#: aec: a frame waits at most this long (after its last sample) for reference still on its way.
HOLD_NS = 40_000_000
#: aec: while Luna speaks, no reference for this long means it is missing: fall back to half-duplex.
REF_MISSING_NS = 300_000_000
AEC_FRAME_NS = AEC_FRAME * 1_000_000_000 // OUT_RATE
FRAME_NS = FRAME_SAMPLES * 1_000_000_000 // OUT_RATE
#: aec: a mic frame is paired with the reference this much later than its own stamp. AEC3 finds
#: the echo delay itself (within a few hundred ms) as long as the reference leads the echo, which
#: device-time pairing gives; a positive value adds lead for devices whose stamps run late.
REF_LEAD_NS = 0
#: aec cold start: until the canceller has shown WARMUP_DB of echo removal over WARMUP_S of
#: Luna's voice, frames under her voice are gated as in half-duplex (a cold AEC3 can leak the
#: first few hundred ms of echo, enough for the VAD to cut Luna off by her own voice).
WARMUP_DB = 20.0
WARMUP_S = 1.5
REF_ACTIVE_RMS = 100.0
#: aec: after this much silent reference (no sentence playing) the canceller restarts, in the
#: silence, so the next reply meets a fresh AEC3. A converged AEC3 trusts its echo path model:
#: if the path moved while nothing played (the two clocks drift; 0.5-2 ms is enough) it leaks
#: Luna's first words at 10-26 dB ERLE (measured, livekit), where a fresh one holds >= 30 dB
#: from the first frame. Pauses between sentences of one reply are shorter.
RESET_GAP_NS = 1_000_000_000


class EchoCancelling:
    """The canceller, its reference buffer and the aec/half-duplex switch; mixed into :class:`CaptureService`."""

    def _init_cancelling(self) -> None:
        self.echo_mode = self.settings.ECHO_MODE  # what the user asked for
        self.effective = self.echo_mode  # what capture does right now
        self.canceller: Canceller | None = None
        self.reference = ReferenceBuffer()
        self._hold: deque[tuple[np.ndarray, int]] = deque()  # aec: frames waiting for their reference
        self._silent_ref_ns = 0  # aec: how long the reference paired with the microphone has been silent
        self.aec_warm = False
        self._warm = [0.0, 0.0, 0]  # decaying mic energy, output energy, frames, over Luna's voice
        self._mic_clock = SampleClock(OUT_RATE)  # aec: the microphone's steady sample clock
        self._dump: list | None = [] if os.environ.get("LUNA_AEC_DUMP") else None  # debugging aid
        self._ref_log: list[tuple[int, int, int]] = []  # dump: (reference stamp, arrival, samples)
        if self.echo_mode == "aec":
            try:
                self.canceller = make_canceller()
            except Exception as exc:  # ImportError: the wheel is missing on this platform
                self.problems["ECHO_MODE"] = self.say("capture.aec-missing", err=exc)
                self.effective = "half-duplex"

    def _on_reference(self, f: Frame) -> None:
        """playback's far-end PCM, stamped with the device time of its first sample."""
        pcm = np.frombuffer(f.payload, dtype=np.int16)
        now = time.monotonic_ns()
        self.reference.add(f["t_ns"], pcm, now)
        if self._dump is not None:
            self._ref_log.append((f["t_ns"], now, len(pcm)))
        self.counters["reference_in"] += 1
        self.counters["reference_ms"] += len(pcm) * 1000 // OUT_RATE
        if self.canceller is not None and self.effective != "aec":
            self._set_effective("aec", "info", self.say("capture.aec-back"))

    def _set_effective(self, mode: str, level: str, text: str) -> None:
        self.effective = mode
        self.info["echo_mode_effective"] = mode
        if mode == "aec":
            self.problems.pop("ECHO_MODE", None)
        else:
            self.problems["ECHO_MODE"] = text
        self.notice(level, text, "echo-mode")

    def _cancel(self, frames: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, int]]:
        """aec: frames whose reference is here (or overdue) come out cancelled, in order."""
        assert self.canceller is not None
        self._hold.extend(frames)
        now = time.monotonic_ns()
        ref = self.reference
        if self.effective == "aec" and self.speaking and now - self.speak_since > REF_MISSING_NS and (
                now - ref.last_rx_ns > REF_MISSING_NS or self.peers.status("playback") == "down"):
            self._set_effective("half-duplex", "warning", self.say("capture.aec-noref"))
        out: list[tuple[np.ndarray, int]] = []
        while self._hold:
            pcm, t = self._hold[0]
            t_end = t + FRAME_NS + REF_LEAD_NS
            covered = ref.covered_until >= t_end
            if not covered and self.effective == "aec":
                wait = REF_MISSING_NS if self.speaking else HOLD_NS
                if now - t_end < wait:
                    break  # its reference may still be on the way
            self._hold.popleft()
            mc = self._mic_clock.stamp(t, len(pcm))
            if self.effective == "aec" or covered:
                clean = np.empty_like(pcm)
                refs = []
                for i in range(0, len(pcm), AEC_FRAME):
                    r = ref.get(int(mc) + REF_LEAD_NS + (i // AEC_FRAME) * AEC_FRAME_NS, AEC_FRAME)
                    self._gap(r)
                    clean[i:i + AEC_FRAME] = self.canceller.process(pcm[i:i + AEC_FRAME], r)
                    refs.append(r)
                self.counters["aec_frames"] += 1
                if not self.aec_warm and self._warming(pcm, clean, refs):
                    self.counters["aec_warmup_gated"] += 1
                    if self._dump is not None:
                        self._dump.append((t, pcm, np.concatenate(refs), clean, mc, now))
                    continue
                if self._dump is not None:
                    self._dump.append((t, pcm, np.concatenate(refs), clean, mc, now))
                pcm = clean
            out.append((pcm, t))
        self.counters["aec_ref_zeros"] = ref.zeros_served
        self.counters["aec_clock_jumps"] = self._mic_clock.jumps
        return out

    def _gap(self, r: np.ndarray) -> None:
        """Restart the canceller once the reference has been silent for RESET_GAP_NS (see there)."""
        assert self.canceller is not None
        if r.any():
            self._silent_ref_ns = 0
            return
        was = self._silent_ref_ns
        self._silent_ref_ns += AEC_FRAME_NS
        if was < RESET_GAP_NS <= self._silent_ref_ns:
            self.canceller.reset()
            self.counters["aec_resets"] += 1

    def _warming(self, mic: np.ndarray, out: np.ndarray, refs: list[np.ndarray]) -> bool:
        """Cold start: is this frame under Luna's voice while the canceller has not proven itself yet?"""
        r = np.concatenate(refs).astype(np.float64)
        if np.sqrt(np.mean(r * r)) < REF_ACTIVE_RMS:
            return False
        w = self._warm
        w[0] = 0.95 * w[0] + float(np.mean(mic.astype(np.float64) ** 2))
        w[1] = 0.95 * w[1] + float(np.mean(out.astype(np.float64) ** 2))
        w[2] += 1
        if w[2] * FRAME_NS >= WARMUP_S * 1e9 and w[0] > 1e-9 \
                and 10 * np.log10(w[0] / max(w[1], 1e-9)) >= WARMUP_DB:
            self.aec_warm = True
            self.info["aec_warm"] = True
            return False
        return True

    def _write_dump(self) -> None:
        """LUNA_AEC_DUMP: what the canceller saw and made, for offline debugging."""
        if self._dump:
            np.savez(os.environ["LUNA_AEC_DUMP"], t=np.array([d[0] for d in self._dump]),
                     mic=np.concatenate([d[1] for d in self._dump]), ref=np.concatenate([d[2] for d in self._dump]),
                     out=np.concatenate([d[3] for d in self._dump]), mc=np.array([d[4] for d in self._dump]),
                     done=np.array([d[5] for d in self._dump]), ref_log=np.array(self._ref_log, dtype=np.int64).reshape(-1, 3),
                     speak=np.array([(a, b) for a, b in self.spoken], dtype=np.int64).reshape(-1, 2))
