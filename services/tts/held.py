"""Speech rendered ahead for a reply that may never be said: parked until the brain's ``release``.

Why: the brain starts a preemptive reply on stt's pause partial, while the silence window
(or smart-turn's commit floor) still decides whether the user is done. Its first sentence
used to wait behind the gate until the turn was sure, so the voice's first chunk (Kokoro:
0.6-0.8 s on this CPU) came after the commit. With ``sentence.held`` tts renders the
piece at once and parks the audio here; the brain's ``release`` pushes it to playback the
moment the turn commits, and a ``flush`` (they went on talking) or an expiry throws it
away unheard. Held audio is the one thing tts keeps that nobody asked to hear yet, so it
is bounded three ways: one held reply at a time (the brain speculates on one pause at a
time; a newer one replaces an older), at most ``max_s`` seconds of audio, and at most
``max_age_s`` seconds old (the brain drops its own guess after 8 s, EARLY_HOLD_S).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Audio parked for one held reply, at most (longer is dropped and counted).
HELD_MAX_S = 30.0
#: A held reply not released after this long is forgotten (the brain's own hold is 8 s).
HELD_MAX_AGE_S = 12.0


@dataclass
class _Held:
    since: float
    items: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


class HeldSpeech:
    """The parked audio of (at most) one held reply, by epoch; ``counters`` counts what is dropped."""

    def __init__(self, counters: Any, max_s: float = HELD_MAX_S, max_age_s: float = HELD_MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.counters = counters
        self.max_s, self.max_age_s, self.clock = max_s, max_age_s, clock
        self._held: dict[int, _Held] = {}

    def hold(self, epoch: int) -> None:
        """A held sentence of ``epoch`` came: its audio waits for a release. An older held reply is dropped."""
        self.expire()
        for old in [e for e in self._held if e != epoch]:
            self._forget(old)
        self._held.setdefault(epoch, _Held(self.clock()))

    def holds(self, epoch: int) -> bool:
        return epoch in self._held

    def park(self, item: dict[str, Any]) -> None:
        """Keep one pcm chunk of a held epoch (past ``max_s`` of audio it is dropped)."""
        h = self._held[item["epoch"]]
        secs = len(item.get("payload") or b"") / 2 / max(1, int(item.get("rate") or 1))
        if h.seconds + secs > self.max_s:
            self.counters["held_dropped"] += 1
            return
        h.seconds += secs
        h.items.append(item)

    def release(self, epoch: int) -> list[dict[str, Any]]:
        """The reply is confirmed: its parked chunks, in order; later chunks of it are not held."""
        self.expire()
        h = self._held.pop(epoch, None)
        if h is None:
            return []
        self.counters["held_released"] += 1
        return h.items

    def drop_through(self, epoch: int) -> None:
        """A cut or flush up to ``epoch``: held replies at or before it are never said."""
        for old in [e for e in self._held if e <= epoch]:
            self._forget(old)

    def expire(self) -> None:
        now = self.clock()
        for old in [e for e, h in self._held.items() if now - h.since > self.max_age_s]:
            self._forget(old)

    def _forget(self, epoch: int) -> None:
        if self._held.pop(epoch, None) is not None:
            self.counters["held_dropped"] += 1
