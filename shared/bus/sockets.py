"""Binding and connecting the bus's sockets: CURVE on TCP, handshake watching, and ports held by others.

Why its own module: this is the part of the bus that faces whoever else is on the machine
or the network. On TCP every socket is CURVE-encrypted and authenticated
(:mod:`shared.curve`): bound sockets are CURVE servers behind the ZAP authenticator,
connecting ones CURVE clients that check the server's key. Failed handshakes are counted
as ``auth`` rejects and logged. A port held by someone else is not fatal: the bind is
retried with backoff and the holder is named in the log, so a squatter can neither
crash-loop a service nor (without the key) talk to it. An ipc socket whose file vanished
is bound again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import time
from typing import Any

import zmq
import zmq.asyncio

from shared import curve, endpoints
from shared.bus.rejects import Rejects

log = logging.getLogger("luna.bus")

#: Sockets close with at most this much linger so a SIGTERM never hangs on a dead peer.
LINGER_MS = 200


class Sockets:
    """One bus's socket factory and the security state of its sockets (monitors, redials, held ports).

    Refusals are counted in the bus's :class:`Rejects`, so heartbeats report them.
    """

    def __init__(self, ctx: zmq.Context, actx: zmq.asyncio.Context, rejects: Rejects) -> None:
        self.ctx = ctx
        self.actx = actx
        self.rejects = rejects
        self._tcp = endpoints.transport() == "tcp"
        self._monitors: list[tuple[zmq.Socket, Any, str]] = []
        self._redial: dict[tuple[int, str], list[Any]] = {}  # [socket, endpoint, when (or None), delay]
        self._unbound: list[list[Any]] = []  # [socket, address, next try (monotonic), delay]
        self._ipc_bound: list[tuple[Any, str]] = []  # for rebind_missing()

    def socket(self, kind: int) -> Any:
        s = (self.actx if kind in (zmq.SUB, zmq.PULL) else self.ctx).socket(kind)
        s.setsockopt(zmq.LINGER, LINGER_MS)
        return s

    def bind(self, sock: zmq.Socket, addr: str) -> None:
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

    def connect(self, sock: Any, addr: str) -> None:
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
            self.connect(sock, ep)
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

    async def guard(self, every: float = 0.2) -> None:
        """poll_security on the receiving loop for Bus users that do not pump (tools, the UI, tests)."""
        while True:
            self.poll_security()
            await asyncio.sleep(every)

    @property
    def unbound(self) -> list[str]:
        """Addresses this process should be bound to but whose port someone else holds."""
        return [e[1] for e in self._unbound]

    @property
    def watching(self) -> bool:
        """Whether there is anything for :meth:`poll_security` to do (a tcp monitor, a held port)."""
        return bool(self._monitors or self._unbound)

    def close(self) -> None:
        for mon, _, _ in self._monitors:
            mon.close(linger=0)



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
