"""The message catalogue: every frame that travels on Luna's bus, and the wire format.

This module is the *only* place that knows how a frame is laid out on the wire, so
that a service, the tap, a recording or a fuzz test can never disagree about it.

Wire format
-----------
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

Bounds
------
Every top-level field is bounded, because a well-formed but hostile value is as
dangerous as garbage: one ``epoch = 2**62`` once muted Luna until a restart. Strings
and lists have a maximum length, integers a range (:data:`LIMITS`, defaults
:data:`MAX_STR`, :data:`MAX_LIST`, :data:`INT_RANGE`); ``command`` names must be
known (:data:`COMMANDS`) and their arguments typed and bounded; model names and ids
must not look like paths. A violation is ``out-of-bounds`` / ``unknown-command`` /
``bad-arg``, never applied.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, make_dataclass
from typing import Any

import msgpack

from shared import catalogue as cat

EVENT = "event"
STREAM = "stream"

#: Largest envelope we accept; a text reply token or a transcript is far smaller.
MAX_ENVELOPE_BYTES = 256 * 1024
#: Largest payload (one PCM block); a 30 s block of 48 kHz int16 stereo is 5.8 MB.
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
#: Largest text a person may send in one message (UTF-8 bytes); the UI and ``luna send``
#: refuse more with a clear line before it reaches the bus, the receiver rejects it.
MAX_USER_TEXT_BYTES = 128 * 1024
#: Epochs are per-reply counters that the brain increments; nothing legitimate gets near this.
MAX_EPOCH = 2**31 - 1

EVENT_PREFIX = b"ev."
STREAM_PREFIX = b"st."

_ANY = object()


@dataclass(frozen=True)
class Spec:
    """How one frame type looks: its name, version, transport and fields.

    ``fields`` maps a field name to a type (or tuple of types) it must have;
    ``optional`` fields may be absent or None. ``payload`` says whether the frame
    carries a binary part.
    """

    name: str
    v: int
    kind: str
    fields: dict[str, Any]
    optional: dict[str, Any] = field(default_factory=dict)
    payload: bool = False
    doc: str = ""
    #: dict/list fields -> the :mod:`shared.catalogue` shape of their keys (or of each list item)
    shapes: dict[str, Any] = field(default_factory=dict)


_S, _I, _F, _B, _D, _L = str, int, (int, float), bool, dict, list
_NUM = (int, float)

CATALOGUE: dict[str, Spec] = {}


def _spec(name: str, v: int, kind: str, fields: dict[str, Any], optional: dict[str, Any] | None = None,
          payload: bool = False, doc: str = "", shapes: dict[str, Any] | None = None) -> None:
    CATALOGUE[name] = Spec(name, v, kind, fields, optional or {}, payload, doc, shapes or {})


# --- service life ----------------------------------------------------------------
_spec("ready", 1, EVENT, {"service": _S}, {"detail": _D}, doc="service finished loading its model",
      shapes={"detail": cat.HEARTBEAT_INFO})
_spec("heartbeat", 1, EVENT, {"service": _S, "state": _S, "counters": _D},
      {"info": _D, "pid": _I}, doc="every second: state (starting/ready/no-device/degraded/stopping) and counters",
      shapes={"counters": cat.HEARTBEAT_COUNTERS, "info": cat.HEARTBEAT_INFO})
_spec("notice", 1, EVENT, {"service": _S, "level": _S, "text": _S}, {"code": _S},
      doc="a one-line message a person should see (missing model, provider down, fallback used)")
_spec("stopping", 1, EVENT, {"service": _S}, doc="service is shutting down on purpose")

# --- conversation ----------------------------------------------------------------
_spec("user-text", 1, EVENT, {"text": _S}, {"image": _S, "spoken": _B, "conversation_id": _S, "queue": _B},
      doc="the user said or typed something; image is a file path; queue: wait for the reply in progress "
          "instead of cutting it off (scripts: `luna send`)")
_spec("command", 1, EVENT, {"name": _S}, {"args": _D},
      doc="control: cancel, mute, unmute, new-conversation, config-set, history-list, history-open, ...")
_spec("reply-start", 1, EVENT, {"intent": _S, "provider": _S, "model": _S}, {"epoch": _I, "notice": _S})
_spec("token", 1, EVENT, {"text": _S}, {"epoch": _I})
_spec("reply-end", 1, EVENT, {"ok": _B}, {"text": _S, "error": _S, "epoch": _I, "provider": _S,
                                          "model": _S, "timings": _D, "cancelled": _B},
      shapes={"timings": cat.REPLY_TIMINGS})
_spec("status", 1, EVENT, {"service": _S, "data": _D}, doc="service-specific state the UI shows (providers, models)",
      shapes={"data": cat.STATUS_DATA})

# --- brain: history/config
_spec("history", 1, EVENT, {"conversations": _L}, {"current": _S},
      doc="brain -> ui: recent conversations [{id, title, created, updated, count}] (answer to history-list)",
      shapes={"conversations": cat.HISTORY_ITEM})
_spec("conversation", 1, EVENT, {"id": _S, "messages": _L}, {"title": _S},
      doc="brain -> ui: the current conversation's messages (after history-open or new-conversation)")
_spec("config", 1, EVENT, {"functions": _D}, {"error": _S, "options": _D},
      doc="brain -> ui: provider/model per function (answer to config-get and config-set)")

# --- voice -----------------------------------------------------------------------
_spec("speech-start", 1, EVENT, {}, {"epoch": _I, "t_audio_ns": _I})
_spec("speech-end", 1, EVENT, {}, {"t_audio_ns": _I, "duration_s": _NUM})
_spec("transcript-partial", 1, EVENT, {"text": _S},
      {"pause": _B, "timings": _D, "model": _S, "language": _S, "said": _S},
      doc="stt: the words so far; pause=True: the speaker paused, this may be the whole utterance (its final "
          "transcript will carry the same turn_id), so the brain may start answering before the VAD is sure",
      shapes={"timings": cat.TRANSCRIPT_TIMINGS})
_spec("transcript-retract", 1, EVENT, {},
      doc="stt: the speaker went on after the pause of this turn_id's partial transcript: it was not the end")
_spec("transcript", 1, EVENT, {"text": _S}, {"timings": _D, "model": _S, "language": _S, "said": _S},
      doc="stt: the final words; said: the words as heard when text differs (LISTEN_MODE=name takes Luna's "
          "name out of text, the UI shows said)",
      shapes={"timings": cat.TRANSCRIPT_TIMINGS})
_spec("speaking", 1, EVENT, {"text": _S}, {"epoch": _I, "t_tts_ns": _I},
      doc="a sentence started playing (ts = first sample to the device; t_tts_ns = turn's first PCM made)")
_spec("idle", 1, EVENT, {}, {"epoch": _I, "text": _S, "played": _B})
_spec("turn-metrics", 1, EVENT, {"stages": _D}, {"epoch": _I, "marks_ms": _D},
      doc="brain: seconds each stage added to the wait; marks_ms: when each stage ended, ms after the first",
      shapes={"stages": cat.STAGES, "marks_ms": cat.MARKS})

# --- streams ---------------------------------------------------------------------
_spec("audio", 1, STREAM, {"rate": _I, "channels": _I}, {"t_capture_ns": _I}, payload=True,
      doc="microphone PCM, int16 little-endian, capture -> stt")
_spec("sentence", 1, STREAM, {"text": _S, "epoch": _I}, {"final": _B, "index": _I},
      doc="one sentence to speak, brain -> tts")
_spec("pcm", 1, STREAM, {"rate": _I, "epoch": _I}, {"text": _S, "first": _B, "last": _B, "index": _I},
      payload=True, doc="synthesized PCM int16 mono, tts -> playback")
_spec("flush", 1, STREAM, {"epoch": _I}, doc="drop everything older than epoch (sent on a stream so it stays in order)")

# --- aec -------------------------------------------------------------------------
_spec("reference", 1, STREAM, {"rate": _I, "t_ns": _I}, {"epoch": _I}, payload=True,
      doc="far-end PCM exactly as handed to the output device (int16 mono 16 kHz, 10 ms multiples), "
          "t_ns = device time of its first sample; playback -> capture (echo cancellation)")


# --- bounds ----------------------------------------------------------------------
MAX_STR = 8192  # default for any string field not listed in LIMITS
MAX_LIST = 1000
MAX_KEYS = 512  # keys in a dict field (heartbeat counters, timings, ...)
INT_RANGE = (-(2**62), 2**62)  # default; msgpack itself stops at 64 bits
_NS = (0, 2**63 - 1)
_LONG_TEXT = 200_000  # a whole reply (reply-end.text) or a long sentence of code
#: "type.field" (or "*.field" for every type) -> max length (str, list) or (lo, hi) (int).
LIMITS: dict[str, Any] = {
    "*.epoch": (0, MAX_EPOCH),
    "*.index": (0, 1 << 20),
    "*.rate": (1, 384_000),
    "*.channels": (1, 8),
    "*.pid": (0, 1 << 22),
    "*.t_audio_ns": _NS, "*.t_capture_ns": _NS, "*.t_tts_ns": _NS, "*.t_ns": _NS,
    "*.service": 64, "*.level": 16, "*.code": 64, "*.state": 32, "*.intent": 32, "*.provider": 64,
    "*.model": 256, "*.conversation_id": 64, "*.language": 16, "*.image": 4096,
    "user-text.text": MAX_USER_TEXT_BYTES,
    "transcript.text": 16_384, "transcript-partial.text": 16_384,
    "transcript.said": 16_384, "transcript-partial.said": 16_384,
    "token.text": 65_536, "sentence.text": _LONG_TEXT, "pcm.text": _LONG_TEXT, "speaking.text": _LONG_TEXT,
    "idle.text": _LONG_TEXT, "reply-end.text": _LONG_TEXT, "reply-end.error": 16_384,
    "notice.text": 16_384, "reply-start.notice": 16_384, "config.error": 16_384,
    "command.name": 64, "conversation.messages": 5000,
}
#: Known commands and their arguments (name -> arg -> (type, bound)). Unknown commands or arguments are rejected.
#: A bound is an (lo, hi) range for integers, or a shape name for strings (:data:`_ARG_SHAPES`).
COMMANDS: dict[str, dict[str, tuple[Any, Any]]] = {}
#: name -> (who acts on it, what it does), for ``luna catalogue``.
COMMAND_DOCS: dict[str, tuple[str, str]] = {}


def _command(name: str, by: str, doc: str, **args: tuple[Any, Any]) -> None:
    COMMANDS[name] = args
    COMMAND_DOCS[name] = (by, doc)


_command("cancel", "brain", "stop the reply in progress (epoch: only if it is still that reply)",
         epoch=(int, (0, MAX_EPOCH)))
_command("mute", "capture", "close the microphone")
_command("unmute", "capture", "open the microphone")
_command("mute-toggle", "capture", "flip the microphone")
_command("new-conversation", "brain", "start a new conversation (answered with conversation)")
_command("history-list", "brain", "list recent conversations (answered with history)", limit=(int, (1, 1000)))
_command("history-open", "brain", "reopen a conversation (answered with conversation)", id=(str, "id"))
_command("config-get", "brain", "provider/model per function (answered with config)")
_command("config-set", "brain", "choose a function's provider/model (answered with config)",
         function=(str, "name"), provider=(str, "name"), model=(str, "model"))
_command("soul-reload", "brain", "read the soul file again")
_command("pull", "brain", "download an Ollama model (progress in status.data.pull)", model=(str, "model"))
_command("listen-mode", "stt", "when Luna listens: always | name | wake | push", mode=(str, "name"))
_command("talk-open", "stt", "push mode: the UI's key opens the microphone")
_command("talk-close", "stt", "push mode: the key is released")
_command("talk-toggle", "stt", "push mode: flip the open microphone")


def _is_name(v: str) -> bool:
    return len(v) <= 64 and all(c.isalnum() or c in "-_" for c in v)


def _is_model(v: str) -> bool:
    """An Ollama/provider model name (``qwen2.5-coder:7b``, ``hf.co/user/repo:Q4``), never a path."""
    if len(v) > 256 or ".." in v or v.startswith(("/", "~", ".")) or "\\" in v or "//" in v:
        return False
    return all(c.isalnum() or c in "._:+-/@" for c in v)


_ARG_SHAPES = {"id": _is_name, "name": _is_name, "model": _is_model}


def _limit(type_: str, name: str) -> Any:
    return LIMITS.get(f"{type_}.{name}", LIMITS.get(f"*.{name}"))


def check_bounds(f: Frame) -> None:
    """Raise ``FrameError("out-of-bounds")`` when a top-level field is too long or out of range."""
    if len(f.turn_id) > 128 or len(f.source) > 64:
        raise FrameError("out-of-bounds", "turn_id or source too long")
    for name, val in f.data.items():
        t = type(val)
        if t is str or t is list:
            lim = _limit(f.type, name)
            cap = lim if isinstance(lim, int) else (MAX_STR if t is str else MAX_LIST)
            if len(val) > cap:
                raise FrameError("out-of-bounds", f"{f.type}.{name}: length {len(val)} > {cap}")
        elif t is int:
            lim = _limit(f.type, name)
            lo, hi = lim if isinstance(lim, tuple) else INT_RANGE
            if not lo <= val <= hi:
                raise FrameError("out-of-bounds", f"{f.type}.{name}: {val} not in [{lo}, {hi}]")
        elif t is dict and len(val) > MAX_KEYS:
            raise FrameError("out-of-bounds", f"{f.type}.{name}: {len(val)} keys > {MAX_KEYS}")
    if f.type == "command":
        check_command(f["name"], f.get("args") or {})


def clip_strings(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every top-level string cut to its bound: for a sender's own long text (an error page).

    Why: a service must never fail to say something because it was too long; a receiver
    still rejects what a hostile sender did not clip.
    """
    out = dict(data)
    for name, val in data.items():
        if type(val) is str:
            lim = _limit(type_, name)
            cap = lim if isinstance(lim, int) else MAX_STR
            if len(val) > cap:
                out[name] = val[: max(cap - 1, 0)] + "…"
    return out


def check_command(name: str, args: dict[str, Any]) -> None:
    """A command must be known and its arguments typed, bounded and not path-like."""
    spec = COMMANDS.get(name)
    if spec is None:
        raise FrameError("unknown-command", repr(name)[:60])
    for key, val in args.items():
        if key not in spec:
            raise FrameError("bad-arg", f"{name}.{key}: unknown argument")
        if val is None:
            continue
        typ, bound = spec[key]
        if type(val) is not typ:
            raise FrameError("bad-arg", f"{name}.{key}: expected {typ.__name__}")
        if typ is int and not bound[0] <= val <= bound[1]:
            raise FrameError("bad-arg", f"{name}.{key}: {val} not in [{bound[0]}, {bound[1]}]")
        if typ is str and val and not _ARG_SHAPES[bound](val):
            raise FrameError("bad-arg", f"{name}.{key}: not a valid {bound}: {val[:40]!r}")


#: Strict runs (the tests: ``LUNA_STRICT_CATALOGUE=1``) also reject keys the catalogue does not declare,
#: so a service cannot publish a field or a nested key no reader was told about.
STRICT = os.environ.get("LUNA_STRICT_CATALOGUE", "") == "1"


def _shape_of(decl: Any, f: Frame) -> cat.Shape | None:
    if isinstance(decl, cat.ByService):
        return decl.shape(f.data.get("service") or f.source)
    return decl


def check_declared(f: Frame) -> None:
    """Raise ``FrameError("undeclared-key")`` for a top-level field or nested key not in the catalogue."""
    spec = CATALOGUE[f.type]
    for name in f.data:
        if name not in spec.fields and name not in spec.optional:
            raise FrameError("undeclared-key", f"{f.type}.{name}")
    for name, decl in spec.shapes.items():
        val = f.data.get(name)
        if not val:
            continue
        shape = _shape_of(decl, f)
        if shape is None:
            raise FrameError("undeclared-key", f"{f.type}.{name}: no shape for service {f.get('service')!r}")
        items = val if isinstance(val, list) else [val]
        for item in items:
            bad = shape.undeclared(item) if isinstance(item, dict) else [repr(type(item).__name__)]
            if bad:
                raise FrameError("undeclared-key", f"{f.type}.{name}: {', '.join(bad)[:200]}")


def text_too_long(text: str, lang: str = "pt") -> str:
    """The sender's one line when ``text`` exceeds the catalogue's limit, else ''.

    Why on the sender: the receiver rejects an oversized frame (counted in a log), which
    the person never sees; the UI and ``luna send`` say it at once, in their language.
    """
    n = len(text.encode("utf-8"))
    if n <= MAX_USER_TEXT_BYTES:
        return ""
    kb, cap = -(-n // 1024), MAX_USER_TEXT_BYTES // 1024
    if str(lang).lower().startswith("en"):
        return f"message too long: {kb} KB, the maximum is {cap} KB"
    return f"mensagem longa demais: {kb} KB, o máximo é {cap} KB"


class FrameError(ValueError):
    """A frame that cannot be accepted; ``reason`` is a short stable label for counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Frame:
    """One decoded bus frame."""

    type: str
    data: dict[str, Any]
    source: str = ""
    seq: int = 0
    turn_id: str = ""
    ts: int = 0
    v: int = 1
    payload: bytes | memoryview | None = None

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def spec(self) -> Spec:
        return CATALOGUE[self.type]


def make(type_: str, *, source: str = "", seq: int = 0, turn_id: str = "",
         payload: bytes | memoryview | None = None, **data: Any) -> Frame:
    """Build a frame and validate it against the catalogue (raises FrameError)."""
    f = Frame(type=type_, data=data, source=source, seq=seq, turn_id=turn_id,
              ts=time.monotonic_ns(), v=CATALOGUE[type_].v if type_ in CATALOGUE else 0, payload=payload)
    validate(f)
    return f


def validate(f: Frame) -> None:
    """Check a frame against its spec; raise FrameError naming what is wrong."""
    spec = CATALOGUE.get(f.type)
    if spec is None:
        raise FrameError("unknown-type", repr(f.type)[:60])
    if f.v != spec.v:
        raise FrameError("bad-version", f"{f.type} v{f.v}, expected v{spec.v}")
    for name, typ in spec.fields.items():
        if name not in f.data:
            raise FrameError("missing-field", f"{f.type}.{name}")
        if typ is not _ANY and not isinstance(f.data[name], typ):
            raise FrameError("bad-field", f"{f.type}.{name}")
    for name, typ in spec.optional.items():
        val = f.data.get(name)
        if val is not None and not isinstance(val, typ):
            raise FrameError("bad-field", f"{f.type}.{name}")
    if spec.payload and f.payload is None:
        raise FrameError("missing-payload", f.type)
    if f.payload is not None and len(f.payload) > MAX_PAYLOAD_BYTES:
        raise FrameError("oversized", f"payload {len(f.payload)} bytes")
    check_bounds(f)
    if STRICT:
        check_declared(f)


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


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("-"))


def _typed(spec: Spec) -> type:
    """A dataclass for one frame type, generated from its spec: fields required, optional ones None.

    Why generated: the spec is the one declaration; a hand-written class per message
    would be a second copy that drifts. ``Cls(**fields).frame()`` builds (and validates)
    the frame, ``Cls.of(frame)`` reads one.
    """
    cols: list[Any] = [(k, Any) for k in spec.fields] + [(k, Any, field(default=None)) for k in spec.optional]

    def frame(self: Any, **envelope: Any) -> Frame:
        data = {k: v for k, v in vars(self).items() if v is not None or k in spec.fields}
        return make(spec.name, **envelope, **data)

    def of(cls: type, f: Frame) -> Any:
        if f.type != spec.name:
            raise FrameError("wrong-type", f"{f.type} is not {spec.name}")
        return cls(**{k: f.data.get(k) for k in (*spec.fields, *spec.optional)})

    return make_dataclass(_camel(spec.name), cols, frozen=True,
                          namespace={"frame": frame, "of": classmethod(of), "spec": spec, "__doc__": spec.doc})


#: Typed access to every frame type: ``TYPES["user-text"](text="oi").frame(turn_id=t)``.
TYPES: dict[str, type] = {name: _typed(spec) for name, spec in CATALOGUE.items()}


def _describe_shape(decl: Any) -> list[str]:
    if isinstance(decl, cat.ByService):
        out = [f"      (every service) {decl.common.describe()}"] if decl.common.keys else []
        return out + [f"      {svc}: {sh.describe()}" for svc, sh in decl.shapes.items()]
    return [f"      {decl.describe()}"]


def describe() -> str:
    """Human-readable catalogue (``luna catalogue``): every frame, its nested keys, every command."""
    lines = []
    for s in CATALOGUE.values():
        fields = ", ".join(list(s.fields) + [f"{k}?" for k in s.optional])
        extra = " +payload" if s.payload else ""
        lines.append(f"{s.name:<20} v{s.v} {s.kind:<6} {{{fields}}}{extra}  {s.doc}")
        for name, decl in s.shapes.items():
            lines.append(f"    .{name}")
            lines.extend(_describe_shape(decl))
    lines.append("")
    lines.append("commands (command.name, command.args):")
    for name, args in COMMANDS.items():
        by, doc = COMMAND_DOCS[name]
        shown = ", ".join(f"{k}: {t.__name__} {list(b) if isinstance(b, tuple) else b}" for k, (t, b) in args.items())
        lines.append(f"  {name:<18} -> {by:<8} ({shown})  {doc}")
    return "\n".join(lines)
