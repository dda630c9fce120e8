"""The wire format: the only code that knows how a frame is laid out in ZeroMQ parts.

Why one place: a service, the tap, a recording or a fuzz test can never disagree about it.

Events (pub/sub) are three or four ZeroMQ parts::

    [topic, envelope, (payload)]

Streams (push/pull) drop the topic::

    [envelope, (payload)]

* ``topic`` is ``b"ev." + type`` for events and ``b"st." + type`` for the summary
  copy of a stream frame that is published for the tap; SUB prefix filtering
  means subscribers that do not ask for ``st.`` never receive those copies.
* ``envelope`` is a msgpack map ``{type, v, ts, turn_id, seq, source, data}``;
  ``ts`` is ``time.monotonic_ns()`` (CLOCK_MONOTONIC, comparable across the
  processes of one machine), ``data`` holds the type's fields.
* ``payload`` is raw bytes (PCM) sent as its own part so it is never copied into
  msgpack and can be sent zero-copy.

Anything that does not fit (bad msgpack, unknown type, wrong version, missing or
mistyped fields, oversized parts, a value out of its bounds) raises
:class:`FrameError` with a short reason that the receiver counts and logs before
dropping the frame.
"""

from __future__ import annotations

from typing import Any

import msgpack

from shared.messages.bounds import MAX_ENVELOPE_BYTES
from shared.messages.frame import Frame, validate
from shared.messages.spec import CATALOGUE, EVENT, EVENT_PREFIX, STREAM, STREAM_PREFIX, FrameError


def _envelope(f: Frame) -> bytes:
    return msgpack.packb({"type": f.type, "v": f.v, "ts": f.ts, "turn_id": f.turn_id,
                          "seq": f.seq, "source": f.source, "data": f.data}, use_bin_type=True)


def encode_event(f: Frame) -> list[bytes | memoryview]:
    """Frame -> multipart message for a PUB socket."""
    parts: list[bytes | memoryview] = [EVENT_PREFIX + f.type.encode(), _envelope(f)]
    if f.payload is not None:
        parts.append(f.payload)
    return parts


def encode_stream(f: Frame) -> list[bytes | memoryview]:
    """Frame -> multipart message for a PUSH socket."""
    parts: list[bytes | memoryview] = [_envelope(f)]
    if f.payload is not None:
        parts.append(f.payload)
    return parts


def encode_summary(f: Frame) -> list[bytes]:
    """A stream frame's tap copy: its envelope plus the payload size, never the payload itself.

    The tap shows type, seq, bytes and rate of streams without the bus carrying
    the microphone twice.
    """
    data = {k: v for k, v in f.data.items()}
    data["_bytes"] = len(f.payload) if f.payload is not None else 0
    env = msgpack.packb({"type": f.type, "v": f.v, "ts": f.ts, "turn_id": f.turn_id,
                         "seq": f.seq, "source": f.source, "data": data}, use_bin_type=True)
    return [STREAM_PREFIX + f.type.encode(), env]


def _bytes(part: Any) -> bytes | memoryview:
    # Receivers get bytes (copying a small frame is cheaper than wrapping it);
    # a zmq.Frame (copy=False) exposes .buffer without copying.
    if type(part) is bytes:
        return part
    buf = getattr(part, "buffer", None)
    return buf if buf is not None else part


def _decode_envelope(raw: Any, payload: Any, *, summary: bool = False) -> Frame:
    raw = _bytes(raw)
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise FrameError("oversized", f"envelope {len(raw)} bytes")
    try:
        env = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises many types for garbage input
        raise FrameError("bad-msgpack", type(exc).__name__) from None
    if not isinstance(env, dict):
        raise FrameError("bad-envelope", "not a map")
    try:
        f = Frame(type=env["type"], v=env["v"], ts=env["ts"], turn_id=env["turn_id"], seq=env["seq"],
                  source=env["source"], data=env["data"], payload=None if payload is None else _bytes(payload))
    except KeyError as exc:
        raise FrameError("bad-envelope", f"missing {exc.args[0]}") from None
    if not (type(f.type) is str and type(f.v) is int and type(f.ts) is int and type(f.turn_id) is str
            and type(f.seq) is int and type(f.source) is str and type(f.data) is dict):
        raise FrameError("bad-envelope", "field types")
    if summary:
        if f.type not in CATALOGUE:
            raise FrameError("unknown-type", repr(f.type)[:60])
        return f
    validate(f)
    return f


def decode_event(parts: list[Any]) -> Frame:
    """Multipart from a SUB socket -> Frame (events, and stream summaries for the tap)."""
    if len(parts) not in (2, 3):
        raise FrameError("bad-parts", f"{len(parts)} parts")
    topic = bytes(_bytes(parts[0]))
    summary = topic.startswith(STREAM_PREFIX)
    if not (summary or topic.startswith(EVENT_PREFIX)):
        raise FrameError("bad-topic", repr(topic[:40]))
    f = _decode_envelope(parts[1], parts[2] if len(parts) == 3 else None, summary=summary)
    if topic[3:] != f.type.encode():
        raise FrameError("bad-topic", "topic does not match type")
    expected = STREAM if summary else EVENT
    if f.spec.kind != expected:
        raise FrameError("wrong-transport", f.type)
    return f


def decode_stream(parts: list[Any]) -> Frame:
    """Multipart from a PULL socket -> Frame."""
    if len(parts) not in (1, 2):
        raise FrameError("bad-parts", f"{len(parts)} parts")
    f = _decode_envelope(parts[0], parts[1] if len(parts) == 2 else None)
    if f.spec.kind != STREAM:
        raise FrameError("wrong-transport", f.type)
    return f
