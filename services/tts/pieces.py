"""How tts cuts one clean sentence into synthesis pieces, so the first audio comes out sooner.

Why in tts and not with the brain's segmenter: the brain decides what a sentence is
(and the reply's first piece may end one clause in); these cuts are below that, for
engines that compute a whole piece at once, and the sentence is still one ``pcm``
text to playback. Piper speaks a long sentence's first clause first (:func:`clauses`);
Kokoro speaks in pieces that grow from a short head (:func:`growing_pieces`), as short as
the audio already queued requires (:class:`Pacer`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

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


def growing_pieces(text: str, head_words: int = 1) -> list[str]:
    """``text`` in pieces that grow: ``head_words`` words (or to a comma), then twice as many, and so on.

    Why (Kokoro): a piece's audio exists only once the whole piece is computed, in time
    proportional to its length, so the first audio waits for the first piece; each
    next piece is about twice the audio already queued, so a CPU that computes faster
    than real time has it ready before what plays ends. ``head_words=0`` is the
    single 4-word head of before: on bench_pt_voice's 20 sentences, turn about at
    load 5-8, first chunk p50 2.9 s against 5.3 s, round-trip WER 0.194 against
    0.206 (a 3-word head: 4.0 s, 0.176). A head of one word, idle 2-core AMD EPYC, 40
    heads turn about: 281 ms p50 (p95 374) against 351 ms (p95 506) for two words, at a
    round-trip WER of 0.224 against 0.182 (20 sentences; each cut is one more join).
    :class:`Pacer` gives a longer head where audio is already queued. A piece never
    ends on an article or a preposition, which would be said with a pause before its noun.
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


#: What each word past the first adds to a piece's render time, as a share of a one-word
#: piece's: Kokoro pays its opening and closing pauses and its front end once per piece.
#: Measured on bench_pt_voice's sentences (idle 2-core AMD EPYC, /tmp runs): one word 281 ms
#: p50, two words 351 ms; "Escreva" 234 ms, "Escreva uma consulta" 379 ms.
WORD_SHARE = 0.3


class Pacer:
    """How many words the next text's head may have: as many as render before the audio already
    handed out has played, so the first audio of a reply comes after one word's render and
    later sentences are not cut into one-word pieces they do not need.

    Why in the engine and from its own clock: the audio is played as it is handed out
    (tts pushes each chunk at once), so what is queued is what was rendered less what
    the time since has played; no other service has to say it. A one-word head on
    every sentence cut "é a capital da França?" into "é" | "a capital" | "da França?",
    each said with its own intonation. ``one_word_s`` learns this CPU's speed from each
    piece rendered, so a slower machine gets shorter heads.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, longest: int = 8) -> None:
        self.clock = clock
        self.longest = longest
        self.ahead_until = 0.0
        self.one_word_s: float | None = None

    def queued_s(self) -> float:
        return max(0.0, self.ahead_until - self.clock())

    def head_words(self) -> int:
        queued = self.queued_s()
        if self.one_word_s is None or queued <= self.one_word_s:
            return 1
        return min(self.longest, 1 + int((queued - self.one_word_s) / (WORD_SHARE * self.one_word_s)))

    def rendered(self, words: int, render_s: float, audio_s: float) -> None:
        """A piece of ``words`` words took ``render_s`` to render and plays for ``audio_s``."""
        one = render_s / (1 + WORD_SHARE * max(0, words - 1))
        self.one_word_s = one if self.one_word_s is None else 0.7 * self.one_word_s + 0.3 * one
        self.ahead_until = max(self.clock(), self.ahead_until) + audio_s
