"""``luna tap/send/replay``: tools that speak on the bus as a person or a recorder would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path
from typing import Any


# -- tap --------------------------------------------------------------------------------
class Rate:
    """Frames per second per (source, type) over the last two seconds, for stream summaries."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], deque[float]] = defaultdict(lambda: deque(maxlen=200))

    def tick(self, key: tuple[str, str]) -> float:
        now = time.monotonic()
        q = self.times[key]
        q.append(now)
        while q and now - q[0] > 2.0:
            q.popleft()
        span = now - q[0] if len(q) > 1 else 0
        return (len(q) - 1) / span if span > 0 else 0.0


def format_frame(f: Any, summary: bool, rate: float = 0.0) -> str:
    t = time.strftime("%H:%M:%S")
    head = f"{t} {f.source or '?':<8} {f.type:<18} #{f.seq:<6}"
    if f.turn_id:
        head += f" turn={f.turn_id[:8]}"
    if summary:
        d = dict(f.data)
        nbytes = d.pop("_bytes", 0)
        fields = " ".join(f"{k}={_short(v)}" for k, v in d.items())
        return f"{head} [stream] {nbytes}B {rate:.1f}/s {fields}"
    return f"{head} {json.dumps(f.data, ensure_ascii=False, default=str)[:400]}"


def _short(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 60 else s[:57] + "..."


async def tap(services: set[str], types: set[str], record: Path | None, count: int | None,
              heartbeats: bool = False) -> int:
    """Print the bus live. Heartbeats (several a second) are printed only when a service first
    shows up or its state changes, unless ``heartbeats`` (``--heartbeats``) or ``-t heartbeat``:
    otherwise they drown every other frame. The recording keeps them all."""
    from shared import logs
    from shared.bus import Bus
    from shared.messages import STREAM

    bus = Bus(None)
    bus.subscribe([b""])
    rate = Rate()
    from shared.private import open_private

    out: Any = open_private(record) if record else None  # the recording holds the conversation: 0600
    n = 0
    beat_state: dict[str, str] = {}
    show_beats = heartbeats or "heartbeat" in types
    print("luna tap: listening on the bus (Ctrl+C to stop)"
          + ("" if show_beats else "; heartbeats only on a change (--heartbeats shows all)"),
          file=sys.stderr, flush=True)
    try:
        while count is None or n < count:
            f = await bus.recv_event()
            if services and f.source not in services:
                continue
            if types and f.type not in types:
                continue
            summary = f.spec.kind == STREAM
            r = rate.tick((f.source, f.type)) if summary else 0.0
            quiet = False
            if f.type == "heartbeat" and not show_beats:
                who, state = str(f.get("service") or f.source), str(f.get("state") or "")
                quiet = beat_state.get(who) == state
                beat_state[who] = state
            if not quiet:
                print(logs.redact(format_frame(f, summary, r)), flush=True)
            if out:
                out.write(logs.redact(json.dumps({"type": f.type, "v": f.v, "ts": f.ts, "turn_id": f.turn_id,
                                                   "seq": f.seq, "source": f.source, "data": f.data},
                                                  ensure_ascii=False, default=str)) + "\n")
                out.flush()
            n += 1
    finally:
        bus.close()
        if out:
            out.close()
    return 0


# -- send -------------------------------------------------------------------------------
_CTL_LOCKS: list[int] = []  # the slot locks this process holds (released by the kernel at exit)


def ctl_bus() -> Any:
    """A publisher of its own for this process (issue 13, 7).

    Why: with one fixed ``ctl`` identity every ``luna send`` bound the same socket, and
    each bind unlinked the previous one's: of five parallel sends one was answered.
    Each process now holds one of ``endpoints.CTL_SLOTS``; its frames still say
    ``source="ctl"`` (the UI shows "via luna send").
    """
    import zmq

    from shared import endpoints
    from shared.bus import Bus

    slot, fd = endpoints.claim_ctl()
    _CTL_LOCKS.append(fd)
    bus = Bus(slot)
    bus.name = "ctl"
    if bus.pub_socket is not None:
        bus.pub_socket.setsockopt(zmq.XPUB_VERBOSE, 1)  # see every subscriber arrive (wait_subscribers)
    return bus


async def wait_subscribers(bus: Any, least: float = 0.3, most: float = 3.0, topic: bytes = b"") -> int:
    """Wait until subscribers reached this new endpoint (ZeroMQ slow joiner), at most ``most`` seconds.

    With ``topic``, wait for a subscription to exactly that topic: services subscribe
    only to what they listen to, so ``ev.user-text`` arriving means the brain itself is
    connected (the UI or a tap subscribing to everything says nothing about the brain;
    on a loaded machine the brain joined after them and a send was lost).
    """
    import zmq

    t0 = time.monotonic()
    seen = 0
    found = not topic
    while time.monotonic() - t0 < most:
        with contextlib.suppress(zmq.Again):
            while True:
                msg = bus.pub_socket.recv(flags=zmq.NOBLOCK)
                if msg[:1] == b"\x01" and msg[1:4] == b"ev.":
                    seen += 1
                    found = found or msg[1:] == topic
        if seen and found and time.monotonic() - t0 >= least:
            return seen
        await asyncio.sleep(0.02)
    return seen


async def send(text: str, image: str | None, timeout: float) -> int:
    """Publish one user-text from this process's own endpoint and stream the reply to stdout."""
    from shared import config
    from shared.messages import text_too_long

    if text == "-":  # a long text comes on stdin (one argv string stops at 128 KiB on Linux)
        text = sys.stdin.read()
    refused = text_too_long(text, config.load_lenient()[0].LANGUAGE)
    if refused:
        print(f"luna send: {refused}", file=sys.stderr)
        return 2
    bus = ctl_bus()
    bus.subscribe([b"ev.reply-start", b"ev.token", b"ev.reply-end"])
    await wait_subscribers(bus, most=15.0, topic=b"ev.user-text")
    tid = uuid.uuid4().hex
    kw: dict[str, Any] = {"text": text, "queue": True}  # a script waits its turn, never cuts another reply
    if image:
        kw["image"] = image
    bus.publish("user-text", turn_id=tid, **kw)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                f = await asyncio.wait_for(bus.recv_event(), timeout=deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if f.turn_id != tid:
                continue
            if f.type == "token":
                print(f["text"], end="", flush=True)
            elif f.type == "reply-end":
                print()
                if not f["ok"]:
                    why = "cancelled (Esc or a newer message)" if f.get("cancelled") else f.get("error")
                    print(f"error: {why}", file=sys.stderr)
                    return 1
                return 0
        print("\nerror: no reply within timeout (is the brain running? `make status`)", file=sys.stderr)
        return 2
    finally:
        bus.close()


# -- replay -----------------------------------------------------------------------------
#: What a replay re-publishes by default: what came from the person, so the stack answers again.
REPLAY_INPUTS = {"user-text", "command", "transcript", "speech-start", "speech-end"}
NEVER_REPLAY = {"heartbeat", "ready", "stopping"}  # would fake the health of live services


async def replay(path: Path, speed: float, everything: bool) -> int:
    """Publish a ``tap --record`` file back onto the bus as ``ctl``, keeping its timing."""
    from shared.messages import CATALOGUE, EVENT, FrameError, make

    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    bus = ctl_bus()
    await wait_subscribers(bus)
    sent = skipped = 0
    t0 = rows[0]["ts"] if rows else 0
    start = time.monotonic()
    for row in rows:
        t = row.get("type")
        spec = CATALOGUE.get(t)
        if spec is None or spec.kind != EVENT or t in NEVER_REPLAY or (not everything and t not in REPLAY_INPUTS):
            skipped += 1
            continue
        due = start + (row["ts"] - t0) / 1e9 / max(speed, 1e-6)
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        data = dict(row.get("data", {}))
        if t == "user-text":
            data["queue"] = True  # like `luna send`: a replayed message waits for the reply in progress
        try:
            bus.publish_frame(make(t, source="ctl", turn_id=row.get("turn_id", ""), **data))
            sent += 1
        except FrameError as err:
            print(f"skipped a frame: {err}", file=sys.stderr)
            skipped += 1
    await asyncio.sleep(0.3)
    bus.close()
    print(f"replayed {sent} frames ({skipped} skipped)")
    return 0
