"""The brain: routes each user turn to a model, streams the reply, remembers the conversation.

One turn: ``user-text`` (or a ``transcript``) -> :func:`router.detect_intent` ->
slash commands are answered here; everything else walks the function's fallback
chain (:mod:`.fallback`) and streams ``reply-start``, ``token``... ``reply-end``
(same ``turn_id``, a new ``epoch``), while :class:`.segmenter.Segmenter` pushes
each finished sentence to TTS on the ``sentence`` stream. A ``command cancel``
(or a new turn) closes the model stream, pushes ``flush`` and ends the reply
with ``cancelled``. ``config-set`` swaps provider/model for the next turn.

Preemptive replies: stt publishes a ``transcript-partial`` with ``pause`` when the
speaker has been silent for ``STT_SPECULATIVE_MS``, while the VAD's longer silence
window is still running. The brain starts the reply on it at once, behind a closed
:class:`.gate.Gate`: the model's prefill and first words overlap the silence window,
but nothing is published, spoken or kept until the final ``transcript`` with the same
``turn_id`` commits the turn. ``transcript-retract`` (they went on talking), any other
turn, Esc, or no final transcript within ``EARLY_HOLD_S`` cancels it without a trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import OrderedDict, deque
from typing import Any

from services.brain import fallback, router
from services.brain.fallback import FUNCTIONS, PROVIDERS, Choice
from services.brain.gate import Gate
from services.brain.history import History
from services.brain.loopguard import LoopGuard
from services.brain.postprocess import strip_emoji
from services.brain.providers import embedded as emb
from services.brain.providers.base import ProviderError, Request
from services.brain.segmenter import Segmenter
from services.brain.soul import Soul, code_prompt
from shared.messages import MAX_ENVELOPE_BYTES, Frame
from shared.service import Service
from shared.turnmetrics import TurnClock

#: Characters of history each provider gets (a rough stand-in for its context window).
WINDOW_CHARS = {"embedded": 1600, "ollama": 12000}
WINDOW_PAID = 48000
WARM_RESERVE_CHARS = 300  # room the cache warm-up leaves for the next spoken line (most are < 100 chars)
OLLAMA_CHECK_S = 15.0
#: A reply started on a pause partial is dropped if its final transcript has not come after this long.
EARLY_HOLD_S = 8.0

HELP = {
    "pt": ("Comandos:\n"
           "/nova (/new) - nova conversa\n"
           "/historico (/history) [n] - lista as conversas; com n, reabre a n-ésima\n"
           "/alma (/soul) - edita a personalidade da Luna\n"
           "/config [função provedor [modelo]] - mostra ou troca o modelo (ex.: /config chat gemini)\n"
           "/ajuda (/help) - esta lista\n"
           "/sair (/quit) - sai"),
    "en": ("Commands:\n"
           "/new (/nova) - new conversation\n"
           "/history (/historico) [n] - list conversations; with n, reopen the n-th\n"
           "/soul (/alma) - edit Luna's persona\n"
           "/config [function provider [model]] - show or change the model (e.g. /config chat gemini)\n"
           "/help (/ajuda) - this list\n"
           "/quit (/sair) - quit"),
}


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
        self.overrides: dict[str, dict[str, str]] = {}
        self.epoch = 0
        self.turn: asyncio.Task[Any] | None = None
        self.pull_task: asyncio.Task[Any] | None = None
        self.providers: dict[str, Any] = {}
        self.ollama_up = False
        self.ollama_models: set[str] = set()
        self.embedded_ok = emb.available(s.LLM_GGUF)
        self.embedded_model = emb.model_name(s.LLM_GGUF)
        self._held: list[tuple[str, str, str]] | None = []
        self.ollama_checked = 0.0
        self.turn_meta: tuple[str, int, str] = ("", 0, "")
        self.clocks: OrderedDict[str, TurnClock] = OrderedDict()
        self.turn_running = 0
        self.early: tuple[str, str, Gate] | None = None  # (turn_id, text, gate) of a reply started on a pause
        self._early_timer: asyncio.TimerHandle | None = None
        self.finals: deque[str] = deque(maxlen=16)  # turn_ids whose final transcript came
        self.waiting: deque[Frame] = deque(maxlen=64)  # queued user-text (luna send), answered in order

    # -- life ------------------------------------------------------------------------
    async def setup(self) -> None:
        self.history = History(lang=self.lang)
        # a corrupt file moved aside, a read-only or full disk: one notice each, the chat goes on
        self.history.set_on_problem(lambda code, text: self.notice("warning", text, code))
        self.soul = Soul(lang=self.lang)
        self.soul.text()
        self.conv_id = self.history.latest() or self.history.new_conversation()
        await self.check_ollama(announce=True)
        self.update_info()
        if self.embedded_ok and any(c.provider == "embedded" for c in self.chain("chat")):
            asyncio.get_running_loop().create_task(self._preload_embedded())

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
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=OLLAMA_CHECK_S)
            if self.stopping.is_set():
                break
            before = (self.ollama_up, frozenset(self.ollama_models))
            await self.check_ollama()
            if before != (self.ollama_up, frozenset(self.ollama_models)):
                self.publish_status()

    async def teardown(self) -> None:
        await self.cancel_turn()
        for p in self.providers.values():
            with contextlib.suppress(Exception):
                await p.aclose()
        if self.history is not None:
            self.history.close()

    async def _preload_embedded(self) -> None:
        with contextlib.suppress(Exception):
            p = self.provider("embedded")
            await p.load()
            if p.model_name != self.embedded_model:  # the packaged model was refused: the last resort loaded
                self.embedded_model = p.model_name
                self.publish_status()
            self.warm_embedded()

    def warm_embedded(self) -> None:
        """Read the next chat turn's prefix (soul + history window) into the embedded model's cache while idle.

        The window is taken with room for the next line (``reserve``), so a window jump the
        next question would cause happens now, off the critical path (providers.warmup).
        """
        p = self.providers.get("embedded")
        if p is not None and hasattr(p, "warm") and self.history is not None and self.soul is not None:
            system = self.soul.prompt()
            p.warm(system, self.history.context(self.conv_id, max(WINDOW_CHARS["embedded"] - len(system), 500),
                                                reserve=WARM_RESERVE_CHARS))

    # -- providers and status ------------------------------------------------------------
    def provider(self, name: str) -> Any:
        """The provider object for ``name`` (created once; raises MissingKey without a key)."""
        if name in self.providers:
            return self.providers[name]
        s = self.settings
        if name == "ollama":
            from services.brain.providers.ollama import OllamaProvider
            p: Any = OllamaProvider(s.OLLAMA_HOST, s.OLLAMA_TIMEOUT)
        elif name == "embedded":
            p = emb.EmbeddedProvider(s.LLM_GGUF)
        elif name == "gemini":
            from services.brain.providers.gemini import GeminiProvider
            p = GeminiProvider(s.GEMINI_API_KEY, s.GEMINI_BASE_URL, s.OLLAMA_TIMEOUT)
        elif name in ("openai", "deepseek"):
            from services.brain.providers.openai_compat import OpenAICompatProvider
            key = s.OPENAI_API_KEY if name == "openai" else s.DEEPSEEK_API_KEY
            base = s.OPENAI_BASE_URL if name == "openai" else s.DEEPSEEK_BASE_URL
            p = OpenAICompatProvider(name, key, base, s.OLLAMA_TIMEOUT)
        else:
            raise ProviderError(f"provedor desconhecido: {name}", "error", name)
        self.providers[name] = p
        return p

    def turn_provider(self, name: str) -> Any:
        """Like :meth:`provider`, but skips Ollama at once while the last check (< 15 s ago) found it down.

        On loopback a refused connection costs nothing, but a remote OLLAMA_HOST that drops
        packets would cost the connect timeout on every turn.
        """
        if name == "ollama" and not self.ollama_up and time.monotonic() - self.ollama_checked < OLLAMA_CHECK_S:
            raise ProviderError(f"Ollama não está rodando em {self.settings.OLLAMA_HOST} (instale e rode "
                                "`ollama serve`)", "unreachable", "ollama")
        return self.provider(name)

    async def check_ollama(self, announce: bool = False) -> None:
        """Startup check (seed 7.1): is Ollama up, is each configured local model pulled?"""
        ol = self.provider("ollama")
        self.ollama_up = await ol.version() is not None
        self.ollama_checked = time.monotonic()
        self.ollama_models = await ol.models() if self.ollama_up else set()
        if not announce:
            return
        from services.brain.providers.ollama import has_model, pull_hint

        wanted = {}
        for fn in FUNCTIONS:
            c = fallback.configured(fn, self.settings, self.overrides)
            if c.provider in ("local", "ollama"):
                wanted.setdefault(c.model, fn)
        if not wanted:
            return
        if not self.ollama_up:
            alt = "o modelo embutido responde o chat" if self.embedded_ok else "sem modelo local"
            self.notice("warning", f"Ollama não está rodando em {self.settings.OLLAMA_HOST}; {alt}",
                        "ollama-down")
            return
        for model, fn in wanted.items():
            if not has_model(self.ollama_models, model):
                self.notice("warning", f"{pull_hint(model)} (ou mande o comando pull {model}); "
                            f"{fn} usa o próximo da lista até lá", "model-missing")

    def chain(self, fn: str) -> list[Choice]:
        return fallback.build_chain(fn, self.settings, self.overrides, self.embedded_model, self.embedded_ok)

    def effective(self, fn: str) -> Choice:
        """Who will most likely answer ``fn`` now (for the status line)."""
        from services.brain.providers.ollama import has_model

        for c in self.chain(fn):
            if c.provider == "ollama" and not (self.ollama_up and has_model(self.ollama_models, c.model)):
                continue
            if c.provider in fallback.PAID and not self.settings.get(fallback.KEY_OF[c.provider]):
                continue
            return c
        chain = self.chain(fn)
        return chain[0] if chain else fallback.configured(fn, self.settings, self.overrides)

    def functions(self) -> dict[str, dict[str, str]]:
        out = {}
        for fn in FUNCTIONS:
            eff = self.effective(fn)
            conf = fallback.configured(fn, self.settings, self.overrides)
            out[fn] = {**eff.as_dict(), "configured": conf.provider, "configured_model": conf.model,
                       "chain": [c.provider for c in self.chain(fn)], "skipped": self.skipped(fn, eff)}
        return out

    def skipped(self, fn: str, eff: Choice) -> list[dict[str, str]]:
        """The providers before ``eff`` in the chain, each with why it will be passed over (shown in F5)."""
        from services.brain.providers.ollama import has_model

        out = []
        for c in self.chain(fn):
            if c == eff:
                break
            if c.provider in fallback.PAID and not self.settings.get(fallback.KEY_OF[c.provider]):
                why = f"sem chave ({fallback.KEY_OF[c.provider]} vazio no .env)"
            elif c.provider == "ollama" and not self.ollama_up:
                why = "Ollama não está rodando"
            elif c.provider == "ollama" and not has_model(self.ollama_models, c.model):
                why = f"modelo {c.model} não baixado (ollama pull {c.model})"
            else:
                why = "indisponível"
            out.append({"provider": c.provider, "model": c.model, "why": why})
        return out

    def missing_models(self) -> list[str]:
        """Configured Ollama models that Ollama (when up) does not have: what the UI offers to pull."""
        from services.brain.providers.ollama import has_model

        if not self.ollama_up:
            return []
        out = []
        for fn in FUNCTIONS:
            c = fallback.configured(fn, self.settings, self.overrides)
            if c.provider in ("local", "ollama") and not has_model(self.ollama_models, c.model) and c.model not in out:
                out.append(c.model)
        return out

    def status_data(self) -> dict[str, Any]:
        return {"functions": self.functions(), "ollama": "up" if self.ollama_up else "down",
                "embedded": self.embedded_ok, "embedded_model": self.embedded_model,
                "embedded_last_resort": self.embedded_model == emb.SMOLLM2, "ollama_models": sorted(self.ollama_models),
                "missing_models": self.missing_models(), "conversation_id": self.conv_id}

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
    def clock(self, turn_id: str) -> TurnClock:
        """The latency clock of ``turn_id`` (the last 32 turns are kept)."""
        c = self.clocks.get(turn_id)
        if c is None:
            c = self.clocks[turn_id] = TurnClock(turn_id)
            while len(self.clocks) > 32:
                self.clocks.popitem(last=False)
        return c

    def publish_metrics(self, turn_id: str, epoch: int | None = None) -> None:
        """Publish the turn's breakdown and keep it with the turn in history."""
        c = self.clocks.get(turn_id)
        if c is None or len(c.marks) < 2:
            return
        stages = c.stages()
        kw = {"epoch": epoch} if epoch is not None else {}
        self.publish("turn-metrics", turn_id=turn_id, stages=stages, marks_ms=c.offsets(), **kw)
        if self.history is not None:
            with contextlib.suppress(Exception):
                self.history.add_stages(turn_id, stages)

    async def on_event(self, f: Frame) -> None:
        if f.source == self.name:
            return
        if f.type == "speaking" and f.turn_id in self.clocks and not self.clocks[f.turn_id].complete():
            c = self.clocks[f.turn_id]
            c.mark("first_tts_audio", f.get("t_tts_ns"))
            c.mark("first_played", f.ts)
            self.publish_metrics(f.turn_id, f.get("epoch"))
            return
        if f.type == "user-text":
            self.clock(f.turn_id).mark("end_of_speech", f.ts)
            if f.get("queue") and self.busy_turn():  # a script's message waits its turn (luna send)
                self.waiting.append(f)
                return
            await self.user_turn(f["text"], f.turn_id, image=f.get("image") or "", spoken=bool(f.get("spoken")),
                                 conv_id=f.get("conversation_id") or "")
        elif f.type == "transcript-partial":
            if f.get("pause") and self.settings.PREEMPTIVE_REPLY == "1" and f.turn_id not in self.finals:
                await self.early_turn(f)
        elif f.type == "transcript-retract":
            if self.early is not None and self.early[0] == f.turn_id:
                await self.drop_early("retracted")
        elif f.type == "transcript":
            self.finals.append(f.turn_id)
            self.clock(f.turn_id).from_transcript_timings(f.get("timings") or {})
            if self.early is not None and self.early[0] == f.turn_id and self.early[1] == f["text"].strip():
                self.commit_early()
                return
            await self.user_turn(f["text"], f.turn_id, spoken=True)
        elif f.type == "command":
            await self.command(f["name"], f.get("args") or {}, f.turn_id)

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
            await self.system_turn(text.strip(), turn_id)
            return
        local = await self.needs_no_model(text, intent, image)
        if local:  # an answer Luna knows without a model (and never an Ollama error about it)
            self.local_reply(local, turn_id, intent.value, spoken)
            return
        self.keep_user_line(text, intent.value, turn_id, image)
        self.epoch += 1
        self.turn_meta = (turn_id, self.epoch, intent.value)
        self.turn = asyncio.get_running_loop().create_task(
            self.answer(text, intent.value, turn_id, self.epoch, image, spoken, route_us), name=f"turn-{self.epoch}")
        self.turn.add_done_callback(self._turn_done)

    async def needs_no_model(self, text: str, intent: router.Intent, image: str) -> str:
        """The reply when a turn cannot or need not reach a model, else ''.

        An unknown ``/word`` is a typo, not a message; a vision question without an image asks
        for one; with an image and no provider that can see, it says what to pull or which key
        to set (the old path walked the chain and answered "Ollama não está rodando").
        """
        en = str(self.lang).lower().startswith("en")
        if router.is_unknown_command(text):
            word = text.strip().split()[0]
            return f"unknown command: {word} — see /help" if en else f"comando desconhecido: {word} — veja /ajuda"
        if intent is not router.Intent.VISION:
            return ""
        if not image:
            return ("To see, I need an image: attach one with /img path/to/image.png (or paste its path) "
                    "and ask again." if en else
                    "Para eu ver, preciso de uma imagem: anexe com /img caminho/da/imagem.png (ou cole o "
                    "caminho) e pergunte de novo.")
        if not self.can_see() and time.monotonic() - self.ollama_checked >= OLLAMA_CHECK_S:
            with contextlib.suppress(Exception):
                await self.check_ollama()
        if self.can_see():
            return ""
        model = fallback.default_model("ollama", "vision", self.settings)
        keys = " / ".join(fallback.KEY_OF[p] for p in ("gemini", "openai"))
        if self.ollama_up:
            how = f"`ollama pull {model}` (F5 → Baixar modelos)" if not en else f"`ollama pull {model}`"
        else:
            how = (f"start Ollama (`ollama serve`) and `ollama pull {model}`" if en
                   else f"rode o Ollama (`ollama serve`) e `ollama pull {model}`")
        return (f"No model that sees images is available. To see images: {how}, or set {keys} in .env."
                if en else
                f"Nenhum modelo que vê imagens está disponível. Para ver imagens: {how}, ou defina {keys} no .env.")

    def can_see(self) -> bool:
        """Some provider of the vision chain can answer now (Ollama up with the model, or a paid key)."""
        from services.brain.providers.ollama import has_model

        for c in self.chain("vision"):
            if c.provider == "ollama" and self.ollama_up and has_model(self.ollama_models, c.model):
                return True
            if c.provider in fallback.PAID and self.settings.get(fallback.KEY_OF[c.provider]):
                return True
        return False

    def local_reply(self, text: str, turn_id: str, intent: str, spoken: bool) -> None:
        """A whole reply from Luna herself: shown like any reply, spoken when the turn was."""
        self.epoch += 1
        epoch = self.epoch
        self.publish("reply-start", turn_id=turn_id, intent=intent, provider="luna", model="", epoch=epoch)
        self.publish("token", turn_id=turn_id, text=text, epoch=epoch)
        if spoken:
            self.bus.push("sentence", "sentence", turn_id=turn_id, text=text, epoch=epoch, index=0, final=True)
        self.publish("reply-end", turn_id=turn_id, ok=True, text=text, provider="luna", model="", epoch=epoch,
                     timings={})

    async def early_turn(self, f: Frame) -> None:
        """Start answering a pause partial behind a closed gate (see the module docstring)."""
        text = f["text"].strip()
        if self.early is not None:
            await self.drop_early("superseded")
        if not text or (self.turn is not None and not self.turn.done()):
            return  # never interrupt a reply in progress on a guess: the final transcript will
        t0 = time.perf_counter_ns()
        intent = router.detect_intent(text, False)
        route_us = (time.perf_counter_ns() - t0) / 1000
        if intent in (router.Intent.SYSTEM, router.Intent.VISION):  # a voice turn has no image: user_turn asks
            return
        self.counters["early_started"] += 1
        self.clock(f.turn_id).from_transcript_timings(f.get("timings") or {})
        gate = Gate(is_open=False)
        self.keep_user_line(text, intent.value, f.turn_id, "")  # a retract removes it again (drop_early)
        self.epoch += 1
        self.turn_meta = (f.turn_id, self.epoch, intent.value)
        self.early = (f.turn_id, text, gate)
        loop = asyncio.get_running_loop()
        self.turn = loop.create_task(
            self.answer(text, intent.value, f.turn_id, self.epoch, "", True, route_us, gate=gate),
            name=f"turn-{self.epoch}")
        self.turn.add_done_callback(self._turn_done)
        self._early_timer = loop.call_later(EARLY_HOLD_S, lambda: loop.create_task(self.drop_early("timeout")))

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

        Why here and not in the answer task: the next message cancels that task, and 50
        messages typed back to back once left 1 row (and a model that never saw them).
        """
        assert self.history is not None
        try:
            self.history.add(self.conv_id, "user", text, intent=intent, turn_id=turn_id, image=image)
        except Exception:  # the history falls back to memory itself; this is the last resort
            self.log.exception("could not store the user's line")

    def commit_early(self) -> None:
        """The final transcript confirmed the pause partial: release what the reply has so far."""
        assert self.early is not None
        _turn_id, _text, gate = self.early
        self.early = None
        if self._early_timer is not None:
            self._early_timer.cancel()
        self.counters["early_committed"] += 1
        self.counters["frames_in"] += 1
        gate.open()

    async def drop_early(self, why: str) -> None:
        """Cancel a reply started on a pause partial; it leaves nothing behind (not even history)."""
        if self.early is None:
            return
        turn_id, _text, gate = self.early
        self.early = None
        if self._early_timer is not None:
            self._early_timer.cancel()
        gate.discard()
        t = self.turn
        if t is not None and not t.done():
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.history is not None:
            with contextlib.suppress(Exception):
                self.history.remove_turn(turn_id)
        self.clocks.pop(turn_id, None)
        self.counters[f"early_{why}"] += 1

    def switch_conversation(self, conv_id: str) -> None:
        assert self.history is not None
        if not self.history.exists(conv_id):
            self.history.new_conversation(conv_id=conv_id)
        self.conv_id = conv_id
        self.info["conversation_id"] = conv_id

    async def cancel_turn(self) -> bool:
        if self.early is not None:
            await self.drop_early("cancelled")
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

    def request_for(self, fn: str, choice: Choice, image: str) -> Request:
        assert self.history is not None and self.soul is not None
        s = self.settings
        window = WINDOW_CHARS.get(choice.provider, WINDOW_PAID)
        system = code_prompt(self.lang) if fn == "code" else self.soul.prompt()
        msgs = self.history.context(self.conv_id, max(window - len(system), 500))
        temp = s.CODE_TEMPERATURE if fn == "code" else s.CHAT_TEMPERATURE
        max_tokens = s.CODE_MAX_TOKENS if fn == "code" else s.CHAT_MAX_TOKENS
        return Request(model=choice.model, messages=msgs, system=system, temperature=temp, max_tokens=max_tokens,
                       images=[image] if image and fn == "vision" else [])

    async def answer(self, text: str, intent: str, turn_id: str, epoch: int, image: str, spoken: bool,
                     route_us: float, gate: Gate | None = None) -> None:
        """One LLM turn, start to end. Cancelling the task closes the model stream.

        Everything the turn shows, speaks or keeps goes through ``gate`` (open unless the
        turn was started on a pause partial); the user's message was written before the task,
        because the model's context is read from the history.
        """
        assert self.history is not None
        gate = gate or Gate()
        publish, push, later = gate.wrap(self.publish), gate.wrap(self.bus.push), gate.call
        self.turn_running = epoch
        conv = self.conv_id
        t0 = time.monotonic()  # the user's line is already stored (keep_user_line)
        chain = self.chain(intent)
        notices: list[str] = []

        def on_skip(c: Choice, reason: str, kind: str) -> None:
            self.counters["fallbacks"] += 1
            notices.append(reason)
            self.log.warning("fallback: %s", reason, extra={"fields": {"provider": c.provider, "kind": kind}})
            if kind == "missing-key":
                later(self.notice, "warning", reason, "missing-key")

        first_choice = chain[0] if chain else Choice("none", "")
        provider, model = first_choice.provider, first_choice.model
        parts: list[str] = []
        seg = Segmenter(self.lang)
        guard = LoopGuard(intent)  # ends a looping or overlong reply at a sentence (see loopguard)
        kept: str | None = None  # the text to keep when the guard cut the reply
        index = 0
        started = False
        timings: dict[str, Any] = {"route_us": round(route_us, 1)}
        stream = None

        def speak(sentences: list[str], final: bool = False) -> None:
            nonlocal index
            for i, s in enumerate(sentences):
                last = final and i == len(sentences) - 1
                if index == 0:
                    self.clock(turn_id).mark("first_sentence", time.monotonic_ns())
                push("sentence", "sentence", turn_id=turn_id, text=s, epoch=epoch, index=index, final=last)
                index += 1
                self.counters["sentences"] += 1

        def emit(chunk: str) -> bool:
            """Show and speak a chunk; True when the loop guard ends the reply with it."""
            shown = strip_emoji(chunk) if intent == "chat" else chunk
            if not shown:
                return False
            if not parts:
                self.clock(turn_id).mark("first_token", time.monotonic_ns())
            stop = guard.feed(shown).stop
            parts.append(shown)
            publish("token", turn_id=turn_id, text=shown, epoch=epoch)
            speak(seg.feed(shown))
            return stop

        def end(ok: bool, error: str = "", cancelled: bool = False) -> None:
            timings["total_ms"] = round((time.monotonic() - t0) * 1000, 1)
            timings["chunks"] = len(parts)
            full = kept if kept is not None else "".join(parts)
            kw: dict[str, Any] = {"ok": ok, "text": full, "provider": provider, "model": model, "timings": timings,
                                  "epoch": epoch}
            if error:
                kw["error"] = error
            if cancelled:
                kw["cancelled"] = True
            if not started:
                publish("reply-start", turn_id=turn_id, intent=intent, provider=provider, model=model,
                             epoch=epoch)
            publish("reply-end", turn_id=turn_id, **kw)
            later(self._count_turn, ok, cancelled)
            if full or error:
                later(self._keep_reply, conv, full or error, provider=provider, model=model,
                      intent=intent, timings=timings, turn_id=turn_id, ok=ok)
            later(self.publish_metrics, turn_id, epoch)  # text-side breakdown now; the audio side when playback speaks

        if image and not os.path.isfile(image):
            end(False, f"imagem não encontrada: {image}")
            return
        try:
            try:
                opened = await fallback.open_stream(
                    chain, self.turn_provider, lambda c: self.request_for(intent, c, image),
                    self.settings.FIRST_TOKEN_TIMEOUT, on_skip)
            except ProviderError as err:
                end(False, str(err))
                return
            stream = opened.stream
            provider, model = opened.choice.provider, opened.choice.model
            timings["first_token_ms"] = round((time.monotonic() - t0) * 1000, 1)
            notice = ""
            if provider == "embedded" and first_choice.provider != "embedded":
                ep = self.providers.get("embedded")
                why = ep.resolved.why if getattr(ep, "resolved", None) else ""
                notice = "; ".join([*notices, emb.notice(self.lang, getattr(ep, "model_name", model),
                                                         fallback.default_model("ollama", intent, self.settings),
                                                         why)])
            elif notices:
                notice = f"{'; '.join(notices)}; respondendo: {provider} {model}"
            start_kw: dict[str, Any] = {"notice": notice} if notice else {}
            publish("reply-start", turn_id=turn_id, intent=intent, provider=provider, model=model, epoch=epoch,
                         **start_kw)
            started = True
            cut = emit(opened.first)
            stall = self.settings.LLM_STALL_TIMEOUT + float(getattr(self.providers.get(provider), "stall_grace", 0.0))
            while not cut:
                try:
                    chunk = await asyncio.wait_for(anext(stream), timeout=stall)
                except StopAsyncIteration:
                    break
                except (TimeoutError, asyncio.TimeoutError):
                    speak(seg.flush(), final=True)
                    end(False, f"{provider}: parou de responder por {stall:g} s (timeout)")
                    return
                except ProviderError as err:
                    speak(seg.flush(), final=True)
                    end(False, str(err))
                    return
                cut = emit(chunk)
            if cut:  # the model looped or ran past the spoken-length cap: stop it, keep whole sentences
                seg.drop()
                kept = guard.clean()
                timings["cut"] = guard.reason
                self.counters[f"replies_cut_{guard.reason}"] += 1
            speak(seg.flush(), final=True)
            end(True)
        except asyncio.CancelledError:
            push("sentence", "flush", turn_id=turn_id, epoch=epoch + 1)
            end(False, cancelled=True)
        except Exception as exc:  # never a traceback to the user; the log has it
            self.log.exception("turn failed")
            end(False, f"erro interno no brain: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}")
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()

    def _count_turn(self, ok: bool, cancelled: bool) -> None:
        self.counters["turns_ok" if ok else ("turns_cancelled" if cancelled else "turns_failed")] += 1

    def _keep_reply(self, conv: str, text: str, **kw: Any) -> None:
        with contextlib.suppress(Exception):
            assert self.history is not None
            self.history.add(conv, "assistant", text, **kw)
            if kw.get("provider") == "embedded":
                self.warm_embedded()

    # -- system turns (slash commands) -----------------------------------------------------------
    async def system_turn(self, text: str, turn_id: str) -> None:
        cmd, _, arg = text.partition(" ")
        cmd = router.normalize(cmd).lstrip("/")
        arg = arg.strip()
        en = self.lang == "en"
        self.epoch += 1
        epoch = self.epoch
        self.publish("reply-start", turn_id=turn_id, intent="system", provider="luna", model=cmd, epoch=epoch)
        ok, error = True, ""
        if cmd in ("nova", "new"):
            self.new_conversation()
            reply = "New conversation." if en else "Nova conversa começou."
        elif cmd in ("historico", "history"):
            if arg:
                reply, ok = self.open_by_ref(arg)
            else:
                reply = self.history_text()
                self.publish_history()
        elif cmd in ("alma", "soul"):
            assert self.soul is not None
            self.soul.reload()
            reply = (f"Soul file: {self.soul.path} (reloaded)" if en
                     else f"Alma em {self.soul.path} (recarregada; edite e salve para mudar a Luna)")
        elif cmd in ("sair", "quit", "exit"):
            reply = "Bye!" if en else "Até logo!"
        elif cmd == "config":
            if arg:
                words = arg.split()
                fn = words[0]
                prov = words[1] if len(words) > 1 else ""
                model = " ".join(words[2:])
                error = self.config_set(fn, prov, model)
                ok = not error
            reply = error or self.config_text()
        else:  # ajuda / help
            reply = HELP["en" if en else "pt"]
        if ok:
            self.publish("token", turn_id=turn_id, text=reply, epoch=epoch)
        kw = {"error": reply} if not ok else {}
        self.publish("reply-end", turn_id=turn_id, ok=ok, text=reply if ok else "", provider="luna", model=cmd,
                     epoch=epoch, timings={}, **kw)

    def history_text(self) -> str:
        assert self.history is not None
        rows = self.history.conversations(20)
        if not rows:
            return "Nenhuma conversa ainda."
        lines = []
        for i, r in enumerate(rows, 1):
            mark = "*" if r["id"] == self.conv_id else " "
            when = time.strftime("%d/%m %H:%M", time.localtime(r["updated"]))
            lines.append(f"{mark}{i:>2}. {when}  {r['title'] or '(sem título)'}  ({r['count']} msgs, id {r['id']})")
        return "\n".join(lines) + "\n/historico N reabre a conversa N."

    def open_by_ref(self, ref: str) -> tuple[str, bool]:
        assert self.history is not None
        rows = self.history.conversations(100)
        target = None
        if ref.isdigit() and 1 <= int(ref) <= len(rows):
            target = rows[int(ref) - 1]["id"]
        elif self.history.exists(ref):
            target = ref
        if target is None:
            return f"conversa {ref} não existe (veja /historico)", False
        self.open_conversation(target)
        return f"Conversa {target} reaberta.", True

    # -- commands ----------------------------------------------------------------------------
    async def command(self, name: str, args: dict[str, Any], turn_id: str = "") -> None:
        if name == "cancel":
            await self.cancel_turn()
        elif name == "new-conversation":
            await self.cancel_turn()
            self.new_conversation()
        elif name == "history-list":
            self.publish_history(int(args.get("limit") or 50))
        elif name == "history-open":
            cid = str(args.get("id") or "")
            assert self.history is not None
            if cid and self.history.exists(cid):
                await self.cancel_turn()
                self.open_conversation(cid)
            else:
                self.notice("warning", f"conversa {cid or '?'} não existe", "history")
        elif name == "config-set":
            err = self.config_set(str(args.get("function") or ""), str(args.get("provider") or ""),
                                  str(args.get("model") or ""))
            self.publish("config", functions=self.functions(), **({"error": err} if err else {}),
                         options=self.config_options())
            if err:
                self.notice("warning", err, "config")
        elif name == "config-get":
            self.publish("config", functions=self.functions(), options=self.config_options())
        elif name == "soul-reload":
            assert self.soul is not None
            self.soul.reload()
        elif name == "pull":
            model = str(args.get("model") or "")
            if model and (self.pull_task is None or self.pull_task.done()):
                self.pull_task = asyncio.get_running_loop().create_task(self.pull(model))

    def new_conversation(self) -> None:
        assert self.history is not None
        self.conv_id = self.history.new_conversation()
        self.info["conversation_id"] = self.conv_id
        self.publish("conversation", id=self.conv_id, messages=[], title="")

    def open_conversation(self, conv_id: str) -> None:
        assert self.history is not None
        self.switch_conversation(conv_id)
        msgs = [{"role": m["role"], "content": m["content"], "provider": m["provider"], "model": m["model"],
                 "intent": m["intent"], "ok": bool(m["ok"]), "created": m["created"],
                 "cancelled": bool(m.get("cancelled"))}  # the UI marks a cut-off turn (schema v4)
                for m in self.history.messages(conv_id)]
        # stay under the envelope limit: newest messages win
        budget, kept = MAX_ENVELOPE_BYTES // 2, []
        for m in reversed(msgs):
            budget -= len(m["content"].encode()) + 100
            if budget < 0:
                break
            kept.append(m)
        kept.reverse()
        self.publish("conversation", id=conv_id, messages=kept)

    def publish_history(self, limit: int = 50) -> None:
        assert self.history is not None
        self.publish("history", conversations=self.history.conversations(limit), current=self.conv_id)

    def config_options(self) -> dict[str, Any]:
        # defaults: the model each provider uses for each function, so a UI that switches provider
        # resets the model field instead of carrying the old provider's model along
        defaults = {}
        for fn in FUNCTIONS:
            defaults[fn] = {}
            for p in PROVIDERS:
                with contextlib.suppress(Exception):
                    defaults[fn][p] = fallback.default_model(p, fn, self.settings, self.embedded_model)
        return {"providers": [p for p in PROVIDERS], "functions": list(FUNCTIONS),
                "ollama_models": sorted(self.ollama_models), "defaults": defaults}

    def config_set(self, fn: str, provider: str, model: str) -> str:
        """Hot swap: the next turn of ``fn`` uses ``provider``/``model``. Returns an error line or ''."""
        fn = fn.strip().lower()
        provider = provider.strip().lower()
        model = model.strip()
        if fn not in FUNCTIONS:
            return f"config: função {fn!r} não existe (use {', '.join(FUNCTIONS)})"
        if provider and provider not in PROVIDERS:
            return f"config: provedor {provider!r} não existe (use {', '.join(PROVIDERS)})"
        if provider == "embedded" and fn == "vision":
            return "config: o modelo embutido não vê imagens"
        if not provider and not model:
            return "config: diga o provedor e/ou o modelo"
        ov = dict(self.overrides.get(fn, {}))
        if provider:
            ov["provider"] = provider
            ov.pop("model", None)
        if model:
            ov["model"] = model
        self.overrides[fn] = ov
        c = fallback.configured(fn, self.settings, self.overrides)
        if c.provider in fallback.PAID and not self.settings.get(fallback.KEY_OF[c.provider]):
            self.notice("warning", f"{c.provider}: sem chave ({fallback.KEY_OF[c.provider]} vazio no .env); "
                        "vai ser pulado", "missing-key")
        self.log.info("config-set", extra={"fields": {"function": fn, **c.as_dict()}})
        self.publish_status()
        return ""

    def config_text(self) -> str:
        lines = []
        for fn, d in self.functions().items():
            lines.append(f"{fn}: {d['provider']} {d['model']}  (escolhido: {d['configured']} {d['configured_model']};"
                         f" ordem: {' > '.join(d['chain'])})")
        lines.append(f"ollama: {'up' if self.ollama_up else 'down'} ({self.settings.OLLAMA_HOST}); "
                     f"embutido: {'sim' if self.embedded_ok else 'não'}")
        lines.append("/config <função> <provedor> [modelo] troca na hora (ex.: /config code deepseek)")
        return "\n".join(lines)

    # -- pull --------------------------------------------------------------------------------
    async def pull(self, model: str) -> None:
        ol = self.provider("ollama")
        last = 0.0
        try:
            async for p in ol.pull(model):
                now = time.monotonic()
                done = p["status"] == "success"
                if done or now - last >= 0.1:
                    last = now
                    self.publish("status", service=self.name,
                                 data={**self.status_data(), "pull": {"model": model, **p}})
        except ProviderError as err:
            self.publish("status", service=self.name,
                         data={**self.status_data(), "pull": {"model": model, "status": "error", "error": str(err),
                                                              "completed": 0, "total": 0}})
            self.notice("error", f"pull {model}: {err}", "pull-failed")
            return
        await self.check_ollama()
        self.notice("info", f"modelo {model} baixado", "pulled")
        self.publish_status()
