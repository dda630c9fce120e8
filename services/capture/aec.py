"""Acoustic echo cancellation: Luna's own voice (the far-end reference) removed from the microphone.

* :class:`Canceller` is the small interface capture uses: ``process(mic, ref)`` on one
  10 ms frame (160 int16 samples at 16 kHz) returns the cleaned frame; ``reset()``.
* :class:`LiveKitAec3` (the default) runs WebRTC AEC3 inside livekit's audio processing
  module (``livekit`` wheel, ``rtc.AudioProcessingModule``, echo cancellation only). It
  estimates the echo path delay itself, so the reference only has to *lead* the echo
  (which it does when it is aligned by device time: the sample handed to the speaker at t
  reaches the microphone at t + acoustic/device latency).
* :class:`WebRtcAec3` is the same algorithm through ``pywebrtc-audio``: the fallback where
  the livekit wheel is missing.

  Chosen with numbers (synthetic room of tests/support/aecroom.py, 2-core Xeon, CPU by
  ``time.process_time`` over ~9 s of audio, 10 ms calls; bench/bench_aec.py):

  ===================== ============ ================== ===================
  canceller             CPU ms/s     ERLE 1st s (60/200) ERLE after (60/200)
  ===================== ============ ================== ===================
  livekit APM (AEC3)    6.0          41 / 38 dB          43 / 49 dB
  pywebrtc-audio AEC3   12.8         41 / 44 dB          40 / 44 dB
  aec-audio-processing  11.7         42 / 34 dB          40 / 43 dB  (sdist only: compiles)
  speexdsp (ref aligned) 4.5         14 / 14 dB          26 / 26 dB  (system libspeexdsp)
  ===================== ============ ================== ===================

  The pywebrtc-audio cost is the extension itself (its AEC3 with or without the high-pass
  filter, int16 or float32, 10 or 20 ms calls: 12.7-13.9 ms/s; a no-op loop 0.03 ms/s).
* :class:`Passthrough` returns the microphone as is (the baseline, and ECHO_MODE != aec).
* :class:`ReferenceBuffer` keeps the reference playback published, stamped with the device
  time of its first sample, and hands out the reference for a microphone frame by its
  capture time; where there is none (silence, a gap, playback down) it hands out zeros.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np

RATE = 16000
AEC_FRAME = 160  # 10 ms at 16 kHz: the unit every canceller works on
NS_PER_SAMPLE = 1_000_000_000 / RATE


class Canceller(Protocol):
    name: str

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


class Passthrough:
    name = "passthrough"

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return mic

    def reset(self) -> None:
        pass


class WebRtcAec3:
    """WebRTC AEC3 through pywebrtc-audio (16 kHz mono, 10 ms frames)."""

    name = "webrtc-aec3"

    def __init__(self, sample_rate: int = RATE) -> None:
        from pywebrtc_audio import EchoCanceller  # raises ImportError when the wheel is missing

        self._cls = EchoCanceller
        self.rate = sample_rate
        self._aec = self._make()

    def _make(self):  # noqa: ANN202 - the extension's own type
        return self._cls(sample_rate=self.rate, num_channels=1, stream_delay_ms=0)

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        m = np.ascontiguousarray(mic, dtype=np.int16)
        r = np.ascontiguousarray(ref, dtype=np.int16)
        out = self._aec.process(m, r)
        return np.asarray(out, dtype=np.int16).reshape(-1)

    def reset(self) -> None:
        self._aec.reset()


class LiveKitAec3:
    """WebRTC AEC3 through livekit's AudioProcessingModule (16 kHz mono, 10 ms frames).

    Echo cancellation only (no noise suppression, gain control or high-pass filter): stt
    gets the microphone as it is, minus Luna. The frames are processed in place in two
    buffers kept for the canceller's life (no allocation per call beyond the result).
    """

    name = "livekit-aec3"

    def __init__(self, sample_rate: int = RATE) -> None:
        from livekit import rtc  # raises ImportError when the wheel is missing

        self._rtc = rtc
        self.rate = sample_rate
        self.n = sample_rate // 100
        self._near = bytearray(self.n * 2)
        self._far = bytearray(self.n * 2)
        self._near_np = np.frombuffer(self._near, dtype=np.int16)
        self._far_np = np.frombuffer(self._far, dtype=np.int16)
        self._make()

    def _make(self) -> None:
        rtc = self._rtc
        self._apm = rtc.AudioProcessingModule(echo_cancellation=True)
        self._apm.set_stream_delay_ms(0)  # a hint only: AEC3 estimates the delay itself
        self._near_f = rtc.AudioFrame(self._near, self.rate, 1, self.n)
        self._far_f = rtc.AudioFrame(self._far, self.rate, 1, self.n)

    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        n = self.n
        if len(mic) != n:  # whole 10 ms frames only
            return np.concatenate([self.process(mic[i:i + n], ref[i:i + n]) for i in range(0, len(mic), n)])
        self._far_np[:] = ref
        self._apm.process_reverse_stream(self._far_f)
        self._near_np[:] = mic
        self._apm.process_stream(self._near_f)
        return self._near_np.copy()

    def reset(self) -> None:
        self._make()


CANCELLERS = {"livekit-aec3": LiveKitAec3, "webrtc-aec3": WebRtcAec3}


def make_canceller(kind: str = "") -> Canceller:
    """``kind`` by name; empty: the first canceller whose wheel imports (livekit, then pywebrtc-audio)."""
    if kind in ("passthrough", "off", "none"):
        return Passthrough()
    if kind:
        return CANCELLERS[kind]()
    errors = []
    for cls in CANCELLERS.values():
        try:
            return cls()
        except ImportError as exc:
            errors.append(f"{cls.name}: {exc}")
    raise ImportError("no echo canceller available (" + "; ".join(errors) + ")")


def process_signal(c: Canceller, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Whole signals (same length, int16 16 kHz) through ``c`` in 10 ms frames (tests, bench)."""
    n = min(len(mic), len(ref)) // AEC_FRAME * AEC_FRAME
    out = np.empty(n, dtype=np.int16)
    for i in range(0, n, AEC_FRAME):
        out[i:i + AEC_FRAME] = c.process(mic[i:i + AEC_FRAME], ref[i:i + AEC_FRAME])
    return out


class ReferenceBuffer:
    """Far-end blocks by device time; ``get(t_ns, n)`` returns the reference for a mic frame.

    Blocks are kept for ``keep_s`` of device time after their end. ``covered_until`` is the
    device time up to which reference has arrived, so capture can wait a few ms for
    reference that is still on its way instead of cancelling against zeros.
    """

    def __init__(self, keep_s: float = 2.0) -> None:
        self.blocks: deque[tuple[int, np.ndarray]] = deque()
        self.keep_ns = int(keep_s * 1e9)
        self.covered_until = 0
        self.last_rx_ns = 0  # monotonic time the newest block arrived (capture's clock)
        self.received = 0
        self.zeros_served = 0  # 10 ms frames handed out with no reference at all

    def add(self, t_ns: int, pcm: np.ndarray, now_ns: int = 0) -> None:
        pcm = np.asarray(pcm, dtype=np.int16)
        self.blocks.append((int(t_ns), pcm))
        end = int(t_ns + len(pcm) * NS_PER_SAMPLE)
        self.covered_until = max(self.covered_until, end)
        self.last_rx_ns = now_ns
        self.received += 1
        while self.blocks and self.blocks[0][0] + len(self.blocks[0][1]) * NS_PER_SAMPLE \
                < self.covered_until - self.keep_ns:
            self.blocks.popleft()

    def get(self, t_ns: int, n: int = AEC_FRAME) -> np.ndarray:
        out = np.zeros(n, dtype=np.int16)
        t_end = t_ns + n * NS_PER_SAMPLE
        hit = False
        for t0, pcm in self.blocks:
            b_end = t0 + len(pcm) * NS_PER_SAMPLE
            if b_end <= t_ns or t0 >= t_end:
                continue
            off = int(round((t0 - t_ns) / NS_PER_SAMPLE))  # where the block starts in ``out``
            lo, hi = max(0, off), min(n, off + len(pcm))
            if hi > lo:
                out[lo:hi] = pcm[lo - off:hi - off]
                hit = True
        if not hit:
            self.zeros_served += 1
        return out

    def clear(self) -> None:
        self.blocks.clear()
        self.covered_until = 0


