"""Any rate / channel count -> 16 kHz mono int16 in fixed 20 ms frames (soxr, streaming)."""

from __future__ import annotations

import numpy as np
import soxr

OUT_RATE = 16000
FRAME_SAMPLES = 320  # 20 ms at 16 kHz
FRAME_BYTES = FRAME_SAMPLES * 2


def to_mono_float(block: np.ndarray) -> np.ndarray:
    """int16/float block shaped (n,) or (n, channels) -> float32 mono in [-1, 1]."""
    a = np.asarray(block)
    if a.dtype == np.int16:
        a = a.astype(np.float32) / 32768.0
    elif a.dtype == np.int32:
        a = a.astype(np.float32) / 2147483648.0
    elif a.dtype == np.uint8:
        a = (a.astype(np.float32) - 128.0) / 128.0
    else:
        a = a.astype(np.float32, copy=False)
    if a.ndim == 2:
        a = a.mean(axis=1) if a.shape[1] > 1 else a[:, 0]
    return np.ascontiguousarray(a, dtype=np.float32)


def float_to_int16(a: np.ndarray) -> np.ndarray:
    return (np.clip(a, -1.0, 1.0) * 32767.0).astype(np.int16)


class Framer:
    """Streaming converter: feed blocks at ``in_rate``, get whole 16 kHz int16 frames out."""

    def __init__(self, in_rate: int, out_rate: int = OUT_RATE, frame_samples: int = FRAME_SAMPLES) -> None:
        self.in_rate = int(in_rate)
        self.out_rate = out_rate
        self.frame_samples = frame_samples
        self._rs = None if self.in_rate == out_rate else soxr.ResampleStream(
            self.in_rate, out_rate, 1, dtype="float32", quality="HQ")
        self._pending = np.zeros(0, dtype=np.int16)

    def feed(self, block: np.ndarray, last: bool = False) -> list[np.ndarray]:
        """Return the complete frames now available (each ``frame_samples`` int16)."""
        mono = to_mono_float(block)
        out = self._rs.resample_chunk(mono, last=last) if self._rs is not None else mono
        pcm = np.concatenate([self._pending, float_to_int16(out)])
        n = len(pcm) // self.frame_samples
        frames = [pcm[i * self.frame_samples:(i + 1) * self.frame_samples] for i in range(n)]
        self._pending = pcm[n * self.frame_samples:]
        if last and len(self._pending):
            pad = np.zeros(self.frame_samples - len(self._pending), dtype=np.int16)
            frames.append(np.concatenate([self._pending, pad]))
            self._pending = np.zeros(0, dtype=np.int16)
        return frames

    @property
    def pending(self) -> int:
        """Output samples waiting for a whole frame."""
        return len(self._pending)
