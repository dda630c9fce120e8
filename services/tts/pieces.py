"""How tts cuts one clean sentence into synthesis pieces, so the first audio comes out sooner.

Why in tts and not with the brain's segmenter: the brain decides what a sentence is
(and the reply's first piece may end one clause in); these cuts are below that, for
engines that compute a whole piece at once, and the sentence is still one ``pcm``
text to playback. Piper speaks a long sentence's first clause first (:func:`clauses`);
Kokoro speaks in pieces that grow from a short head (:func:`growing_pieces`).
"""

from __future__ import annotations

import re

from shared.phrasing import leans_on_next

_CLAUSE = re.compile(r"(?<=[,;:])\s+")


def clauses(text: str, min_words: int = 3) -> list[str]:
    """Split a long sentence at , ; : into pieces of at least ``min_words`` words.

    Piper needs time in proportion to the text, so synthesizing the first clause
    alone gets the first audio out sooner; the rest is ready long before it is due.
    """
    parts = _CLAUSE.split(text)
    out: list[str] = []
    for part in parts:
        if out and (len(out[-1].split()) < min_words or len(part.split()) < min_words):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def first_piece(text: str, max_words: int = 4, min_rest: int = 3) -> tuple[str, str]:
    """Split off a short head so a voice without streaming can start speaking sooner.

    Why: Kokoro computes a whole piece at once, in time proportional to its length, so
    a long first piece delays the first audio. The head ends at the first punctuation
    within ``max_words`` words, or after ``max_words`` words; a short text stays whole.
    """
    words = text.split()
    if len(words) <= max_words + min_rest:
        return text, ""
    cut = max_words
    for i, w in enumerate(words[:max_words]):
        if w[-1:] in ",;:":
            cut = i + 1
            break
    return " ".join(words[:cut]), " ".join(words[cut:])


def growing_pieces(text: str, head_words: int = 2) -> list[str]:
    """``text`` in pieces that grow: ``head_words`` words (or to a comma), then twice as many, and so on.

    Why (Kokoro): a piece's audio exists only once the whole piece is computed, in time
    proportional to its length, so the first audio waits for the first piece; each
    next piece is about twice the audio already queued, so a CPU that computes faster
    than real time has it ready before what plays ends. ``head_words=0`` is the
    single 4-word head of before: on bench_pt_voice's 20 sentences, turn about at
    load 5-8, first chunk p50 2.9 s against 5.3 s, round-trip WER 0.194 against
    0.206 (a 3-word head: 4.0 s, 0.176). A piece never ends on an article or a
    preposition, which would be said with a pause before its noun.
    """
    if not head_words:
        return [p for p in first_piece(text) if p]
    out: list[str] = []
    n, rest = head_words, text
    while rest:
        head, rest = first_piece(rest, max_words=n, min_rest=max(2, n // 2))
        while rest and leans_on_next(head.split()[-1]):  # "consulta no" | "BigQuery": not there
            word, _, rest = rest.partition(" ")
            head = f"{head} {word}"
        out.append(head)
        n *= 2
    return out
