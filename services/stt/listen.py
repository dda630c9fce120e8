"""When Luna listens: ``LISTEN_MODE`` = always | name | wake | push, decided in stt before anything leaves it.

Why in stt: "outside an accepted turn audio never reaches the brain and nothing is
stored" is only true if the rejected words are never published. So stt asks a
:class:`ListenGate` before it publishes a transcript or a pause partial; the brain
(and so the history) never hears a rejected turn.

- ``always``: every turn (Luna's behaviour before issue 14).
- ``name``: the transcript must name Luna in its first words ("Luna, ...", "ô Luna",
  "hey Luna", and the spellings Whisper writes for it); then, for ``FOLLOW_UP_S``
  after Luna last spoke, replies are accepted without the name.
- ``wake``: a wake-word model (services/stt/wake.py) hears every frame; the VAD and
  Whisper get audio only after it fires (for ``LISTEN_AFTER_S``), then, like ``name``,
  for ``FOLLOW_UP_S`` after Luna last spoke.
- ``push``: the microphone is open only while the UI holds it open (``talk-open`` /
  ``talk-close`` / ``talk-toggle`` commands); stt drops audio frames otherwise.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass

MODES = ("always", "name", "wake", "push")

#: How Whisper (tiny.en, base, small) writes "Luna" in pt and en, seen or plausible: accents
#: are stripped before the comparison, so "Lúna" and "Lūna" are "luna" already.
NAME_SPELLINGS = frozenset({"luna", "luma", "lunna", "loona", "luna's", "lunas", "lunah", "louna", "lunna's",
                            "lunar"})  # tiny.en writes "Lunar." for espeak's en-gb "Luna,"
#: Words a person says before a name to call someone; skipped when looking for the name.
CALL_WORDS = frozenset({"o", "oh", "oi", "ola", "alo", "ei", "ey", "hey", "hei", "hi", "hello", "ok", "okay",
                        "e", "a", "and", "so", "entao", "bom", "dia", "tarde", "noite", "good", "morning",
                        "evening", "afternoon", "please", "por", "favor", "um", "uh", "eh", "ah"})
#: The name must come within this many words (after the call words) of the start.
NAME_WINDOW = 2
#: "Luna?" alone (the speaker waits to be heard, or smart-turn ended the turn at the comma):
#: the next utterance is accepted without the name for at least this long.
NAME_ONLY_S = 6.0


def _words(text: str) -> list[str]:
    t = unicodedata.normalize("NFKD", text.lower())
    t = "".join(c for c in t if not unicodedata.combining(c))
    return re.findall(r"[a-z']+", t)


def only_name(text: str, spellings: frozenset[str] = NAME_SPELLINGS) -> bool:
    """"Luna.", "Ô Luna?", "Hey, Luna": a call and nothing else."""
    words = _words(text)
    return any(w in spellings for w in words) and all(w in spellings or w in CALL_WORDS for w in words)


def names_luna(text: str, spellings: frozenset[str] = NAME_SPELLINGS) -> bool:
    """True when ``text`` calls Luna near its start ("Luna, que horas são?", "ô Luna...", "Hey, Luna.")."""
    seen = 0
    for w in _words(text):
        if w in spellings:
            return True
        if w in CALL_WORDS:
            continue
        seen += 1
        if seen >= NAME_WINDOW:
            return False
    return False


#: Interjections that only serve to call ("ô Luna", "hey Luna"): taken out with the name. Greetings
#: ("bom dia Luna", "oi Luna") are words for Luna and stay.
VOCATIVES = frozenset({"o", "oh", "ei", "ey", "hey", "hei", "ok", "okay", "alo", "e", "a", "and", "so", "entao",
                       "um", "uh", "eh", "ah"})


def _norm(tok: str) -> str:
    w = _words(tok)
    return w[0] if len(w) == 1 else ""


def strip_name(text: str, spellings: frozenset[str] = NAME_SPELLINGS) -> str:
    """What the brain should answer: "Luna, qual é a capital?" -> "Qual é a capital?".

    Why: a small model answers the name too ("Sim, sou a Luna! ...") or reads "Luna" as the topic.
    Only a name near the start (as :func:`names_luna` finds it) is taken out, with the call words
    before it; a greeting stays ("Bom dia Luna!" -> "Bom dia!"). Nothing left: the text as it was.
    """
    if not names_luna(text, spellings):
        return text
    toks = text.split()
    i = next((k for k, t in enumerate(toks) if _norm(t) in spellings), None)
    if i is None:
        return text
    before, rest = toks[:i], toks[i + 1:]
    tail = re.sub(r"^[\w'\u00c0-\u024f]+", "", toks[i])  # the name's own punctuation: "Luna," -> ","
    if all(_norm(t) in VOCATIVES for t in before):
        before = []
    if before:
        if rest:
            before[-1] = before[-1].rstrip(",;:") + ","
            if rest[0][:1].isupper() and rest[0][1:].islower():
                rest[0] = rest[0].lower()  # "Oi, Luna. Tudo bem?" -> "Oi, tudo bem?"
            out = " ".join(before + rest)
        else:
            out = " ".join(before).rstrip(",;: ") + tail.lstrip(",;: ")
    else:
        out = " ".join(rest).lstrip(",;:.!?- ")
        out = out[:1].upper() + out[1:]
    return out if re.search(r"\w", out) else text


@dataclass
class ListenGate:
    """Whether a turn may go to the brain, and the follow-up window after an accepted turn."""

    mode: str = "always"
    follow_up_s: float = 8.0
    talk_open: bool = False  # push mode: the UI holds the microphone open
    _until: float = 0.0  # follow-up window end (monotonic seconds)
    _replying: bool = False  # Luna is speaking an answer to an accepted turn: the window waits

    def set_mode(self, mode: str) -> bool:
        if mode not in MODES:
            return False
        self.mode = mode
        self._until = 0.0
        self._replying = False
        if mode != "push":
            self.talk_open = False
        return True

    def hears_audio(self, now: float | None = None) -> bool:
        """Push mode with the microphone closed, wake mode outside a wake/follow-up window: frames never
        reach the VAD (in wake mode they go to the wake-word model instead)."""
        if self.mode == "wake":
            return self.in_follow_up(time.monotonic() if now is None else now)
        return self.mode != "push" or self.talk_open

    def woke(self, now: float, listen_s: float) -> None:
        """Wake mode: the wake word was heard; the words that follow are for Luna."""
        self._until = max(self._until, now + max(self.follow_up_s, listen_s))

    def held_barge_in(self) -> bool:
        """Name and wake modes: a voice must not cut Luna off before its words are accepted (a TV)."""
        return self.mode in ("name", "wake")

    def in_follow_up(self, now: float) -> bool:
        return self._replying or now < self._until

    def peek(self, text: str, now: float) -> bool:
        """Would ``text`` be accepted now? (no state change: for pause partials)"""
        if self.mode == "always":
            return True
        if self.mode in ("push", "wake"):
            return True  # the audio only got here because the microphone was open / the wake word was heard
        return self.in_follow_up(now) or names_luna(text)

    def accept(self, text: str, now: float) -> bool:
        """Decide a final transcript; an accepted one (re)opens the follow-up window."""
        ok = self.peek(text, now)
        if ok and self.mode in ("name", "wake"):
            self._until = now + self.follow_up_s
        return ok

    def call_only(self, text: str, now: float) -> bool:
        """Name mode, "Luna." alone: not a turn, but what comes next is for Luna (returns True)."""
        if self.mode != "name" or not only_name(text):
            return False
        self._until = max(self._until, now + max(self.follow_up_s, NAME_ONLY_S))
        return True

    def luna_speaking(self, on: bool, now: float) -> None:
        """The window counts from the end of Luna's answer, not from the question."""
        if self.mode not in ("name", "wake"):
            return
        if on and self.in_follow_up(now):
            self._replying = True
        elif not on and self._replying:
            self._replying = False
            self._until = now + self.follow_up_s

    def status(self, now: float) -> dict[str, object]:
        listening = (self.mode == "always" or (self.mode == "push" and self.talk_open)
                     or (self.mode in ("name", "wake") and self.in_follow_up(now)))
        return {"listen_mode": self.mode, "listening": bool(listening)}
