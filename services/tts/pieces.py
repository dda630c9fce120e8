"""How tts cuts one clean sentence into synthesis pieces, so the first audio comes out sooner.

Why in tts and not with the brain's segmenter: the brain decides what a sentence is
(and the reply's first piece may end one clause in); these cuts are below that, for
engines that compute a whole piece at once, and the sentence is still one ``pcm``
text to playback. Piper speaks a long sentence's first clause first (:func:`clauses`);
Kokoro keeps its first piece short (:func:`first_piece`).
"""

from __future__ import annotations

import re

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
