"""Stop a reply that loops or runs long, and end it at a sentence boundary.

Why: small local models (SmolLM2-135M above all, but any model at a bad
temperature) fall into loops ("o que tem é o que tem é o que tem...") and keep
going until ``max_tokens``; read aloud, that is a minute of noise the user can
only stop with Esc. And even a good reply is too long to *listen* to when it
runs past a few sentences. Sampling settings (repeat penalty, see
:mod:`.providers.llama_settings`) make loops rarer; this guard is the net under them,
for every provider.

:class:`LoopGuard` sees the reply as it streams, passes every chunk through at
once (holding text back would delay the first spoken clause), and says *stop*:

* **loop**: a word n-gram (:data:`LOOP_N` words) comes back within a few words
  (:data:`LOOP_GAP`) or :data:`LOOP_REPEATS` times, or a whole sentence repeats one
  already said. The repeated part has
  started to stream, so :meth:`LoopGuard.clean` gives the text cut back to the
  last sentence that ended before the loop began: that is what history keeps and
  the UI shows at the end, and :meth:`LoopGuard.spoken_cut` tells the speech side
  to drop its unfinished sentence instead of speaking it.
* **length** (chat only): :data:`MAX_SENTENCES` sentences or :data:`MAX_CHARS`
  characters of prose, checked at sentence ends, so the cut is always clean. A
  sentence that never ends is cut at :data:`HARD_CHARS`.

Code inside ``` fences is not checked for loops (code repeats itself legitimately)
and does not count towards the spoken length: it is shown, not spoken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.brain.speech.segmenter import SENTENCE_END as _END

#: Words per n-gram for the loop check. A 4-gram is a loop when it comes back within
#: :data:`LOOP_GAP` words of its last start ("o que tem é o que tem é" is caught at its 8th
#: word, "Eu não este emo, e aí. Eu não este emo" at its 10th), or :data:`LOOP_REPEATS` times
#: anywhere. Why not "twice anywhere": ordinary replies do say "você pode usar o" twice,
#: sentences apart; a whole sentence said again is caught by the sentence check instead.
LOOP_N = 4
LOOP_GAP = 6
LOOP_REPEATS = 3
#: Spoken-length cap for chat: Piper speaks about 14 characters a second, so 420 characters
#: are about 30 s, and 4 sentences are what a person listens to before wanting to reply.
MAX_SENTENCES = 4
MAX_CHARS = 420
#: A single sentence without an end is cut here (at a word boundary) however it goes on.
HARD_CHARS = 600

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Verdict:
    stop: bool = False
    reason: str = ""  # "loop" | "length" | ""


def _norm(word: str) -> str:
    return word.lower()


class LoopGuard:
    """Watch one reply; ``feed`` each chunk, stop the stream when it returns ``stop``."""

    def __init__(self, intent: str = "chat", max_sentences: int = MAX_SENTENCES, max_chars: int = MAX_CHARS) -> None:
        self.intent = intent
        self.cap = intent == "chat"
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self.text = ""
        self.reason = ""
        self._counts: dict[tuple[str, ...], int] = {}
        self._last: dict[tuple[str, ...], int] = {}  # word index where each n-gram last started
        self._words: list[str] = []
        self._word_offsets: list[int] = []
        self._cap_at = -1  # offset just after the sentence that reached the length cap
        self._scanned = 0  # prose characters of self.text already split into words
        self._sentences: list[str] = []  # normalised finished prose sentences
        self._sentence_ends: list[int] = []  # offsets in self.text just after each finished sentence
        self._loop_at = -1  # offset in self.text where the looping part started
        self._sent_start = 0
        self._pos = 0  # characters of self.text already split into prose and code
        self._in_code = False
        self._prose_parts: list[str] = []
        self._offsets: list[int] = []

    # -- feeding ----------------------------------------------------------------------
    def feed(self, chunk: str) -> Verdict:
        if self.reason:
            return Verdict(True, self.reason)
        self.text += chunk
        prose, offsets = self._prose()
        # words: only those followed by a non-word char are complete
        while True:
            m = _WORD.search(prose, self._scanned)
            if m is None or m.end() == len(prose):
                break
            self._scanned = m.end()
            if self._add_word(_norm(m.group(0)), offsets[m.start()]):
                return self._stop("loop")
        for m in _END.finditer(prose, self._sent_start):
            end = m.end()
            sentence = " ".join(_WORD.findall(prose[self._sent_start:end])).lower()
            self._sent_start = end
            if not sentence:
                continue
            at = offsets[end - 1] + 1
            if len(sentence.split()) >= 3 and sentence in self._sentences:
                self._loop_at = self._sentence_ends[-1] if self._sentence_ends else 0
                return self._stop("loop")
            self._sentences.append(sentence)
            self._sentence_ends.append(at)
            if self.cap and self._cap_at < 0 and (len(self._sentences) >= self.max_sentences
                                                  or len(prose[:end].strip()) >= self.max_chars):
                self._cap_at = at
        if self._cap_at >= 0 and self.text[self._cap_at:].strip():
            return self._stop("length")  # the reply goes on past the cap: end it at that sentence
        if self.cap and len(prose) - self._sent_start > HARD_CHARS:
            self._cap_at = -1
            return self._stop("length")
        return Verdict()

    def _stop(self, reason: str) -> Verdict:
        self.reason = reason
        return Verdict(True, reason)

    def _add_word(self, word: str, at: int) -> bool:
        """Count the n-gram this word completes; True when it is the loop's last straw."""
        self._words.append(word)
        self._word_offsets.append(at)
        if len(self._words) < LOOP_N:
            return False
        gram = tuple(self._words[-LOOP_N:])
        n = self._counts.get(gram, 0) + 1
        self._counts[gram] = n
        here = len(self._words) - LOOP_N
        last = self._last.get(gram)
        self._last[gram] = here
        if n >= LOOP_REPEATS or (last is not None and here - last <= LOOP_GAP):
            # the loop began where this n-gram first occurred again: its first word now
            start = self._word_offsets[-LOOP_N]
            self._loop_at = start
            return True
        return False

    def _prose(self) -> tuple[str, list[int]]:
        """The reply without fenced code, and each prose character's offset in ``self.text``.

        Built incrementally (a long code reply must not cost a rescan per token); trailing
        backticks wait for the next chunk, since they may open or close a fence.
        """
        text = self.text
        pos = self._pos
        while True:
            fence = text.find("```", pos)
            if fence < 0:
                end = len(text)
                while end > pos and end > len(text) - 2 and text[end - 1] == "`":
                    end -= 1
                if not self._in_code:
                    self._prose_parts.append(text[pos:end])
                    self._offsets.extend(range(pos, end))
                pos = end
                break
            if not self._in_code:
                self._prose_parts.append(text[pos:fence])
                self._offsets.extend(range(pos, fence))
            self._in_code = not self._in_code
            if not self._in_code:  # a closed block stands for a sentence break in the prose
                self._prose_parts.append("\n")
                self._offsets.append(fence)
            pos = fence + 3
        self._pos = pos
        if len(self._prose_parts) > 1:
            self._prose_parts[:] = ["".join(self._prose_parts)]
        return (self._prose_parts[0] if self._prose_parts else ""), self._offsets

    # -- the result ---------------------------------------------------------------------
    def clean(self) -> str:
        """The reply as it should be kept: cut at the last sentence end before a loop or the cap."""
        if not self.reason:
            return self.text
        if self.reason == "length":
            if self._cap_at >= 0:
                return self.text[: self._cap_at].rstrip()
            if self._sentence_ends:
                return self.text[: self._sentence_ends[-1]].rstrip()
        limit = self._loop_at if self._loop_at >= 0 else len(self.text)
        ends = [e for e in self._sentence_ends if e <= limit]
        if ends:
            return self.text[: ends[-1]].rstrip()
        # no sentence ended before the loop: keep up to the loop's start, at a word boundary
        head = self.text[:limit].rstrip()
        cut = head.rfind(" ")
        return (head if cut < 0 else head[:cut]).rstrip(" ,;:-") + ("…" if head else "")

    def spoken_cut(self) -> bool:
        """True when the unfinished sentence (if any) must not be spoken: it is part of a loop or past the cap."""
        return bool(self.reason)


def distinct_ngram_ratio(text: str, n: int = 3) -> float:
    """Distinct word n-grams over all n-grams (1.0 = no repeats); the quality set's degeneracy score."""
    words = [w.lower() for w in _WORD.findall(text)]
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 1.0
    return len(set(grams)) / len(grams)
