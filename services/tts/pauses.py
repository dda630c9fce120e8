"""Silences inside a rendered piece, shortened to what a speaker would leave there.

Why: the packaged Kokoro-82M int8 pauses where no speaker would. On a 2-core AMD EPYC
with AVX-512 VNNI, 6 of bench_pt_voice's 20 sentences in Luna's style (jf_gongitsune) had
a gap of 500 ms or more that Silero calls non-speech. The gaps fall mid-phrase: "eu não | entendi
a sua pergunta" (608 ms), "O modelo do dbt | falhou" (608 ms), "no Power BI | com as vendas"
(576 ms). A listener hears Luna stop in the middle of a sentence, and when the same voice
asks the bench's and tests' questions, the VAD's 500 ms window ends the speaker's turn
there. A speaker's pause at a comma is about 150-250 ms and stays; Kokoro's own comma
pauses (580 ms after "Paris," in "A capital da França é Paris, uma cidade linda.") are cut too.
Pure functions over samples, tested without an engine (tests/unit/tts/test_pauses.py).
"""

from __future__ import annotations

import numpy as np

#: The longest silence kept inside a piece (a speaker's pause at a comma is about 150-250 ms).
MAX_PAUSE_S = 0.25
#: A 10 ms frame whose loudest sample is below this (about -40 dBFS) is silent.
SILENT_PEAK = 0.01
FRAME_S = 0.01


def cap_pauses(audio: np.ndarray, rate: int, max_s: float = MAX_PAUSE_S, floor: float = SILENT_PEAK) -> np.ndarray:
    """``audio`` (float in [-1, 1]) with every inner run of silent frames longer than ``max_s``
    cut to ``max_s``: its first and last halves are kept, so the words on each side keep their
    own fade. Silence at the edges is left alone (the caller trims it)."""
    frame = max(1, int(FRAME_S * rate))
    n = len(audio) // frame
    if n < 3:
        return audio
    silent = np.abs(audio[: n * frame]).reshape(n, frame).max(axis=1) < floor
    edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
    keep = max(2, int(round(max_s / FRAME_S)))
    half = keep // 2
    drop = [((i + half) * frame, (j - (keep - half)) * frame)
            for i, j in zip(edges[::2], edges[1::2], strict=True)
            if i > 0 and j < n and j - i > keep]  # inner runs only: voice on both sides
    if not drop:
        return audio
    cuts = np.concatenate([[0], np.ravel(drop), [len(audio)]])
    return np.concatenate([audio[a:b] for a, b in zip(cuts[::2], cuts[1::2], strict=True)])
