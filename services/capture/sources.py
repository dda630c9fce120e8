"""Where microphone audio comes from: a sounddevice input, or a WAV file (tests, debugging)."""

from __future__ import annotations

import time
import wave
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from services.capture.resample import FRAME_SAMPLES, OUT_RATE, Framer, to_mono_float
from shared.audiodev import find_device

Frames = list[tuple[np.ndarray, int]]  # (320 int16 samples, t_capture_ns of the first sample)


def _stamp(frames: list[np.ndarray], t_end_ns: int, pending: int) -> Frames:
    """Give each frame the capture time of its first sample, counting back from the block end."""
    n = len(frames)
    step = FRAME_SAMPLES * 1_000_000_000 // OUT_RATE
    t_last_end = t_end_ns - pending * 1_000_000_000 // OUT_RATE
    return [(f, t_last_end - (n - i) * step) for i, f in enumerate(frames)]


def find_input_device(spec: str, sd: Any) -> tuple[int, dict[str, Any]]:
    """Resolve CAPTURE_DEVICE (empty, an index, or part of a name) to (index, info)."""
    return find_device(spec, sd, "input")


class DeviceSource:
    """A sounddevice InputStream whose callback only copies into a bounded deque (never blocks)."""

    kind = "device"

    def __init__(self, spec: str, max_blocks: int = 200) -> None:
        import sounddevice as sd  # PortAudio is initialised here, after any PulseAudio daemon started

        self.index, info = find_input_device(spec, sd)
        self.name = str(info.get("name"))
        self.rate = int(info.get("default_samplerate") or 16000)
        self.raw: deque[tuple[np.ndarray, int]] = deque(maxlen=max_blocks)
        self.raw_dropped = 0
        self.status_flags = 0
        self.framer = Framer(self.rate)
        self.stream = sd.InputStream(device=self.index, samplerate=self.rate, channels=1, dtype="float32",
                                     blocksize=max(1, self.rate // 50), callback=self._callback)
        self.stream.start()

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Runs on PortAudio's thread: copy, stamp, append. No locks, no allocation beyond the copy.
        if status:
            self.status_flags += 1
        if len(self.raw) == self.raw.maxlen:
            self.raw_dropped += 1
        now = time.monotonic_ns()
        try:  # how long ago the first sample of this block was captured, as PortAudio sees it
            lag = time_info.currentTime - time_info.inputBufferAdcTime
        except Exception:
            lag = 0.0
        block_ns = frames * 1_000_000_000 // self.rate
        if 0.0 < lag < 5.0:
            t_end = now - int(lag * 1e9) + block_ns
        else:
            t_end = now
        self.raw.append((indata.copy(), t_end))

    def read(self) -> Frames:
        out: Frames = []
        while self.raw:
            block, t_end = self.raw.popleft()
            frames = self.framer.feed(block)
            out.extend(_stamp(frames, t_end, self.framer.pending))
        return out

    @property
    def alive(self) -> bool:
        return bool(self.stream.active) and not self.stream.closed

    @property
    def finished(self) -> bool:
        return False

    def close(self) -> None:
        try:
            self.stream.abort()
            self.stream.close()
        except Exception:
            pass


def _decode(raw: bytes, width: int, channels: int, path: str | Path = "") -> np.ndarray:
    """PCM bytes -> samples shaped (n, channels); 8/16/24/32-bit."""
    if width == 2:
        a = np.frombuffer(raw, dtype="<i2")
    elif width == 4:
        a = np.frombuffer(raw, dtype="<i4")
    elif width == 1:
        a = np.frombuffer(raw, dtype=np.uint8)
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        a = ((b[:, 0].astype(np.int32) << 8) | (b[:, 1].astype(np.int32) << 16) | (b[:, 2].astype(np.int32) << 24))
    else:
        raise ValueError(f"{path}: {width * 8}-bit samples are not supported")
    return a.reshape(-1, channels)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Whole WAV file -> (samples shaped (n, channels), rate)."""
    with wave.open(str(path), "rb") as w:
        return _decode(w.readframes(w.getnframes()), w.getsampwidth(), w.getnchannels(), path), w.getframerate()


class FileSource:
    """Reads a WAV as if it were a microphone: real-time paced, or as fast as the consumer takes it.

    The file is streamed from disk (a 30-minute recording costs no more memory than
    a short one). After it, ``tail_s`` of silence follows so the VAD can close the
    last utterance.
    """

    kind = "file"

    def __init__(self, path: str, fast: bool = False, tail_s: float = 1.0) -> None:
        self.path = path
        self.name = f"file:{Path(path).name}"
        self._wav = wave.open(str(path), "rb")
        self.rate = self._wav.getframerate()
        self.channels = self._wav.getnchannels()
        self._width = self._wav.getsampwidth()
        if self._width not in (1, 2, 3, 4):
            raise ValueError(f"{path}: {self._width * 8}-bit samples are not supported")
        self.frames_in_file = self._wav.getnframes()
        self.fast = fast
        self.framer = Framer(self.rate)
        self._pos = 0
        self._tail_n = int(self.rate * tail_s)
        self._block = max(1, self.rate // 50)
        self._t0 = time.monotonic_ns()
        self._held_since = 0  # hold(): the clock stops, so a held file loses nothing when it resumes
        self._emitted = 0  # output samples handed out
        self.raw_dropped = 0
        self.done = False

    def _total(self) -> int:
        return self.frames_in_file + self._tail_n

    def _take(self, n: int) -> np.ndarray:
        """Next ``n`` input frames as float32 mono (file, then the silent tail)."""
        n = min(n, self._total() - self._pos)
        parts: list[np.ndarray] = []
        if self._pos < self.frames_in_file:
            want = min(n, self.frames_in_file - self._pos)
            part = _decode(self._wav.readframes(want), self._width, self.channels, self.path)
            if len(part) < want:  # truncated file: its end is where the data ends
                self.frames_in_file = self._pos + len(part)
            parts.append(to_mono_float(part))
            self._pos += len(part)
        pad = min(n - sum(len(x) for x in parts), self._total() - self._pos)
        if pad > 0:
            parts.append(np.zeros(pad, dtype=np.float32))
            self._pos += pad
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def read(self, max_frames: int | None = None) -> Frames:
        """Frames due now (real time) or up to ``max_frames`` (fast mode)."""
        if self.done:
            return []
        if self._held_since:  # the time it was held is not due: the file resumes where it stopped
            self._t0 += time.monotonic_ns() - self._held_since
            self._held_since = 0
        if self.fast:
            want_in = (max_frames or 50) * self._block
        else:
            elapsed = (time.monotonic_ns() - self._t0) / 1e9
            want_in = int(elapsed * self.rate) - self._pos
        if want_in <= 0:
            return []
        block = self._take(want_in)
        last = self._pos >= self._total()
        frames = self.framer.feed(block, last=last)
        if last:
            self.done = True
        out: Frames = []
        for f in frames:
            if self.fast:
                t = time.monotonic_ns()
            else:
                t = self._t0 + self._emitted * 1_000_000_000 // OUT_RATE
            self._emitted += len(f)
            out.append((f, t))
        return out

    def hold(self) -> None:
        """Stop the real-time clock until the next read (the file waits; nothing is due meanwhile)."""
        if not self._held_since:
            self._held_since = time.monotonic_ns()

    @property
    def alive(self) -> bool:
        return True

    @property
    def finished(self) -> bool:
        return self.done

    def close(self) -> None:
        self._wav.close()
