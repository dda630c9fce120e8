"""The UI's side of the bus: one ``Bus("ui")`` owned by an asyncio task on the app's loop.

Every event from the bus becomes a :class:`BusEvent` Textual message posted to the
app; sending never blocks and never raises (a failure is reported, the UI goes on).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from typing import Any

from textual.message import Message

from shared.bus import Bus
from shared.endpoints import SUPERVISED
from shared.messages import Frame
from shared.service import Peers

log = logging.getLogger("luna.ui.bus")

#: Services shown in the status bar, in pipeline order.
SERVICES = SUPERVISED  # shared/endpoints.py declares the service list once


class BusEvent(Message):
    """One frame from the bus, delivered on the app's message queue."""

    def __init__(self, frame: Frame) -> None:
        super().__init__()
        self.frame = frame


class BusClient:
    """Owns the UI's bus connection; ``target`` receives :class:`BusEvent` messages."""

    def __init__(self, target: Any, name: str = "ui") -> None:
        self.target = target
        self.name = name
        self.bus: Bus | None = None
        self.peers = Peers()
        self.error = ""
        self.received = 0
        self.sent: list[Frame] = []  # the last frames we published (tests and the tap-less debug view)
        self._tasks: list[asyncio.Task[Any]] = []
        self.started = time.monotonic()

    @property
    def ok(self) -> bool:
        return self.bus is not None

    def start(self) -> bool:
        """Connect (call from the app's running loop). Returns False, with ``error`` set, on failure."""
        try:
            self.bus = Bus(self.name)
            self.bus.subscribe()
        except Exception as exc:  # a bad runtime dir, a bind refused: the UI still runs
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("bus unavailable: %s", self.error)
            self.bus = None
            return False
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._recv_loop(), name="ui-bus-recv"),
                       loop.create_task(self._heartbeat_loop(), name="ui-bus-heartbeat")]
        return True

    async def _recv_loop(self) -> None:
        assert self.bus is not None
        while True:
            try:
                f = await self.bus.recv_event()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a closed socket or a zmq hiccup must never kill the UI
                log.warning("bus receive failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if f.source == self.name:
                continue  # our own echo
            self.received += 1
            try:
                self.peers.update(f)
                self.target.post_message(BusEvent(f))
            except Exception as exc:
                log.warning("could not deliver %s: %s", f.type, exc)

    async def _heartbeat_loop(self) -> None:
        while True:
            self.publish("heartbeat", service=self.name, state="ready",
                         counters={"frames_in": self.received, "frames_out": len(self.sent)}, pid=os.getpid())
            await asyncio.sleep(1.0)

    def publish(self, type_: str, *, turn_id: str = "", **data: Any) -> Frame | None:
        """Publish an event; returns the frame, or None when the bus is unavailable or the frame is invalid."""
        if self.bus is None:
            return None
        try:
            f = self.bus.publish(type_, turn_id=turn_id, **data)
        except Exception as exc:
            log.warning("publish %s failed: %s", type_, exc)
            return None
        if type_ != "heartbeat":
            self.sent.append(f)
            del self.sent[:-50]
        return f

    def send_text(self, text: str, image: str | None = None, conversation_id: str | None = None) -> str:
        """Publish ``user-text`` with a fresh turn id; returns the turn id."""
        tid = uuid.uuid4().hex
        data: dict[str, Any] = {"text": text}
        if image:
            data["image"] = image
        if conversation_id:
            data["conversation_id"] = conversation_id
        self.publish("user-text", turn_id=tid, **data)
        return tid

    def command(self, name: str, turn_id: str = "", **args: Any) -> Frame | None:
        if args:
            return self.publish("command", turn_id=turn_id, name=name, args=args)
        return self.publish("command", turn_id=turn_id, name=name)

    def status(self, svc: str) -> str:
        return self.peers.status(svc)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.bus is not None:
            try:
                self.bus.publish("stopping", service=self.name)
            except Exception:
                pass
            self.bus.close()
            self.bus = None
