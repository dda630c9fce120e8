"""Whisper on a 10 s encoder window for a short utterance, instead of 30 s of mostly padding.

Why: faster-whisper pads every input to 30 s (3000 mel frames), so the encoder costs
the same for "oi Luna" as for half a minute, and on this 2-core CPU the multilingual
base took 0.94 s per Portuguese question, most of stt's share of time to first audio.
CTranslate2 accepts fewer frames (whisper.cpp calls the same idea ``audio_ctx``).
Measured on the 20-utterance Portuguese set of ``python -m bench bench_pt_voice``
(/tmp runs, quiet machine): 3000 frames WER 0.312 at 938 ms p50; 1000 frames (10 s)
WER 0.318 at 303 ms; windows that hug the speech (speech + 1-2 s) are faster still
but the decoder no longer knows where to stop ("Qual é a capital da França? Qual é a
capital da França? Qual é…", WER 0.36-0.45). So the window is a fixed bucket with at
least ``MIN_PAD_S`` of silence after the speech, never the speech's own length, and a
lone word or two gets 20 s (``SHORT_SPEECH_S``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: mel frames per second (hop 160 at 16 kHz)
FRAMES_PER_S = 100
#: encoder windows tried in order; 3000 is Whisper's own 30 s
BUCKETS = (1000, 2000, 3000)
#: silence the window keeps after the speech, so the decoder hears the end
MIN_PAD_S = 2.0
#: speech shorter than this gets at least the 20 s window: in 10 s a lone word repeats
#: ("Thanks Thanks Thanks", "No? No?", and Luna's own "Hello," through the speaker heard
#: as "Hello? Hello?", which the echo filter no longer matched); in 20 s or 30 s it is
#: "Thanks." and "Hello?"
SHORT_SPEECH_S = 2.0


def window_frames(speech_frames: int) -> int | None:
    """The encoder window for ``speech_frames`` of audio; None when only the full 30 s fits."""
    need = speech_frames + int(MIN_PAD_S * FRAMES_PER_S)
    if speech_frames < SHORT_SPEECH_S * FRAMES_PER_S:
        need = max(need, BUCKETS[1])
    for b in BUCKETS[:-1]:
        if need <= b:
            return b
    return None


def fit(features: np.ndarray, frames: int) -> np.ndarray:
    """``features`` (80 x n) cut or zero-padded to ``frames`` columns, as pad_or_trim does for 3000."""
    n = features.shape[-1]
    if n >= frames:
        return features[:, :frames]
    return np.pad(features, ((0, 0), (0, frames - n)))


def transcribe_short(model: Any, audio: np.ndarray, language: str, max_new_tokens: int) -> str | None:
    """Greedy, no timestamps, no previous text: the same decoding LocalWhisper asks of
    faster-whisper, on a shorter window. None when the audio needs the full 30 s (the
    caller then uses faster-whisper's own path)."""
    import ctranslate2
    from faster_whisper.tokenizer import Tokenizer

    feats = model.feature_extractor(audio)
    frames = window_frames(feats.shape[-1])
    if frames is None:
        return None
    tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    prompt = [tok.sot, tok.language, tok.transcribe, tok.no_timestamps] if model.model.is_multilingual \
        else [tok.sot, tok.no_timestamps]
    x = ctranslate2.StorageView.from_array(np.ascontiguousarray(fit(feats, frames)[None], dtype=np.float32))
    out = model.model.generate(x, [prompt], beam_size=1, max_length=len(prompt) + max_new_tokens,
                               suppress_blank=True, suppress_tokens=[-1])
    return tok.decode([t for t in out[0].sequences_ids[0] if t < tok.eot]).strip()
