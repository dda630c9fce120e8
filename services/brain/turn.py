"""One streamed answer from a model, start to end: the :class:`Turn`.

A turn walks its function's fallback chain (:mod:`.fallback`) and streams
``reply-start``, ``token``... ``reply-end`` (same ``turn_id``, its own ``epoch``),
while the segmenter pushes each finished sentence to tts on the ``sentence``
stream and the loop guard ends a looping or overlong reply at a sentence.
Before either sees a chat chunk, :mod:`.selfname` takes out Luna's own name where
the model addressed the user with it ("Olá, Luna!").
Cancelling the task that runs :meth:`Turn.run` closes the model stream, pushes
``flush`` and ends the reply with ``cancelled``.

Why an object: what a turn has said so far (parts, sentence index, timings, the
provider that answered) is state shared by showing, speaking and ending; kept
on one object it can be read and tested in one place, instead of closures.

Everything the turn shows, speaks or keeps goes through its :class:`.speculation.Gate`
(open unless the turn was started on a pause partial). The user's line was written
to the history before the turn exists, because the model's context is read from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.brain import fallback
from services.brain.fallback import Choice
from services.brain.loopguard import LoopGuard
from services.brain.providers import gguf
from services.brain.providers.base import ProviderError, Request
from services.brain.selfname import SelfAddress
from services.brain.soul import code_prompt
from services.brain.speculation import Gate, speaks_ahead
from services.brain.speech.clean import strip_emoji
from services.brain.speech.segmenter import Segmenter
from shared.messages import Frame
from shared.turnmetrics import TurnClock

if TYPE_CHECKING:
    from services.brain.history import History
    from services.brain.service import BrainService

#: Characters of history each provider gets (a rough stand-in for its context window).
WINDOW_CHARS = {"embedded": 1600, "ollama": 12000}
WINDOW_PAID = 48000


class Clocks:
    """The latency clocks of the last 32 turns; a turn's breakdown is published as ``turn-metrics``.

    Why they outlive the turn: the audio side (first synthesized and first played
    sample) arrives on ``speaking`` after the reply ended.
    """

    def __init__(self, publish: Callable[..., None], history: Callable[[], History | None]) -> None:
        self._publish = publish
        self._history = history
        self._clocks: OrderedDict[str, TurnClock] = OrderedDict()

    def __contains__(self, turn_id: str) -> bool:
        return turn_id in self._clocks

    def clock(self, turn_id: str) -> TurnClock:
        """The latency clock of ``turn_id`` (created on first use)."""
        c = self._clocks.get(turn_id)
        if c is None:
            c = self._clocks[turn_id] = TurnClock(turn_id)
            while len(self._clocks) > 32:
                self._clocks.popitem(last=False)
        return c

    def forget(self, turn_id: str) -> None:
        self._clocks.pop(turn_id, None)

    def heard(self, f: Frame) -> bool:
        """A ``speaking`` frame of a turn still timing: its audio marks, then the full breakdown."""
        c = self._clocks.get(f.turn_id)
        if c is None or c.complete():
            return False
        c.mark("first_tts_audio", f.get("t_tts_ns"))
        c.mark("first_played", f.ts)
        self.publish(f.turn_id, f.get("epoch"))
        return True

    def publish(self, turn_id: str, epoch: int | None = None) -> None:
        """Publish the turn's breakdown and keep it with the turn in history."""
        c = self._clocks.get(turn_id)
        if c is None or len(c.marks) < 2:
            return
        stages = c.stages()
        kw = {"epoch": epoch} if epoch is not None else {}
        self._publish("turn-metrics", turn_id=turn_id, stages=stages, marks_ms=c.offsets(), **kw)
        history = self._history()
        if history is not None:
            with contextlib.suppress(Exception):
                history.add_stages(turn_id, stages)


class Turn:
    """One LLM turn of ``host`` (the brain): run it in a task, cancel the task to stop it."""

    def __init__(self, host: BrainService, text: str, intent: str, turn_id: str, epoch: int, image: str = "",
                 spoken: bool = False, route_us: float = 0.0, gate: Gate | None = None) -> None:
        self.host = host
        self.text, self.intent, self.turn_id, self.epoch = text, intent, turn_id, epoch
        self.image, self.spoken = image, spoken
        self.gate = gate or Gate()
        self.publish = self.gate.wrap(host.publish)
        self.later = self.gate.call
        self.held = False  # sentences went to tts behind a closed gate (see push)
        if not self.gate.is_open and speaks_ahead(host.settings):
            self.later(self.release)  # the first thing the gate replays when the turn commits
        self.notices: list[str] = []  # why providers before the one answering were passed over
        self.parts: list[str] = []
        self.seg = Segmenter(host.lang)
        self.guard = LoopGuard(intent)  # ends a looping or overlong reply at a sentence (see loopguard)
        self.names = SelfAddress() if intent != "code" else None  # "Olá, Luna!" -> "Olá!" (see selfname)
        self.marked = False  # the model's first token was stamped
        self.kept: str | None = None  # the text to keep when the guard cut the reply
        self.index = 0  # the next sentence's number
        self.started = False  # reply-start was published
        self.timings: dict[str, Any] = {"route_us": round(route_us, 1)}
        self.provider, self.model = "none", ""
        self.conv = host.conv_id
        self.t0 = time.monotonic()

    # -- the request -------------------------------------------------------------------------
    def request_for(self, choice: Choice) -> Request:
        h = self.host
        assert h.history is not None and h.soul is not None
        s = h.settings
        fn = self.intent
        window = WINDOW_CHARS.get(choice.provider, WINDOW_PAID)
        system = code_prompt(h.lang) if fn == "code" else h.soul.prompt()
        msgs = h.history.context(h.conv_id, max(window - len(system), 500))
        temp = s.CODE_TEMPERATURE if fn == "code" else s.CHAT_TEMPERATURE
        max_tokens = s.CODE_MAX_TOKENS if fn == "code" else s.CHAT_MAX_TOKENS
        return Request(model=choice.model, messages=msgs, system=system, temperature=temp, max_tokens=max_tokens,
                       images=[self.image] if self.image and fn == "vision" else [])

    def on_skip(self, c: Choice, reason: str, kind: str) -> None:
        h = self.host
        h.counters["fallbacks"] += 1
        self.notices.append(reason)
        h.log.warning("fallback: %s", reason, extra={"fields": {"provider": c.provider, "kind": kind}})
        if kind == "missing-key":
            self.later(h.notice, "warning", reason, "missing-key")

    # -- showing and speaking ------------------------------------------------------------------
    def push(self, stream: str, kind: str, **fields: Any) -> None:
        """A frame to tts. Behind a closed gate a sentence goes out at once as ``held`` (tts
        synthesizes it and parks the audio, services/tts/held.py) when PREEMPTIVE_SPEECH
        allows; a flush of held speech is never held itself, or a dropped guess would stay
        parked in tts."""
        h, g = self.host, self.gate
        if g.is_open or (kind == "flush" and self.held):
            h.bus.push(stream, kind, **fields)
        elif kind == "sentence" and not g.discarded and speaks_ahead(h.settings):
            self.held = True
            h.bus.push(stream, kind, held=True, **fields)
        else:
            g.call(h.bus.push, stream, kind, **fields)

    def release(self) -> None:
        """The turn committed: tts speaks what it parked for this epoch."""
        if self.held:
            self.host.bus.push("sentence", "release", turn_id=self.turn_id, epoch=self.epoch)

    def withdraw(self) -> None:
        """The guess was dropped after its reply had ended: tts forgets what it parked."""
        if self.held:
            self.host.bus.push("sentence", "flush", turn_id=self.turn_id, epoch=self.epoch + 1)

    def speak(self, sentences: list[str], final: bool = False) -> None:
        h = self.host
        for i, s in enumerate(sentences):
            last = final and i == len(sentences) - 1
            if self.index == 0:
                h.clocks.clock(self.turn_id).mark("first_sentence", time.monotonic_ns())
            self.push("sentence", "sentence", turn_id=self.turn_id, text=s, epoch=self.epoch, index=self.index,
                      final=last)
            self.index += 1
            h.counters["sentences"] += 1

    def emit(self, chunk: str) -> bool:
        """Show and speak a chunk; True when the loop guard ends the reply with it."""
        shown = strip_emoji(chunk) if self.intent == "chat" else chunk
        if not shown:
            return False
        if not self.marked:
            self.marked = True
            self.host.clocks.clock(self.turn_id).mark("first_token", time.monotonic_ns())
        return self.show(self.names.feed(shown) if self.names else shown)

    def finish_speech(self, keep_tail: bool = True) -> None:
        """The reply ended: what the name filter still held is shown (unless the loop guard cut
        the reply there), and the segmenter's last piece is spoken."""
        if keep_tail and self.names is not None:
            self.show(self.names.flush())
        self.speak(self.seg.flush(), final=True)

    def show(self, shown: str) -> bool:
        if not shown:
            return False
        stop = self.guard.feed(shown).stop
        self.parts.append(shown)
        self.publish("token", turn_id=self.turn_id, text=shown, epoch=self.epoch)
        self.speak(self.seg.feed(shown))
        return stop

    def start_notice(self, first: Choice) -> str:
        """The header line of a reply that did not come from the first choice (why, and who answers)."""
        h = self.host
        if self.provider == "embedded" and first.provider != "embedded":
            ep = h.registry.providers.get("embedded")
            why = ep.resolved.why if getattr(ep, "resolved", None) else ""
            return "; ".join([*self.notices, gguf.notice(h.lang, getattr(ep, "model_name", self.model),
                                                        fallback.default_model("ollama", self.intent, h.settings),
                                                        why)])
        if self.notices:
            return h.say("brain.answering", notices="; ".join(self.notices), provider=self.provider, model=self.model)
        return ""

    def end(self, ok: bool, error: str = "", cancelled: bool = False) -> None:
        h = self.host
        timings = self.timings
        timings["total_ms"] = round((time.monotonic() - self.t0) * 1000, 1)
        timings["chunks"] = len(self.parts)
        full = self.kept if self.kept is not None else "".join(self.parts)
        kw: dict[str, Any] = {"ok": ok, "text": full, "provider": self.provider, "model": self.model,
                              "timings": timings, "epoch": self.epoch}
        if error:
            kw["error"] = error
        if cancelled:
            kw["cancelled"] = True
        if not self.started:
            self.publish("reply-start", turn_id=self.turn_id, intent=self.intent, provider=self.provider,
                         model=self.model, epoch=self.epoch)
        self.publish("reply-end", turn_id=self.turn_id, **kw)
        self.later(self._count, ok, cancelled)
        if self.names is not None and self.names.removed:
            self.later(h.counters.update, {"self_address_removed": self.names.removed})
        if full or error:
            self.later(self._keep_reply, full or error, provider=self.provider, model=self.model,
                       intent=self.intent, timings=timings, turn_id=self.turn_id, ok=ok)
        # the text-side breakdown now; the audio side when playback speaks
        self.later(h.clocks.publish, self.turn_id, self.epoch)

    def _count(self, ok: bool, cancelled: bool) -> None:
        self.host.counters["turns_ok" if ok else ("turns_cancelled" if cancelled else "turns_failed")] += 1

    def _keep_reply(self, text: str, **kw: Any) -> None:
        h = self.host
        with contextlib.suppress(Exception):
            assert h.history is not None
            h.history.add(self.conv, "assistant", text, **kw)
            if kw.get("provider") == "embedded":
                h.warm_embedded()

    # -- the turn ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Start to end; a cancel (Esc, barge-in, a new turn) ends the reply as ``cancelled``."""
        h = self.host
        assert h.history is not None
        h.turn_running = self.epoch
        self.conv = h.conv_id
        self.t0 = time.monotonic()  # the user's line is already stored (keep_user_line)
        chain = h.registry.chain(self.intent)
        first = chain[0] if chain else Choice("none", "")
        self.provider, self.model = first.provider, first.model
        stream = None
        if self.image and not os.path.isfile(self.image):
            self.end(False, h.say("brain.no-image", path=self.image))
            return
        try:
            try:
                opened = await fallback.open_stream(chain, h.registry.for_turn, self.request_for,
                                                    h.settings.FIRST_TOKEN_TIMEOUT, self.on_skip, h.lang)
            except ProviderError as err:
                self.end(False, str(err))
                return
            stream = opened.stream
            self.provider, self.model = opened.choice.provider, opened.choice.model
            self.timings["first_token_ms"] = round((time.monotonic() - self.t0) * 1000, 1)
            notice = self.start_notice(first)
            start_kw: dict[str, Any] = {"notice": notice} if notice else {}
            self.publish("reply-start", turn_id=self.turn_id, intent=self.intent, provider=self.provider,
                         model=self.model, epoch=self.epoch, **start_kw)
            self.started = True
            cut = self.emit(opened.first)
            stall = h.settings.LLM_STALL_TIMEOUT + float(getattr(h.registry.providers.get(self.provider),
                                                                 "stall_grace", 0.0))
            while not cut:
                try:
                    chunk = await asyncio.wait_for(anext(stream), timeout=stall)
                except StopAsyncIteration:
                    break
                except (TimeoutError, asyncio.TimeoutError):
                    self.finish_speech()
                    self.end(False, h.say("brain.stalled", provider=self.provider, s=f"{stall:g}"))
                    return
                except ProviderError as err:
                    self.finish_speech()
                    self.end(False, str(err))
                    return
                cut = self.emit(chunk)
            if cut:  # the model looped or ran past the spoken-length cap: stop it, keep whole sentences
                self.seg.drop()
                self.kept = self.guard.clean()
                self.timings["cut"] = self.guard.reason
                h.counters[f"replies_cut_{self.guard.reason}"] += 1
            self.finish_speech(keep_tail=not cut)
            self.end(True)
        except asyncio.CancelledError:
            self.push("sentence", "flush", turn_id=self.turn_id, epoch=self.epoch + 1)
            self.end(False, cancelled=True)
        except Exception as exc:  # never a traceback to the user; the log has it
            h.log.exception("turn failed")
            err = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
            self.end(False, h.say("brain.internal", err=err))
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()
