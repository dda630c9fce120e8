"""The brain: routes each user turn to a model, streams the reply, remembers the conversation.

One turn: ``user-text`` (or a ``transcript``) -> :func:`router.detect_intent` ->
slash commands are answered by :mod:`.commands`; everything else becomes a
:class:`.turn.Turn`, which walks the function's fallback chain and streams
``reply-start``, ``token``... ``reply-end`` while :class:`.speech.segmenter.Segmenter`
pushes each finished sentence to TTS on the ``sentence`` stream. A ``command cancel``
(or a new turn) cancels the turn's task. Replies started on stt's pause partial,
before the utterance is known to be over, belong to :mod:`.speculation`; the
providers, their health and who answers each function to :mod:`.providers.registry`.

While llama.cpp is still compiling, the turns it would answer wait in :mod:`.preparing`.

This module holds the brain's life (start-up, the Ollama check loop, shutdown),
routes each event to the part that owns it, and publishes the brain's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from services.brain import router
from services.brain.commands import Commands
from services.brain.history import History
from services.brain.preparing import POLL_S, Held, Preparing
from services.brain.providers.registry import OLLAMA_CHECK_S, Registry
from services.brain.soul import Soul
from services.brain.speculation import Gate, Speculation
from services.brain.turn import WINDOW_CHARS, Clocks, Turn
from shared.messages import Frame
from shared.service import Service

WARM_RESERVE_CHARS = 300  # room the cache warm-up leaves for the next spoken line (most are < 100 chars)


class BrainService(Service):
    name = "brain"
    produces = ("sentence",)
    listens = ("user-text", "transcript", "transcript-partial", "transcript-retract", "command", "speaking")

    def __init__(self) -> None:
        super().__init__()
        s = self.settings
        self.lang = s.LANGUAGE
        self.history: History | None = None
        self.soul: Soul | None = None
        self.conv_id = ""
        self.registry = Registry(s, self.notice)
        self.commands = Commands(self)
        self.speculation = Speculation(self)
        self.clocks = Clocks(self.publish, lambda: self.history)
        self.epoch = 0
        self.turn: asyncio.Task[Any] | None = None
        self._held: list[tuple[str, str, str]] | None = []
        self.turn_meta: tuple[str, int, str] = ("", 0, "")
        self.last_spoken = ""  # the turn_id of the newest turn, when it was spoken: the one stt may continue
        self.turn_running = 0
        self.waiting: deque[Frame] = deque(maxlen=64)  # queued user-text (luna send), answered in order
        self.preparing = Preparing(self)  # the turn held while llama.cpp compiles

    # -- life ------------------------------------------------------------------------
    async def setup(self) -> None:
        self.history = History(lang=self.lang)
        # a corrupt file moved aside, a read-only or full disk: one notice each, the chat goes on
        self.history.set_on_problem(lambda code, text: self.notice("warning", text, code))
        self.soul = Soul(lang=self.lang)
        self.soul.text()
        self.conv_id = self.history.latest() or self.history.new_conversation()
        await self.registry.check_ollama(announce=True)
        self.update_info()
        if self.registry.embedded_ok and any(c.provider == "embedded" for c in self.registry.chain("chat")):
            asyncio.get_running_loop().create_task(self.preload_embedded())

    def notice(self, level: str, text: str, code: str = "") -> None:
        if self._held is not None:  # start-up: hold notices until subscribers had time to connect
            self._held.append((level, text, code))
            return
        super().notice(level, text, code)

    async def main(self) -> None:
        self.publish_status()
        await asyncio.sleep(0.5)  # ZeroMQ subscribers (re)connect asynchronously: do not shout into the void
        held, self._held = self._held or [], None
        for err in self.config_errors:
            super().notice("error", str(err), "config")
        for level, text, code in held:
            super().notice(level, text, code)
        self.publish_status()
        while not self.stopping.is_set():
            watching = self.preparing.watching()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=POLL_S if watching else OLLAMA_CHECK_S)
            if self.stopping.is_set():
                break
            if watching:
                await self.preparing.watch()
            if self.registry.check_is_old() and await self.registry.check_ollama():
                self.publish_status()


    async def teardown(self) -> None:
        await self.cancel_turn()
        await self.registry.aclose()
        if self.history is not None:
            self.history.close()

    async def preload_embedded(self) -> None:
        with contextlib.suppress(Exception):
            p = self.registry.get("embedded")
            await p.load()
            if p.model_name != self.registry.embedded_model:  # the packaged model was refused: the last resort loaded
                self.registry.embedded_model = p.model_name
                self.publish_status()
            self.warm_embedded()

    def warm_embedded(self) -> None:
        """Read the next chat turn's prefix (soul + history window) into the embedded model's cache while idle.

        The window is taken with room for the next line (``reserve``), so a window jump the
        next question would cause happens now, off the critical path (providers.warmup).
        """
        p = self.registry.providers.get("embedded")
        if p is not None and hasattr(p, "warm") and self.history is not None and self.soul is not None:
            system = self.soul.prompt()
            p.warm(system, self.history.context(self.conv_id, max(WINDOW_CHARS["embedded"] - len(system), 500),
                                                reserve=WARM_RESERVE_CHARS))

    # -- status ----------------------------------------------------------------------------
    def status_data(self) -> dict[str, Any]:
        return {**self.registry.status(), "conversation_id": self.conv_id, "preparing": self.preparing.status()}

    def heartbeat_frame(self) -> dict[str, Any]:
        """The brain numbers replies: tts, playback and stt clamp their epoch window to this counter."""
        hb = super().heartbeat_frame()
        hb["info"]["epoch"] = self.epoch
        return hb

    def update_info(self) -> dict[str, Any]:
        data = self.status_data()
        self.info.update(data)
        return data

    def publish_status(self) -> None:
        self.publish("status", service=self.name, data=self.update_info())

    # -- events ------------------------------------------------------------------------
    async def on_event(self, f: Frame) -> None:
        if f.source == self.name:
            return
        if f.type == "speaking" and self.clocks.heard(f):
            return
        if f.type == "user-text":
            self.last_spoken = ""
            self.clocks.clock(f.turn_id).mark("end_of_speech", f.ts)
            if f.get("queue") and self.busy_turn():  # a script's message waits its turn (luna send)
                self.waiting.append(f)
                return
            await self.user_turn(f["text"], f.turn_id, image=f.get("image") or "", spoken=bool(f.get("spoken")),
                                 conv_id=f.get("conversation_id") or "")
        elif f.type == "transcript-partial":
            if self.speculation.wanted(f):
                await self.speculation.start(f)
        elif f.type == "transcript-retract":
            if self.speculation.holds(f.turn_id):
                await self.speculation.drop("retracted")
        elif f.type == "transcript":
            self.speculation.finals.append(f.turn_id)
            self.clocks.clock(f.turn_id).from_transcript_timings(f.get("timings") or {})
            await self.supersede(f)
            self.last_spoken = f.turn_id
            if self.speculation.holds(f.turn_id, f["text"]):
                self.speculation.commit()
                return
            await self.user_turn(f["text"], f.turn_id, spoken=True)
        elif f.type == "command":
            await self.commands.command(f["name"], f.get("args") or {})

    async def user_turn(self, text: str, turn_id: str, image: str = "", spoken: bool = False,
                        conv_id: str = "") -> None:
        if not text.strip() and not image:
            return
        self.counters["frames_in"] += 1
        t0 = time.perf_counter_ns()
        intent = router.detect_intent(text, bool(image))
        route_us = (time.perf_counter_ns() - t0) / 1000
        await self.cancel_turn()  # a new turn interrupts the one being answered (barge-in)
        if conv_id and conv_id != self.conv_id:
            self.switch_conversation(conv_id)
        if intent is router.Intent.SYSTEM:
            await self.commands.slash(text.strip(), turn_id)
            return
        own = await self.commands.own_answer(text, intent, image)
        if own:  # an answer Luna knows without a model (and never an Ollama error about it)
            self.commands.own_reply(own, turn_id, intent.value, spoken)
            return
        self.keep_user_line(text, intent.value, turn_id, image)
        build = self.preparing.must_wait(intent.value)
        if build is not None:
            self.preparing.hold(Held(text, intent.value, turn_id, image, spoken), build)
            return
        self.start_turn(text, intent.value, turn_id, image, spoken, route_us)

    def start_turn(self, text: str, intent: str, turn_id: str, image: str, spoken: bool, route_us: float,
                   gate: Gate | None = None) -> Turn:
        """Run a :class:`.turn.Turn` under a new epoch as the brain's one current turn (what a cancel stops)."""
        self.epoch += 1
        turn = Turn(self, text, intent, turn_id, self.epoch, image, spoken, route_us, gate=gate)
        self.turn_meta = (turn.turn_id, turn.epoch, turn.intent)
        self.turn = asyncio.get_running_loop().create_task(turn.run(), name=f"turn-{turn.epoch}")
        self.turn.add_done_callback(self._turn_done)
        return turn

    def busy_turn(self) -> bool:
        return self.turn is not None and not self.turn.done()

    def _turn_done(self, _task: asyncio.Task[Any]) -> None:
        if self.waiting and not self.stopping.is_set():
            asyncio.get_running_loop().create_task(self._next_waiting())

    async def _next_waiting(self) -> None:
        """Answer the oldest queued message once no reply is running (parallel ``luna send``s each get one)."""
        if not self.waiting or self.busy_turn():
            return
        f = self.waiting.popleft()
        await self.user_turn(f["text"], f.turn_id, image=f.get("image") or "", spoken=bool(f.get("spoken")),
                             conv_id=f.get("conversation_id") or "")
        if not self.busy_turn() and self.waiting:  # a slash command or a local reply: no task to wait for
            await self._next_waiting()

    def keep_user_line(self, text: str, intent: str, turn_id: str, image: str) -> None:
        """Store the user's line before its turn exists, so nothing can cancel it away.

        Why here and not in the turn's task: the next message cancels that task, and 50
        messages typed back to back once left 1 row (and a model that never saw them).
        """
        assert self.history is not None
        try:
            self.history.add(self.conv_id, "user", text, intent=intent, turn_id=turn_id, image=image)
        except Exception:  # the history falls back to memory itself; this is the last resort
            self.log.exception("could not store the user's line")

    def switch_conversation(self, conv_id: str) -> None:
        assert self.history is not None
        if not self.history.exists(conv_id):
            self.history.new_conversation(conv_id=conv_id)
        self.conv_id = conv_id
        self.info["conversation_id"] = conv_id

    async def supersede(self, f: Frame) -> None:
        """The speaker went on with the turn ``f`` ``continues`` (stt joined the two utterances): that
        turn's reply answers half a sentence, so it stops, and its lines leave the history; ``f``
        holds the whole of what was said, so nothing the user said is lost. Only the newest turn,
        and only a spoken one (``last_spoken``): a frame naming any other turn (a typed one, an old
        one) must not take it out of the history, so this is the one place that rule is checked."""
        turn_id = f.get("continues") or ""
        if not turn_id or turn_id != self.last_spoken:
            return
        self.preparing.drop(turn_id)
        if self.turn_meta[0] == turn_id and self.speculation.early is None:
            await self.cancel_turn()
        if self.history is not None and self.history.remove_turn(turn_id):
            self.counters["turns_continued"] += 1

    async def cancel_turn(self) -> bool:
        if self.preparing.cancel():  # it was waiting for llama.cpp
            return True
        if self.speculation.early is not None:
            await self.speculation.drop("cancelled")
            return True
        t = self.turn
        if t is None or t.done():
            return False
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
        turn_id, epoch, intent = self.turn_meta
        if self.history is not None:
            with contextlib.suppress(Exception):
                self.history.mark_cancelled(turn_id)  # kept, marked: the line stays in history and context
        if epoch != self.turn_running:  # cancelled before it ran: the UI still gets its reply-end
            self.publish("reply-start", turn_id=turn_id, intent=intent, provider="", model="", epoch=epoch)
            self.publish("reply-end", turn_id=turn_id, ok=False, cancelled=True, text="", epoch=epoch)
        return True
