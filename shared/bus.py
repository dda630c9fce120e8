"""Luna's bus: brokerless ZeroMQ pub/sub for events, push/pull for streams.

Why brokerless: every service can be restarted alone (there is no forwarder whose
restart would cut everyone off), and ZeroMQ reconnects on its own.

* Each publisher binds an XPUB socket at its own endpoint; every subscriber
  connects to all publishers. XPUB lets us see whether a tap subscribed to stream
  summaries, so the summary copies cost nothing when nobody is looking.
* Each stream's consumer binds a PULL socket with a bounded high-water mark;
  producers connect PUSH with ``IMMEDIATE`` so nothing queues toward a consumer
  that is not there, and sends never block (a refused send is counted as a drop
  and the caller decides: ring buffer, retry, or give up).
* On TCP every socket is CURVE-encrypted and authenticated (:mod:`shared.curve`):
  bound sockets are CURVE servers behind the ZAP authenticator, connecting ones
  CURVE clients that check the server's key. Failed handshakes are counted as
  ``auth`` rejects and logged. A port held by someone else is not fatal: the bind
  is retried with backoff and the holder is named in the log, so a squatter can
  neither crash-loop a service nor (without the key) talk to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

import zmq
import zmq.asyncio

from shared import curve, endpoints
from shared.messages import (
    STREAM_PREFIX,
    Frame,
    FrameError,
    decode_event,
    decode_stream,
    encode_event,
    encode_stream,
    encode_summary,
    make,
)

log = logging.getLogger("luna.bus")

#: Sockets close with at most this much linger so a SIGTERM never hangs on a dead peer.
LINGER_MS = 200
STREAM_HWM = 200  # frames; 200 x 20 ms audio = 4 s of buffering at most
EVENT_HWM = 10_000
DRAIN_MAX = 64  # frames taken per wake-up
#: Rejected frames handled in a row before the receive loop yields to the event loop.
REJECT_YIELD = 64
# No ZMQ_MAXMSGSIZE on any socket (issue 13, 4): libzmq drops a peer that sends more and
# nothing reconnects it, so one 16 MB event cut its publisher off from every subscriber
# for good. Oversized frames are instead rejected (counted, logged) by the catalogue's
# own limits (messages.MAX_ENVELOPE_BYTES, MAX_PAYLOAD_BYTES) and the peer stays.


class Rejects:
    """Counts and rate-limits logging of rejected frames (reason -> count)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, err: FrameError, where: str) -> None:
        self.note(err.reason, where, str(err))

    def note(self, reason: str, where: str, detail: str, what: str = "dropped frame") -> None:
        self.counts[reason] += 1
        n = self.counts[reason]
        if n <= 5 or n % 1000 == 0:  # log the first few and then every thousandth
            log.warning("%s on %s: %s (count %d)", what, where, detail, n)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


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
        self._summary_subs = 0
        self._pending: dict[Any, deque[list[bytes]]] = {}
        self._shadows: dict[Any, zmq.Socket] = {}
        self._tcp = endpoints.transport() == "tcp"
        self._monitors: list[tuple[zmq.Socket, Any, str]] = []
        self._redial: dict[tuple[int, str], list[Any]] = {}  # [socket, endpoint, when (or None), delay]
        self._guard_task: asyncio.Task[None] | None = None
        self._unbound: list[list[Any]] = []  # [socket, address, next try (monotonic), delay]
        self._ipc_bound: list[tuple[Any, str]] = []  # for rebind_missing()
        if name:
            self._pub = self._socket(zmq.XPUB)
            self._pub.setsockopt(zmq.SNDHWM, EVENT_HWM)
            self._bind(self._pub, endpoints.event_endpoint(name, bind=True))

    # -- sockets -------------------------------------------------------------------
    def _socket(self, kind: int) -> Any:
        s = (self.actx if kind in (zmq.SUB, zmq.PULL) else self.ctx).socket(kind)
        s.setsockopt(zmq.LINGER, LINGER_MS)
        return s

    def _bind(self, sock: zmq.Socket, addr: str) -> None:
        endpoints.check_bind_address(addr)
        if addr.startswith("ipc://"):
            self._ipc_bound.append((sock, addr))
        if self._tcp:
            curve.secure_server(sock, self.ctx)
            self._watch(sock, addr)
        try:
            sock.bind(addr)
        except zmq.ZMQError as err:
            if err.errno != errno.EADDRINUSE or not self._tcp:
                raise
            log.error("bus port %s is held by another process (%s); retrying with backoff, not exiting",
                      addr, port_holder(addr))
            self.rejects.note("port-in-use", addr, "port held by another process", "cannot bind")
            self._unbound.append([sock, addr, time.monotonic() + 0.5, 0.5])

    def rebind_missing(self) -> list[str]:
        """Bind again every ipc socket whose file vanished (the runtime dir was deleted while running).

        Why: connected peers keep working on an unlinked ipc socket, but nobody new (a UI
        started later, ``luna send``, a restarted service) can reach it; the service itself
        would never notice. The private directory is recreated 0700 first.
        """
        again = []
        for sock, addr in self._ipc_bound:
            path = addr[len("ipc://"):]
            if os.path.exists(path):
                continue
            try:
                endpoints.runtime_dir()
                with contextlib.suppress(zmq.ZMQError):
                    sock.unbind(addr)
                sock.bind(addr)
                again.append(addr)
            except (OSError, zmq.ZMQError, endpoints.EndpointError) as err:
                log.error("cannot bind %s again: %s", addr, err)
        if again:
            log.warning("socket files were deleted; bound again: %s", ", ".join(again))
        return again

    def _connect(self, sock: Any, addr: str) -> None:
        if self._tcp:
            curve.secure_client(sock, addr)
            if not any(m[1] is sock for m in self._monitors):
                self._watch(sock, "")
        sock.connect(addr)

    _FAILED = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL \
        | zmq.EVENT_HANDSHAKE_FAILED_AUTH

    def _watch(self, sock: Any, addr: str) -> None:
        """Watch a tcp socket's CURVE handshakes (``addr`` empty: a connecting socket).

        A server socket counts the peers it refused. A connecting socket matters more:
        libzmq gives up on an endpoint for good after one failed handshake (a squatter
        on the port, or a key not yet admitted), so we reconnect it with backoff.
        """
        where = f"inproc://luna-monitor-{id(self)}-{len(self._monitors)}"
        sock.monitor(where, self._FAILED)
        mon = self.ctx.socket(zmq.PAIR)
        mon.setsockopt(zmq.LINGER, 0)
        mon.connect(where)
        self._monitors.append((mon, sock, addr))

    def poll_security(self) -> None:
        """Count refused handshakes, reconnect endpoints whose handshake failed, retry held binds."""
        now = time.monotonic()
        for mon, sock, addr in self._monitors:
            while True:
                try:
                    parts = mon.recv_multipart(flags=zmq.NOBLOCK)  # only the failure events were asked for
                except zmq.ZMQError:  # Again: nothing more
                    break
                if addr:
                    self.rejects.note("auth", addr, "a peer without a valid CURVE key", "refused a connection")
                    continue
                ep = parts[1].decode(errors="replace") if len(parts) > 1 else ""
                key = (id(sock), ep)
                delay = min(self._redial.get(key, [None, "", 0, 0.25])[3] * 2, 5.0)
                self._redial[key] = [sock, ep, now + delay, delay]
                self.rejects.note("auth-peer", ep, f"the peer did not prove Luna's key (a squatter on the port, "
                                  f"or a key not admitted there); reconnecting in {delay:.1f} s", "refused a peer")
        for entry in list(self._redial.values()):
            sock, ep, due, delay = entry
            if due is None or now < due:
                continue
            with contextlib.suppress(zmq.ZMQError):
                sock.disconnect(ep)
            self._connect(sock, ep)
            entry[2] = None  # keeps its delay: the next failure backs off further
        for entry in list(self._unbound):
            sock, addr, due, delay = entry
            if now < due:
                continue
            try:
                sock.bind(addr)
            except zmq.ZMQError:
                entry[2], entry[3] = now + min(delay * 2, 10.0), min(delay * 2, 10.0)
                continue
            log.warning("bus port %s is free again; bound", addr)
            self._unbound.remove(entry)

    async def _guard(self, every: float = 0.2) -> None:
        """poll_security on the receiving loop for Bus users that do not pump (tools, the UI, tests)."""
        while True:
            self.poll_security()
            await asyncio.sleep(every)

    @property
    def unbound(self) -> list[str]:
        """Addresses this process should be bound to but whose port someone else holds."""
        return [e[1] for e in self._unbound]

    def subscribe(self, prefixes: Iterable[bytes] = (b"ev.",), publishers: Iterable[str] | None = None) -> None:
        """Connect a SUB socket to every publisher, filtered by topic prefix."""
        if self._sub is None:
            self._sub = self._socket(zmq.SUB)
            self._sub.setsockopt(zmq.RCVHWM, EVENT_HWM)
            for p in publishers or endpoints.PUBLISHERS:
                self._connect(self._sub, endpoints.event_endpoint(p))
        for pre in prefixes:
            self._sub.setsockopt(zmq.SUBSCRIBE, pre)

    def consume(self, stream: str, hwm: int = STREAM_HWM) -> None:
        """Bind the PULL socket of ``stream`` (this process is its consumer)."""
        s = self._socket(zmq.PULL)
        s.setsockopt(zmq.RCVHWM, hwm)
        self._bind(s, endpoints.stream_endpoint(stream, bind=True))
        self._pull[stream] = s

    def produce(self, stream: str, hwm: int = STREAM_HWM) -> None:
        """Connect a PUSH socket toward ``stream``'s consumer."""
        s = self._socket(zmq.PUSH)
        s.setsockopt(zmq.SNDHWM, hwm)
        s.setsockopt(zmq.IMMEDIATE, 1)
        self._connect(s, endpoints.stream_endpoint(stream))
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
        if self._summary_subs and self._pub is not None:
            try:
                self._pub.send_multipart(encode_summary(f), flags=zmq.NOBLOCK)
            except zmq.Again:
                pass
        return True

    def summarize_received(self, f: Frame) -> None:
        """Consumers call this for stream frames they pull, so the tap sees streams whose producer is a tool."""
        if self._summary_subs and self._pub is not None:
            try:
                self._pub.send_multipart(encode_summary(f), flags=zmq.NOBLOCK)
            except zmq.Again:
                pass

    def poll_subscriptions(self) -> None:
        """Read pending XPUB (un)subscriptions so stream summaries are only built when a tap listens."""
        if self._monitors or self._unbound:
            self.poll_security()
        if self._pub is None:
            return
        while True:
            try:
                msg = self._pub.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            topic = msg[1:]
            if msg and (STREAM_PREFIX.startswith(topic) or topic.startswith(STREAM_PREFIX)):
                self._summary_subs = max(self._summary_subs + (1 if msg[0] == 1 else -1), 0)

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
        if self._guard_task is None and (self._monitors or self._unbound):
            self._guard_task = asyncio.ensure_future(self._guard())
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
        for mon, _, _ in self._monitors:
            mon.close(linger=0)
        for s in [self._pub, self._sub, *self._push.values(), *self._pull.values()]:
            if s is not None:
                s.close(linger=LINGER_MS)


def port_holder(addr: str) -> str:
    """Who listens on ``addr``'s TCP port, from /proc (best effort: 'uid N' or 'unknown')."""
    try:
        port = int(addr.rsplit(":", 1)[1])
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        import pwd

                        uid = int(cols[7])
                        try:
                            return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
                        except KeyError:
                            return f"uid {uid}"
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    return "holder unknown"
