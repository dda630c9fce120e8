"""Where playback audio goes: one persistent sound-card stream, a WAV file, or nowhere (no device).

Opening an output stream costs seconds on PulseAudio, so the device stream is
opened once and kept; it plays silence between sentences.
"""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable
from typing import Any

import numpy as np

from services.playback.player import Player
from shared.audiodev import find_device
from shared.sampleclock import SampleClock

BLOCK_S = 0.02

#: Called on the audio thread with (a copy of the block handed to the device, device time of
#: its first sample in monotonic ns) for blocks that carry Luna's audio: the AEC reference.
Tap = Callable[[np.ndarray, int], None]


def find_output_device(spec: str, sd: Any) -> tuple[int, dict[str, Any]]:
    """Resolve PLAYBACK_DEVICE (empty, an index, or part of a name) to (index, info)."""
    return find_device(spec, sd, "output")


class DeviceSink:
    kind = "device"

    def __init__(self, player: Player, spec: str) -> None:
        import sounddevice as sd

        self.player = player
        self.index, info = find_output_device(spec, sd)
        self.name = str(info.get("name"))
        self.rate = int(info.get("default_samplerate") or 48000)
        self.latency_s = 0.0
        self.tap: Tap | None = None
        # the tap stamps on a steady sample clock that follows PortAudio's DAC times (the echo
        # canceller's delay estimate must not move with the jitter of each callback's stamp)
        self._clock = SampleClock(self.rate)
        self._buf = np.zeros(0, dtype=np.int16)
        self.stream = sd.OutputStream(device=self.index, samplerate=self.rate, channels=1, dtype="int16",
                                      blocksize=int(self.rate * BLOCK_S), latency="low", callback=self._callback)
        self.stream.start()
        self.latency_s = float(self.stream.latency)

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if len(self._buf) != frames:
            self._buf = np.zeros(frames, dtype=np.int16)
        got = self.player.fill(self._buf)
        outdata[:, 0] = self._buf
        if self.tap is not None:
            now = time.monotonic_ns()
            try:  # when the first sample of this block reaches the DAC, as PortAudio sees it
                ahead = time_info.outputBufferDacTime - time_info.currentTime
            except Exception:
                ahead = -1.0
            if not 0.0 <= ahead < 5.0:
                ahead = self.latency_s
            t = self._clock.stamp(now + int(ahead * 1e9), frames)
            if got:
                self.tap(self._buf.copy(), t)

    @property
    def alive(self) -> bool:
        return bool(self.stream.active) and not self.stream.closed

    def close(self) -> None:
        try:
            self.stream.abort()
            self.stream.close()
        except Exception:
            pass


class ClockSink:
    """Plays at real time against the monotonic clock; writes the audio to a WAV if a path is given.

    Used for PLAYBACK_FILE (tests, debugging) and when there is no output device, so
    ``speaking``/``idle`` keep their meaning either way. Only blocks that carry audio
    are written, so the file holds what Luna said, without the silences between turns.
    """

    def __init__(self, player: Player, path: str = "", rate: int = 22050) -> None:
        self.player = player
        self.path = path
        self.rate = rate
        self.kind = "file" if path else "none"
        self.name = f"file:{path}" if path else "none"
        self.latency_s = 0.0
        self.tap: Tap | None = None
        self._wav: wave.Wave_write | None = None
        if path:
            self._wav = wave.open(path, "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(rate)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="playback-clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        n = int(self.rate * BLOCK_S)
        buf = np.zeros(n, dtype=np.int16)
        t_next = time.monotonic()
        while not self._stop.is_set():
            t_block = int(t_next * 1e9)  # the clock's own schedule: continuous while it keeps up
            got = self.player.fill(buf)
            if got and self.tap is not None:
                self.tap(buf.copy(), t_block)
            if got and self._wav is not None:
                self._wav.writeframes(buf[:got].tobytes())
                self._flush()
            t_next += BLOCK_S
            delay = t_next - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                t_next = time.monotonic()

    def _flush(self) -> None:
        # keep the header valid while we run, so a test can read the file at any time
        w = self._wav
        if w is not None:
            w._patchheader()  # type: ignore[attr-defined]
            w._file.flush()  # type: ignore[attr-defined]

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        if self._wav is not None:
            self._wav.close()
            self._wav = None
