"""One process's view of Luna's bus: brokerless ZeroMQ pub/sub for events, push/pull for streams.

Why brokerless: every service can be restarted alone (there is no forwarder whose
restart would cut everyone off), and ZeroMQ reconnects on its own.

* Each publisher binds an XPUB socket at its own endpoint; every subscriber
  connects to all publishers. XPUB lets us see whether a tap subscribed to stream
  summaries (:mod:`.summaries`), so the summary copies cost nothing when nobody is looking.
* Each stream's consumer binds a PULL socket with a bounded high-water mark;
  producers connect PUSH with ``IMMEDIATE`` so nothing queues toward a consumer
  that is not there, and sends never block (a refused send is counted as a drop
  and the caller decides: ring buffer, retry, or give up).
* Binding and connecting (CURVE on TCP, refused handshakes, ports held by someone
  else) is :mod:`.sockets`; frames refused on receipt are counted in :mod:`.rejects`.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

import zmq
import zmq.asyncio

from shared import endpoints
from shared.bus.rejects import Rejects
from shared.bus.sockets import LINGER_MS, Sockets
from shared.bus.summaries import Summaries
from shared.messages import Frame, FrameError, decode_event, decode_stream, encode_event, encode_stream, make

STREAM_HWM = 200  # frames; 200 x 20 ms audio = 4 s of buffering at most
EVENT_HWM = 10_000
DRAIN_MAX = 64  # frames taken per wake-up
#: Rejected frames handled in a row before the receive loop yields to the event loop.
REJECT_YIELD = 64
# No ZMQ_MAXMSGSIZE on any socket (issue 13, 4): libzmq drops a peer that sends more and
# nothing reconnects it, so one 16 MB event cut its publisher off from every subscriber
# for good. Oversized frames are instead rejected (counted, logged) by the catalogue's
# own limits (messages.MAX_ENVELOPE_BYTES, MAX_PAYLOAD_BYTES) and the peer stays.


class Bus:
    """One process's view of the bus.

    ``name`` is the publisher identity (one of :data:`endpoints.PUBLISHERS`) or
    None for a listen-only client such as the tap.
    """

    def __init__(self, name: str | None, ctx: zmq.Context | None = None) -> None:
        self.name = name or ""
        # Sending sockets are plain (synchronous) sockets: a NOBLOCK send must raise
        # at once, never hand back a future. Receiving sockets are asyncio sockets
        # on a shadow of the same context.
        self.ctx = ctx or zmq.Context.instance()
        self.actx = zmq.asyncio.Context(self.ctx)
        self.rejects = Rejects()
        self.sent = 0
        self.dropped: Counter[str] = Counter()
        self._seq: Counter[str] = Counter()
        self._pub: zmq.Socket | None = None
        self._sub: zmq.asyncio.Socket | None = None
        self._push: dict[str, zmq.Socket] = {}
        self._pull: dict[str, zmq.asyncio.Socket] = {}
        self._summaries = Summaries()
        self._pending: dict[Any, deque[list[bytes]]] = {}
        self._shadows: dict[Any, zmq.Socket] = {}
        self._sockets = Sockets(self.ctx, self.actx, self.rejects)
        self._guard_task: asyncio.Task[None] | None = None
        if name:
            self._pub = self._sockets.socket(zmq.XPUB)
            self._pub.setsockopt(zmq.SNDHWM, EVENT_HWM)
            self._sockets.bind(self._pub, endpoints.event_endpoint(name, bind=True))

    # -- sockets -------------------------------------------------------------------
    def rebind_missing(self) -> list[str]:
        """Bind again every ipc socket whose file vanished (see :meth:`.sockets.Sockets.rebind_missing`)."""
        return self._sockets.rebind_missing()

    def poll_security(self) -> None:
        """Count refused handshakes, reconnect endpoints whose handshake failed, retry held binds."""
        self._sockets.poll_security()

    @property
    def unbound(self) -> list[str]:
        """Addresses this process should be bound to but whose port someone else holds."""
        return self._sockets.unbound

    def subscribe(self, prefixes: Iterable[bytes] = (b"ev.",), publishers: Iterable[str] | None = None) -> None:
        """Connect a SUB socket to every publisher, filtered by topic prefix."""
        if self._sub is None:
            self._sub = self._sockets.socket(zmq.SUB)
            self._sub.setsockopt(zmq.RCVHWM, EVENT_HWM)
            for p in publishers or endpoints.PUBLISHERS:
                self._sockets.connect(self._sub, endpoints.event_endpoint(p))
        for pre in prefixes:
            self._sub.setsockopt(zmq.SUBSCRIBE, pre)

    def consume(self, stream: str, hwm: int = STREAM_HWM) -> None:
        """Bind the PULL socket of ``stream`` (this process is its consumer)."""
        s = self._sockets.socket(zmq.PULL)
        s.setsockopt(zmq.RCVHWM, hwm)
        self._sockets.bind(s, endpoints.stream_endpoint(stream, bind=True))
        self._pull[stream] = s

    def produce(self, stream: str, hwm: int = STREAM_HWM) -> None:
        """Connect a PUSH socket toward ``stream``'s consumer."""
        s = self._sockets.socket(zmq.PUSH)
        s.setsockopt(zmq.SNDHWM, hwm)
        s.setsockopt(zmq.IMMEDIATE, 1)
        self._sockets.connect(s, endpoints.stream_endpoint(stream))
        self._push[stream] = s

    # -- sending ---------------------------------------------------------------------
    def _next_seq(self, key: str) -> int:
        self._seq[key] += 1
        return self._seq[key]

    def frame(self, type_: str, *, turn_id: str = "", payload: Any = None, **data: Any) -> Frame:
        return make(type_, source=self.name, seq=self._next_seq(type_), turn_id=turn_id, payload=payload, **data)

    def publish(self, type_: str, *, turn_id: str = "", payload: Any = None, **data: Any) -> Frame:
        """Publish an event (never blocks; a full HWM drops and counts)."""
        f = self.frame(type_, turn_id=turn_id, payload=payload, **data)
        self.publish_frame(f)
        return f

    def publish_frame(self, f: Frame) -> None:
        assert self._pub is not None, "a listen-only bus cannot publish"
        try:
            self._pub.send_multipart(encode_event(f), flags=zmq.NOBLOCK, copy=False)
            self.sent += 1
        except zmq.Again:
            self.dropped[f.type] += 1

    def push(self, stream: str, type_: str, *, turn_id: str = "", payload: Any = None, **data: Any) -> bool:
        """Send a stream frame; returns False (and counts a drop) if the consumer is absent or full."""
        return self.push_frame(stream, self.frame(type_, turn_id=turn_id, payload=payload, **data))

    def push_frame(self, stream: str, f: Frame) -> bool:
        try:
            self._push[stream].send_multipart(encode_stream(f), flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            self.dropped[stream] += 1
            return False
        self.sent += 1
        self._summaries.send(self._pub, f)
        return True

    def summarize_received(self, f: Frame) -> None:
        """Consumers call this for stream frames they pull, so the tap sees streams whose producer is a tool."""
        self._summaries.send(self._pub, f)

    def poll_subscriptions(self) -> None:
        """Read pending XPUB (un)subscriptions so stream summaries are only built when a tap listens."""
        if self._sockets.watching:
            self.poll_security()
        if self._pub is not None:
            self._summaries.poll(self._pub)

    async def pump_subscriptions(self, every: float = 0.2) -> None:
        while True:
            self.poll_subscriptions()
            await asyncio.sleep(every)

    # -- receiving -------------------------------------------------------------------
    async def _recv_parts(self, sock: zmq.asyncio.Socket) -> list[bytes]:
        """Next multipart message; after each wake-up, drain what is already queued.

        One trip through the event loop per burst instead of per frame: under load
        (an audio burst after a restart) this is what keeps the bus cheaper than a
        naive asyncio receive loop. Small frames are received as bytes because
        copying 640 B costs less than wrapping it in a zmq.Frame.
        """
        buf = self._pending.get(sock)
        if buf:
            return buf.popleft()
        if self._guard_task is None and self._sockets.watching:
            self._guard_task = asyncio.ensure_future(self._sockets.guard())
        parts = await sock.recv_multipart()
        shadow = self._shadows.get(sock)
        if shadow is None:
            shadow = self._shadows[sock] = zmq.Socket.shadow(sock.underlying)
            buf = self._pending[sock] = deque()
        for _ in range(DRAIN_MAX):
            try:
                buf.append(shadow.recv_multipart(flags=zmq.NOBLOCK))
            except zmq.Again:
                break
        return parts

    async def recv_event(self) -> Frame:
        """Next valid event (or stream summary); malformed frames are counted, logged and skipped."""
        assert self._sub is not None, "call subscribe() first"
        while True:
            parts = await self._recv_parts(self._sub)
            try:
                return decode_event(parts)
            except FrameError as err:
                self.rejects.add(err, "events")
                if self.rejects.total % REJECT_YIELD == 0:  # a flood of garbage must not starve the heartbeat
                    await asyncio.sleep(0)

    async def recv_stream(self, stream: str) -> Frame:
        sock = self._pull[stream]
        while True:
            parts = await self._recv_parts(sock)
            try:
                return decode_stream(parts)
            except FrameError as err:
                self.rejects.add(err, stream)
                if self.rejects.total % REJECT_YIELD == 0:
                    await asyncio.sleep(0)

    def pending(self, stream: str) -> int:
        """Frames of ``stream`` already taken off the socket but not yet handed out."""
        return len(self._pending.get(self._pull[stream], ()))

    def pull_socket(self, stream: str) -> zmq.asyncio.Socket:
        return self._pull[stream]

    @property
    def sub_socket(self) -> zmq.asyncio.Socket | None:
        return self._sub

    @property
    def pub_socket(self) -> zmq.Socket | None:
        return self._pub

    def close(self) -> None:
        if self._guard_task is not None:
            self._guard_task.cancel()
        self._sockets.close()
        for s in [self._pub, self._sub, *self._push.values(), *self._pull.values()]:
            if s is not None:
                s.close(linger=LINGER_MS)
