"""Holds a turn's outward effects until the turn is sure to be wanted.

Why: the brain starts answering on stt's pause partial (the speaker stopped for
``STT_SPECULATIVE_MS``), about 300 ms before the VAD's silence window decides that
the utterance really ended. The model's prefill and first words run inside that
window; but nothing may reach the user, tts or the history until the final
transcript commits the turn, and a retracted guess must leave no trace at all.
So everything the turn would publish or push goes through a :class:`Gate`: held
in order while closed, replayed in order on :meth:`Gate.open`, and thrown away
on :meth:`Gate.discard`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Gate:
    """An ordered hold for side effects: ``call(fn, ...)`` runs now if open, later if closed."""

    def __init__(self, is_open: bool = True) -> None:
        self.is_open = is_open
        self.discarded = False
        self._held: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self.discarded:
            return
        if self.is_open:
            fn(*args, **kwargs)
        else:
            self._held.append((fn, args, kwargs))

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., None]:
        """``fn`` routed through this gate (same signature, no return value)."""
        return lambda *args, **kwargs: self.call(fn, *args, **kwargs)

    @property
    def held(self) -> int:
        return len(self._held)

    def open(self) -> None:
        """Replay what was held, in order; from now on calls run at once."""
        if self.discarded or self.is_open:
            return
        self.is_open = True
        held, self._held = self._held, []
        for fn, args, kwargs in held:
            fn(*args, **kwargs)

    def discard(self) -> None:
        """Forget what was held and drop every later call."""
        self.discarded = True
        self._held.clear()
