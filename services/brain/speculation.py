"""Preemptive replies: a turn started on stt's pause partial, held until the final transcript.

Why: stt publishes a ``transcript-partial`` with ``pause`` when the speaker has
been silent for ``STT_SPECULATIVE_MS``, about 300 ms before the VAD's longer
silence window decides that the utterance really ended. The brain starts the
reply on it at once, so the model's prefill and first words overlap that
window; but nothing may reach the user, tts or the history until the final
``transcript`` with the same ``turn_id`` commits the turn, and a guess that is
retracted (they went on talking), superseded by any other turn, cancelled (Esc)
or left without a final transcript for ``EARLY_HOLD_S`` must leave no trace.

:class:`Speculation` owns that lifecycle (start, commit, drop); :class:`Gate`
holds the turn's outward effects meanwhile: everything the turn would publish
or push is held in order while closed, replayed in order on :meth:`Gate.open`,
and thrown away on :meth:`Gate.discard`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.brain import router
from shared.messages import Frame

if TYPE_CHECKING:
    from services.brain.service import BrainService
    from services.brain.turn import Turn

#: A reply started on a pause partial is dropped if its final transcript has not come after this long.
EARLY_HOLD_S = 8.0

#: Voices that bill by the character: a guess synthesized ahead would be paid for even when unheard.
PAID_VOICES = frozenset({"elevenlabs"})


def speaks_ahead(settings: Any) -> bool:
    """Whether a held reply's sentences go to tts before the turn commits (PREEMPTIVE_SPEECH).

    Why: behind the gate the first sentence waited for the commit, and only then did the
    voice start its first chunk (Kokoro 0.6-0.8 s here), so the silence window and the
    synthesis were paid one after the other. Rendered ahead, the audio is ready when the
    turn commits; a dropped guess costs only the CPU it used, or money with a paid voice."""
    mode = settings.PREEMPTIVE_SPEECH
    return mode == "1" or (mode == "auto" and settings.TTS_PROVIDER not in PAID_VOICES)


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


class Speculation:
    """The one reply of ``host`` (the brain) started on a pause partial, if any."""

    def __init__(self, host: BrainService) -> None:
        self.host = host
        self.early: tuple[str, str, Gate] | None = None  # (turn_id, text, gate) of a reply started on a pause
        self.reply: Turn | None = None  # that reply
        self._timer: asyncio.TimerHandle | None = None
        self.finals: deque[str] = deque(maxlen=16)  # turn_ids whose final transcript came

    def wanted(self, f: Frame) -> bool:
        """A pause partial of a turn not yet final, with preemptive replies on."""
        return bool(f.get("pause")) and self.host.settings.PREEMPTIVE_REPLY == "1" and f.turn_id not in self.finals

    def holds(self, turn_id: str, text: str | None = None) -> bool:
        """The held reply is ``turn_id``'s (and, with ``text``, was started on that same text)."""
        return self.early is not None and self.early[0] == turn_id and (text is None or self.early[1] == text.strip())

    async def start(self, f: Frame) -> None:
        """Start answering a pause partial behind a closed gate."""
        h = self.host
        text = f["text"].strip()
        if self.early is not None:
            await self.drop("superseded")
        # they went on with the newest turn: its reply is moot, and its half sentence must not
        # be in this reply's context (the final transcript finds it already gone)
        await h.supersede(f)
        if not text or h.busy_turn():
            return  # never interrupt a reply in progress on a guess: the final transcript will
        t0 = time.perf_counter_ns()
        intent = router.detect_intent(text, False)
        route_us = (time.perf_counter_ns() - t0) / 1000
        if intent in (router.Intent.SYSTEM, router.Intent.VISION):  # a voice turn has no image: user_turn asks
            return
        if h.preparing.must_wait(intent.value) is not None:  # llama.cpp still compiling: the final transcript is held
            return
        h.counters["early_started"] += 1
        h.clocks.clock(f.turn_id).from_transcript_timings(f.get("timings") or {})
        gate = Gate(is_open=False)
        h.keep_user_line(text, intent.value, f.turn_id, "")  # a retract removes it again (drop)
        self.early = (f.turn_id, text, gate)
        self.reply = h.start_turn(text, intent.value, f.turn_id, "", True, route_us, gate=gate)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(EARLY_HOLD_S, lambda: loop.create_task(self.drop("timeout")))

    def commit(self) -> None:
        """The final transcript confirmed the pause partial: release what the reply has so far."""
        assert self.early is not None
        _turn_id, _text, gate = self.early
        self.early, self.reply = None, None
        if self._timer is not None:
            self._timer.cancel()
        self.host.counters["early_committed"] += 1
        self.host.counters["frames_in"] += 1
        gate.open()

    async def drop(self, why: str) -> None:
        """Cancel a reply started on a pause partial; it leaves nothing behind (not even history)."""
        if self.early is None:
            return
        h = self.host
        turn_id, _text, gate = self.early
        reply, self.early, self.reply = self.reply, None, None
        if self._timer is not None:
            self._timer.cancel()
        gate.discard()
        t = h.turn
        if t is not None and not t.done():
            t.cancel()  # its cancel flushes what it sent ahead to tts
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        elif reply is not None:
            reply.withdraw()  # it had ended behind the gate: tts still parks its audio
        if h.history is not None:
            with contextlib.suppress(Exception):
                h.history.remove_turn(turn_id)
        h.clocks.forget(turn_id)
        h.counters[f"early_{why}"] += 1
