"""Driving the voice services from a test: a bus that records every event it hears."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from shared.bus import Bus
from shared.messages import Frame


class Driver:
    """A test's own bus identity (publisher ``name``) that keeps every event in ``events``."""

    def __init__(self, name: str = "ctl", produce: tuple[str, ...] = ()) -> None:
        self.bus = Bus(name)
        self.bus.subscribe()
        for s in produce:
            self.bus.produce(s)
        self.events: list[Frame] = []
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> Driver:
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self.bus.close()

    async def _collect(self) -> None:
        while True:
            self.events.append(await self.bus.recv_event())

    def of(self, type_: str, **match: Any) -> list[Frame]:
        return [f for f in self.events if f.type == type_ and all(f.get(k) == v for k, v in match.items())]

    def heard(self) -> list[str]:
        """The user's spoken turns as they stand: a transcript that ``continues`` another replaces it
        (stt joined the two utterances), as in the brain's history and on the UI's screen."""
        kept: dict[str, str] = {}
        for f in self.of("transcript"):
            kept.pop(f.get("continues") or "", None)
            kept[f.turn_id] = f["text"]
        return list(kept.values())

    def heartbeat(self, service: str) -> Frame | None:
        hbs = [f for f in self.events if f.type == "heartbeat" and f["service"] == service]
        return hbs[-1] if hbs else None

    async def wait(self, pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            res = pred()
            if res:
                return res
            if time.monotonic() > deadline:
                seen = [(f.type, f.source) for f in self.events if f.type != "heartbeat"][-30:]
                raise AssertionError(f"{what} not met within {timeout}s; last events: {seen}")
            await asyncio.sleep(0.02)

    async def ready(self, *services: str, timeout: float = 60.0) -> dict[str, Frame]:
        out = {}
        for s in services:
            out[s] = await self.wait(lambda s=s: self._ready_frame(s), timeout, f"{s} ready")
        return out

    def _ready_frame(self, service: str) -> Frame | None:
        # the ready event, or a heartbeat saying so if we connected after it went by
        for f in self.events:
            if f.get("service") == service and (f.type == "ready" or (
                    f.type == "heartbeat" and f["state"] in ("ready", "no-device", "degraded"))):
                return f
        return None

    async def push_until(self, stream: str, type_: str, timeout: float = 10.0, **kw: Any) -> None:
        """Push one stream frame, retrying while the consumer's socket is not connected yet."""
        deadline = time.monotonic() + timeout
        while not self.bus.push(stream, type_, **kw):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not push {type_} to {stream}")
            await asyncio.sleep(0.02)
