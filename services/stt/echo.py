"""Drops transcripts that are Luna hearing herself (what playback just said)."""

from __future__ import annotations

import re
import time
from collections import deque
from difflib import SequenceMatcher

_WORD = re.compile(r"[\w']+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class EchoFilter:
    """Remembers the sentences Luna spoke in the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 15.0, threshold: float = 0.6) -> None:
        self.window_s = window_s
        self.threshold = threshold
        self._said: deque[tuple[float, list[str]]] = deque(maxlen=64)

    def said(self, text: str, now: float | None = None) -> None:
        w = words(text)
        if w:
            self._said.append((now if now is not None else time.monotonic(), w))

    def is_echo(self, text: str, now: float | None = None) -> bool:
        heard = words(text)
        if not heard:
            return False
        now = now if now is not None else time.monotonic()
        recent = [w for t, w in self._said if now - t <= self.window_s]
        if not recent:
            return False
        spoken = [x for w in recent for x in w]
        # the heard words, in order, inside what Luna said (a transcript may cover part of it)
        m = SequenceMatcher(None, heard, spoken, autojunk=False)
        matched = sum(b.size for b in m.get_matching_blocks())
        return matched / len(heard) >= self.threshold
