"""The service base every Luna process builds on.

It gives each service the same life: heartbeats from the first second (state
``starting`` while a model loads), ``ready`` once :meth:`Service.setup` returns,
counters on every heartbeat, a view of its peers' health, and a SIGTERM that
finishes the frame in hand, says ``stopping`` and closes the sockets with a
bounded linger. Producers call :meth:`Service.wait_ready` on their consumer
before streaming, because supervisord starts programs in priority order but
never waits for readiness (Supervisor issue #122).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import Counter
from typing import Any

from shared import config, i18n, logs, private
from shared.bus import Bus
from shared.endpoints import STREAM_OWNER
from shared.messages import CATALOGUE, EVENT, Frame, FrameError, clip_strings

#: Every service hears its peers' life (``Peers``: wait_ready, the status of a consumer).
LIFE_EVENTS = ("heartbeat", "ready", "stopping")
HEARTBEAT_S = 1.0
#: A receive loop hands the event loop back at least this often, whatever the input rate.
YIELD_S = 0.005
#: A peer whose heartbeat is older than this is shown as down.
PEER_TIMEOUT_S = 3.0
STOP_GRACE_S = 5.0


class Peers:
    """Last heartbeat of every other service: ``state`` and when we heard it."""

    def __init__(self) -> None:
        self.state: dict[str, str] = {}
        self.seen: dict[str, float] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.changed = asyncio.Event()

    def update(self, f: Frame) -> None:
        svc = f.get("service", f.source)
        if f.type == "heartbeat":
            self.state[svc] = f["state"]
            self.info[svc] = {**(f.get("info") or {}), "counters": f["counters"]}
        elif f.type == "ready":
            self.state[svc] = "ready"
        elif f.type == "stopping":
            self.state[svc] = "down"
        else:
            return
        self.seen[svc] = time.monotonic()
        self.changed.set()

    def status(self, svc: str, now: float | None = None) -> str:
        """``up`` states as reported, ``down`` when silent for PEER_TIMEOUT_S or never heard."""
        seen = self.seen.get(svc)
        if seen is None or (now or time.monotonic()) - seen > PEER_TIMEOUT_S:
            return "down"
        return self.state.get(svc, "down")

    def is_ready(self, svc: str) -> bool:
        return self.status(svc) in ("ready", "degraded", "no-device")


def _idle_if_elsewhere(name: str) -> None:
    """In a satellite pair, a service that runs on the other host idles here until SIGTERM."""
    from shared import endpoints

    there = endpoints.runs_elsewhere(name)
    if there is None:
        return
    print(f"{name} runs on {there} (satellite pair); idle here", flush=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    raise SystemExit(0)


def event_topics(listens: tuple[str, ...] | None) -> list[bytes]:
    """SUB topics for the event types a service hears (``None``: every event), checked against the catalogue.

    Why per topic: each token and heartbeat used to be decoded and validated by six
    processes that mostly ignored it. A type that is not a catalogue event is a typo
    that would leave the service deaf, so it fails at start instead.
    """
    if listens is None:
        return [b"ev."]
    wanted = dict.fromkeys((*LIFE_EVENTS, *listens))
    bad = [t for t in wanted if t not in CATALOGUE or CATALOGUE[t].kind != EVENT]
    if bad:
        raise ValueError(f"listens names no catalogue event: {bad}")
    return [b"ev." + t.encode() for t in wanted]


class Service:
    """Base class: subclasses set ``name``, ``consumes``/``produces``/``listens`` and override the hooks."""

    name: str = "service"
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    #: Event types :meth:`on_event` acts on (``LIFE_EVENTS`` are always heard); None: every event.
    #: A subscription is a topic prefix, so ``transcript`` also brings ``transcript-partial``.
    listens: tuple[str, ...] | None = None

    def __init__(self) -> None:
        private.secure_process()  # history, logs and recordings are created 0600 in 0700 dirs
        _idle_if_elsewhere(self.name)
        self.settings, self.config_errors = config.load_lenient()
        logs.add_secrets(self.settings.secrets())
        self.log = logs.setup(self.name, self.settings.LOG_LEVEL)
        self.bus = Bus(self.name)
        self.bus.subscribe(event_topics(self.listens))
        for s in self.consumes:
            self.bus.consume(s)
        for s in self.produces:
            self.bus.produce(s)
        self.state = "starting"
        self.counters: Counter[str] = Counter()
        self.info: dict[str, Any] = {}
        self.problems: dict[str, str] = {e.key: str(e) for e in self.config_errors}
        self.peers = Peers()
        self.stopping = asyncio.Event()
        self._busy = 0
        self._tasks: list[asyncio.Task[Any]] = []

    # -- hooks -----------------------------------------------------------------------
    async def setup(self) -> None:
        """Load models and devices. Runs while heartbeats say ``starting``; ``ready`` follows."""

    async def on_event(self, f: Frame) -> None:
        """Called for every event this service listens to (including our own)."""

    async def on_stream(self, stream: str, f: Frame) -> None:
        """Called for every frame pulled from a stream this service consumes."""

    async def main(self) -> None:
        """Optional long-running work (a capture loop); runs after ``ready``."""
        await self.stopping.wait()

    async def teardown(self) -> None:
        """Release devices and models after the loops stopped."""

    def queue_depth(self) -> int:
        return 0

    # -- helpers ---------------------------------------------------------------------
    def publish(self, type_: str, **kw: Any) -> Frame:
        self.counters["frames_out"] += 1
        if logs.has_secrets():  # a provider's error text may echo an API key: never put it on the bus
            kw = {k: logs.redact_value(v) for k, v in kw.items()}
        try:
            return self.bus.publish(type_, **kw)
        except FrameError as err:  # our own text over its bound (a long error page): cut it, say it anyway
            if err.reason != "out-of-bounds":
                raise
            self.log.warning("clipped an over-long %s before publishing: %s", type_, err)
            return self.bus.publish(type_, **clip_strings(type_, kw))

    def say(self, key: str, **fields: Any) -> str:
        """A catalogue line (shared/i18n) in the user's LANGUAGE, for notices and heartbeat problems."""
        return i18n.say(key, self.settings.LANGUAGE, **fields)

    def notice(self, level: str, text: str, code: str = "") -> None:
        """One line for the person at the keyboard (and the log)."""
        self.log.log(logging.WARNING if level in ("warning", "error") else logging.INFO, text,
                     extra={"fields": {"code": code}})
        self.publish("notice", service=self.name, level=level, text=logs.redact(text), code=code)

    async def wait_ready(self, service: str, timeout: float | None = None) -> bool:
        """Wait until ``service`` says it is ready (its ``ready`` event or heartbeat)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.peers.is_ready(service):
            if self.stopping.is_set():
                return False
            self.peers.changed.clear()
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.peers.changed.wait(), timeout=min(left or 1.0, 1.0))
        return True

    def consumer_of(self, stream: str) -> str:
        return STREAM_OWNER[stream]

    def heartbeat_frame(self) -> dict[str, Any]:
        counters = dict(self.counters)
        counters["rejected"] = self.bus.rejects.total
        counters["drops"] = counters.get("drops", 0) + sum(self.bus.dropped.values())
        counters["queue"] = self.queue_depth()
        info = dict(self.info)
        if self.problems:
            info["problems"] = list(self.problems.values())
        if self.bus.rejects.counts:
            info["rejects"] = dict(self.bus.rejects.counts)
        return {"service": self.name, "state": self.state, "counters": counters, "info": info, "pid": os.getpid()}

    # -- loops -----------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        while True:
            try:
                if self.bus.rebind_missing():  # the runtime dir was deleted under us: reachable again
                    self.counters["rebinds"] += 1
                self.publish("heartbeat", **self.heartbeat_frame())
            except Exception:  # one bad beat (a counter the catalogue refuses) must not end the heartbeat
                self.log.exception("heartbeat failed")
            await asyncio.sleep(HEARTBEAT_S)

    async def _yield(self, last: float) -> float:
        """Give the event loop back when this loop has held it for YIELD_S.

        Why: a frame already queued (or drained into the bus's buffer) is handed out
        without a real suspension, so under a flood a receive loop never let the
        heartbeat run: 100k frames into stt silenced it for 8 s and the watchdog
        killed a working service. ``sleep(0)`` lets due timers (the heartbeat) run.
        """
        now = time.monotonic()
        if now - last < YIELD_S:
            return last
        await asyncio.sleep(0)
        return time.monotonic()

    async def _event_loop(self) -> None:
        last = time.monotonic()
        while True:
            last = await self._yield(last)
            f = await self.bus.recv_event()
            self._busy += 1
            try:
                self.peers.update(f)
                await self.on_event(f)
            except Exception:
                self.log.exception("event handler failed on %s", f.type)
            finally:
                self._busy -= 1
            if self.stopping.is_set():
                return

    async def _stream_loop(self, stream: str) -> None:
        last = time.monotonic()
        while True:
            last = await self._yield(last)
            f = await self.bus.recv_stream(stream)
            self.counters["frames_in"] += 1
            self._busy += 1
            try:
                self.bus.summarize_received(f)
                await self.on_stream(stream, f)
            except Exception:
                self.log.exception("stream handler failed on %s", f.type)
            finally:
                self._busy -= 1
            if self.stopping.is_set():
                return

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        t = asyncio.create_task(coro, name=name)
        self._tasks.append(t)
        return t

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        for err in self.config_errors:
            self.log.error(str(err))
        self._spawn(self.bus.pump_subscriptions(), "xpub")
        self._spawn(self._heartbeat(), "heartbeat")
        self._spawn(self._event_loop(), "events")
        setup = asyncio.create_task(self.setup())
        await asyncio.wait([setup, asyncio.create_task(self.stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
        if setup.done() and setup.exception() is None:
            if self.state == "starting":
                self.state = "ready"
            self.publish("ready", service=self.name, detail=self.info)
            self.log.info("ready", extra={"fields": {"info": self.info}})
            for s in self.consumes:
                self._spawn(self._stream_loop(s), f"stream-{s}")
            main = self._spawn(self.main(), "main")
            await asyncio.wait([main, asyncio.create_task(self.stopping.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            if main.done() and not main.cancelled() and main.exception() is not None:
                self.log.error("main loop failed: %s", main.exception())
        elif setup.done():
            exc = setup.exception()
            self.log.error("setup failed: %s", exc, exc_info=exc)
            self.notice("error", self.say("service.setup-failed", name=self.name, err=exc), "setup-failed")
            self.state = "failed"
            self.publish("heartbeat", **self.heartbeat_frame())
            await asyncio.sleep(0.2)
        await self._shutdown(setup)

    async def _shutdown(self, setup: asyncio.Task[Any]) -> None:
        self.state = "stopping"
        deadline = time.monotonic() + STOP_GRACE_S
        while self._busy and time.monotonic() < deadline:  # finish the frame in hand
            await asyncio.sleep(0.01)
        setup.cancel()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.teardown(), timeout=STOP_GRACE_S)
        self.publish("stopping", service=self.name)
        await asyncio.sleep(0.05)
        self.bus.close()
        self.log.info("stopped")

    def run(self) -> None:
        """Entry point for ``python -m services.<name>``."""
        asyncio.run(self._run())
