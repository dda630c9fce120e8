"""The reply's token stream -> speakable pieces, each handed to tts as soon as it is certain.

Tokens arrive in arbitrary pieces; tts wants whole sentences as early as possible.
:class:`Segmenter` buffers text and returns each sentence as soon as its end is certain
(a terminator followed by whitespace, or any line break: lists and headings), so the
first sentence is spoken while the model still writes the rest; the reply's first piece
may end one clause in, or after its first few words.

Fenced code blocks (```) are never spoken: the first one in a reply becomes
:func:`.clean.code_notice` in the user's language, later ones are silent. Every piece
goes through :func:`.clean.for_speech`; pieces with nothing to say vanish.
"""

from __future__ import annotations

import re

from services.brain.speech.clean import code_notice, for_speech, has_words
from shared.phrasing import leans_on_next

#: A sentence ends at . ! ? … (and runs of them, with closing quotes/brackets) followed by whitespace,
#: or at a line break; the loop guard counts sentences by the same rule.
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n")
#: Words whose dot does not end a sentence.
_ABBREV = {"sr", "sra", "srta", "dr", "dra", "prof", "profa", "etc", "ex", "vs", "p", "pag", "mr", "mrs", "ms",
           "st", "e.g", "i.e", "obs", "num", "tel", "av", "no", "nº"}
#: Force a cut at a comma or space when a sentence grows past this (a list with no dots).
MAX_CHARS = 280
#: The reply's first piece may end at a clause (", " "; " ": ") once it has this many characters:
#: the first audio then starts one clause in instead of one sentence in (small models write long
#: first sentences), and Piper speaks a clause as naturally as a sentence.
FIRST_CLAUSE_MIN = 10
FIRST_MAX_CHARS = 90
#: ...or once it has this many whole words (never ending on one said with the next: "A capital da"
#: waits for "França"). Why: the first audio waited for the model's whole first clause, 0.9 s
#: p50 of decoding on the Portuguese TTFA bench ("A aia tem cerca de 80.476 espátas." is 17
#: tokens). Why two and not three: Kokoro renders a piece of up to four words whole
#: (services/tts/pieces.py growing_pieces), so "A capital da França" was one 0.8 s render
#: before any audio, where "A capital" is 0.5 s and its words come a token or two sooner;
#: the rest of the sentence renders while it plays. Portuguese TTFA bench, same machine, quiet:
#: p50 1.640 s with three words, 1.215 s with two (held replies ready at the commit: 5 -> 8 of 12).
#: Why one: Kokoro renders one word in 281 ms p50 against 351 ms for two, and the word is whole
#: a token sooner; the rest of the first sentence follows at once, in pieces as long as the
#: word's audio covers (services/tts/pieces.py Pacer). Portuguese TTFA bench, idle 2-core AMD
#: EPYC, every piece read by Kokoro: p50 1.182 s with one word, 1.294 s with two; a second run
#: with one word gave 1.250 s, so the gain (about 0.1 s) is within this bench's run-to-run spread.
#: Words said with the next still wait ("A capital", "O maior"), as does a title ("O Dr.").
FIRST_WORDS = 1
_CLAUSE = re.compile(r"[,;:](?=\s)|\s[–—-](?=\s)")
_WHOLE_WORD = re.compile(r"\S+(?=\s)")


def _closed(text: str) -> bool:
    """No markdown link, bracket or inline code is still open: "See [the" | "docs](url)" would reach
    the voice as brackets and a bare URL, since each piece is cleaned for speech on its own."""
    return text.count("[") <= text.count("]") and text.count("(") <= text.count(")") and text.count("`") % 2 == 0


class Segmenter:
    def __init__(self, lang: str = "pt") -> None:
        self.lang = lang
        self.buf = ""
        self.in_code = False
        self.code_announced = False
        self._pending_fence = ""
        self.emitted = 0  # pieces handed to TTS so far in this reply

    def feed(self, chunk: str) -> list[str]:
        """Add streamed text; return the sentences completed by it (already cleaned for speech)."""
        self.buf += chunk
        return self._drain(final=False)

    def drop(self) -> None:
        """Forget the unfinished sentence: the reply was cut (loop guard) and it must not be spoken."""
        self.buf = ""
        self._pending_fence = ""

    def flush(self) -> list[str]:
        """End of reply: whatever is left is the last sentence."""
        out = self._drain(final=True)
        rest, self.buf = self.buf, ""
        if not self.in_code:
            out += self._clean(rest)
        self.in_code = False
        return out

    # -- internals -------------------------------------------------------------------
    def _clean(self, text: str) -> list[str]:
        # Dropped only when nothing is left to say: a one-character piece is a word ("É", the "2"
        # of "2 mais 2 é 4", a reply of just "4"), and the first piece ends after one word.
        s = for_speech(text)
        if not s:
            return []
        self.emitted += 1
        return [s]

    def _drain(self, final: bool) -> list[str]:
        out: list[str] = []
        while True:
            fence = self.buf.find("```")
            if self.in_code:
                if fence < 0:
                    # keep only a possible partial fence at the end; code is not spoken
                    self.buf = self.buf[-2:] if not final else ""
                    return out
                self.buf = self.buf[fence + 3:]
                self.in_code = False
                continue
            text = self.buf if fence < 0 else self.buf[:fence]
            cut = self._find_cut(text, final=fence >= 0 or final)
            if cut is None and fence < 0 and not final and self.emitted == 0:
                cut = self._first_clause(text)
            if fence >= 0:
                # everything before the fence is complete text
                out += [s for part in self._split_all(text) for s in self._clean(part)]
                if not self.code_announced:
                    self.code_announced = True
                    out.append(code_notice(self.lang))
                self.buf = self.buf[fence + 3:]
                self.in_code = True
                continue
            if cut is None or (not final and not text[cut:].strip()):
                # wait for more: no sentence end yet, or nothing after it so far (then it may be the last
                # sentence, which flush() returns so that it is marked final); the next token is ms away
                return out
            out += self._clean(text[:cut])
            self.buf = text[cut:]

    def _split_all(self, text: str) -> list[str]:
        parts = []
        while True:
            cut = self._find_cut(text, final=False)
            if cut is None:
                parts.append(text)
                return parts
            parts.append(text[:cut])
            text = text[cut:]

    def _first_clause(self, text: str) -> int | None:
        """Where the reply's first piece may end early: a clause break, else the end of FIRST_WORDS
        whole words (not on a title: "O Dr." waits for "Silva"), else a space past FIRST_MAX_CHARS.
        Streamed a token at a time, the words are usually whole before any clause break shows up;
        a clause already in the buffer wins."""
        for m in _CLAUSE.finditer(text):
            if m.end() >= FIRST_CLAUSE_MIN and has_words(text[:m.end()]) and text[m.end():].strip():
                return m.end()
        for i, m in enumerate(_WHOLE_WORD.finditer(text), 1):
            word = m.group(0)
            if i >= FIRST_WORDS and not leans_on_next(word) and word.rstrip(".").lower() not in _ABBREV \
                    and _closed(text[:m.end()]) and has_words(text[:m.end()]):
                return m.end()
        if len(text) > FIRST_MAX_CHARS:
            pos = text.rfind(" ", 0, FIRST_MAX_CHARS)
            return pos + 1 if pos > FIRST_CLAUSE_MIN else None
        return None

    def _find_cut(self, text: str, final: bool) -> int | None:
        for m in SENTENCE_END.finditer(text):
            end = m.end()
            if m.group(0)[:1] == ".":
                word = re.search(r"([\w.º]+)\.+$", text[: m.start() + 1])
                if word and word.group(1).lower() in _ABBREV:
                    continue
                if re.search(r"\d\.$", text[: m.start() + 1]) and len(text) > end and text[end:end + 2].strip()[:1].isdigit():
                    continue
            if has_words(text[:end]):
                return end
        if len(text) > MAX_CHARS:
            window = text[:MAX_CHARS]
            pos = max(window.rfind(", "), window.rfind("; "))
            if pos < MAX_CHARS // 3:
                pos = window.rfind(" ")
            return (pos + 1) if pos > 0 else MAX_CHARS
        return None


def speakable(text: str, lang: str = "pt") -> str:
    """A whole reply -> what the voice says, as one line: the pieces the segmenter hands tts, joined.

    For a reply that does not stream (Luna's own answers: a slash-command typo, a missing
    image; the bench), so it is spoken by the same rules as a model's.
    """
    seg = Segmenter(lang)
    return " ".join(seg.feed(text) + seg.flush())
