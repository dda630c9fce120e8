"""Luna never addresses the user by her own name: "Olá, Luna!" becomes "Olá!".

Why: the offline 0.5B model, given a misheard question, greets the user with the
assistant's name ("Olá, Luna! Como posso ajudar?", 10 of 12 replies on the Portuguese
TTFA bench's misheard questions with the earlier soul), and once one reply in the
history does, the next ones copy it. The soul no longer primes it (services/brain/soul.py);
this is the net under it, for every provider, as the loop guard is for loops.

Only the name used as a vocative goes: next to a comma or a greeting and before a
punctuation mark ("Estou bem, Luna." "Luna, você está bem!" "Oi Luna!"). "Eu sou a
Luna" and "a Luna, sua assistente" stay. The filter streams: it holds back only a
tail that may still become a vocative (a comma, ", Lu"), so the first clause is
neither delayed nor spoken twice.
"""

from __future__ import annotations

import re

NAME = "Luna"
#: The reply opens with the name as a vocative: "Luna, ..." / "Luna! ...".
_OPENING = re.compile(rf"^(\s*){NAME}[,!]\s*", re.IGNORECASE)
#: The name after a comma, before punctuation: "Estou bem, Luna." "Claro, Luna, ..."
_AFTER_COMMA = re.compile(rf",\s*{NAME}(?=[.!?,;:])", re.IGNORECASE)
#: Words that greet or call out before a name.
GREETINGS = ("olá", "ola", "oi", "ei", "ô", "hey", "hi", "hello")
#: A greeting then the name: "Oi Luna!" "Olá, Luna." "Hey Luna,".
_GREETING = re.compile(rf"\b({'|'.join(GREETINGS)}),?\s+{NAME}(?=[.!?,;:])", re.IGNORECASE)
#: A tail that may still turn into one of the above once the next characters arrive.
_MAYBE = re.compile(rf"(?:,\s*|\b(?:{'|'.join(GREETINGS)}),?\s*)(?:L(?:u(?:n(?:a)?)?)?)?$", re.IGNORECASE)
_LAST_WORD = re.compile(r"\b\w+$")


def _held_tail(text: str) -> int:
    """How many characters at the end of ``text`` may still become a vocative."""
    m = _MAYBE.search(text)
    if m:
        return len(text) - m.start()
    if text.lower().endswith(NAME.lower()):  # "... a Luna": the next character says whether "," or "!" follows
        return len(NAME)
    w = _LAST_WORD.search(text)  # half a greeting ("O" of "Oi", "Hel" of "Hello")
    if w and any(g.startswith(w.group(0).lower()) for g in GREETINGS):
        return len(w.group(0))
    return 0


class SelfAddress:
    """Streams a reply's text with the assistant's name dropped where it addresses the user."""

    def __init__(self) -> None:
        self.buf = ""
        self.started = False  # something other than whitespace was let through
        self.removed = 0  # vocatives dropped in this reply (the brain counts them)

    def feed(self, chunk: str) -> str:
        """Text that is safe to show and speak now."""
        self.buf += chunk
        return self._release(final=False)

    def flush(self) -> str:
        """The reply ended: whatever was held back goes out, rewritten if it must be."""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        text = self._rewrite(self.buf, opening=not self.started)
        if not final:
            if not self.started and len(text.strip()) <= len(NAME) + 1 and \
                    NAME.lower().startswith(text.strip().rstrip(",!").lower()):
                self.buf = text  # "Lu", "Luna", "Luna!" at the start: wait for what follows
                return ""
            keep = _held_tail(text)
            out, self.buf = text[:len(text) - keep], text[len(text) - keep:]
        else:
            out, self.buf = text, ""
        if out.strip():
            self.started = True
        return out

    def _rewrite(self, text: str, opening: bool) -> str:
        n = 0
        if opening:
            m = _OPENING.match(text)
            if m and text[m.end():m.end() + 1]:
                text = m.group(1) + text[m.end()].upper() + text[m.end() + 1:]
                n += 1
        text, k = _GREETING.subn(r"\1", text)
        n += k
        text, k = _AFTER_COMMA.subn("", text)
        self.removed += n + k
        return text
