"""A fake brain on the real bus for UI tests: answers user-text with reply-start, tokens and reply-end."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from shared.bus import Bus
from shared.messages import Frame

CODE_REPLY = "Aqui está:\n\n```python\nprint('oi')\n```\n\nPronto."


class FakeBrain:
    """``Bus("brain")`` in the test's loop. ``reply`` is the markdown to stream (split in small tokens)."""

    def __init__(self, reply: str = CODE_REPLY, *, token_delay: float = 0.0, silent: bool = False,
                 fail: str = "", services: tuple[str, ...] = ("brain",)) -> None:
        self.reply = reply
        self.token_delay = token_delay
        self.silent = silent
        self.fail = fail
        self.services = services
        self.bus = Bus("brain")
        self.bus.subscribe()
        self.received: list[Frame] = []
        self.commands: list[Frame] = []
        self.epoch = 0
        self.seen_ui = asyncio.Event()
        self.functions = {"chat": {"provider": "ollama", "model": "dolphin-mistral"},
                          "code": {"provider": "ollama", "model": "qwen2.5-coder:7b"},
                          "vision": {"provider": "ollama", "model": "minicpm-v"}}
        self.history: list[dict[str, Any]] = [{"id": "c1", "title": "Primeira conversa", "created": 1.79e9,
                                               "updated": 1.79e9, "count": 2}]
        self._tasks: list[asyncio.Task[Any]] = []
        self._cancel = asyncio.Event()

    async def __aenter__(self) -> FakeBrain:
        self._tasks = [asyncio.create_task(self._loop()), asyncio.create_task(self._beat())]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self.bus.close()

    async def _beat(self) -> None:
        while True:
            for svc in self.services:
                # the fake may speak for several services (the bus identity stays "brain")
                self.bus.publish("heartbeat", service=svc, state="ready", counters={},
                                 info={"level": 0.5} if svc == "capture" else {})
            self.bus.publish("status", service="brain", data={"functions": self.functions})
            await asyncio.sleep(0.2)

    async def _loop(self) -> None:
        while True:
            f = await self.bus.recv_event()
            if f.source == "ui":
                self.seen_ui.set()
            if f.type == "user-text":
                self.received.append(f)
                if not self.silent:
                    asyncio.create_task(self._answer(f))
            elif f.type == "command":
                self.commands.append(f)
                await self._command(f)

    async def _command(self, f: Frame) -> None:
        name = f["name"]
        if name == "cancel":
            self._cancel.set()
        elif name == "history-list":
            self.bus.publish("history", conversations=self.history, current="c1")
        elif name == "history-open":
            cid = (f.get("args") or {}).get("id", "")
            self.bus.publish("conversation", id=cid, messages=[
                {"role": "user", "content": "pergunta antiga", "provider": "", "model": "", "ok": True},
                {"role": "assistant", "content": "resposta antiga", "provider": "ollama",
                 "model": "dolphin-mistral", "ok": True}])
        elif name == "new-conversation":
            self.bus.publish("conversation", id="c2", messages=[], title="")
        elif name == "config-set":
            a = f.get("args") or {}
            self.functions[a["function"]] = {"provider": a["provider"], "model": a["model"]}
            self.bus.publish("config", functions=self.functions, options={"providers": ["ollama", "deepseek"]})
        elif name == "config-get":
            self.bus.publish("config", functions=self.functions, options={"providers": ["ollama", "deepseek"]})

    async def _answer(self, f: Frame) -> None:
        self.epoch += 1
        ep, tid = self.epoch, f.turn_id
        self._cancel.clear()
        self.bus.publish("reply-start", turn_id=tid, intent="chat", provider="ollama", model="dolphin-mistral",
                         epoch=ep)
        if self.fail:
            self.bus.publish("reply-end", turn_id=tid, ok=False, error=self.fail, epoch=ep, provider="ollama",
                             model="dolphin-mistral")
            return
        text = ""
        step = 4
        for i in range(0, len(self.reply), step):
            if self._cancel.is_set():
                self.bus.publish("reply-end", turn_id=tid, ok=False, cancelled=True, text=text, epoch=ep)
                return
            piece = self.reply[i:i + step]
            text += piece
            self.bus.publish("token", turn_id=tid, text=piece, epoch=ep)
            await asyncio.sleep(self.token_delay)
        self.bus.publish("reply-end", turn_id=tid, ok=True, text=text, epoch=ep, provider="ollama",
                         model="dolphin-mistral", timings={"total_ms": 42.0})
