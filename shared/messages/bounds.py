"""Bounds on every field: string and list lengths, integer ranges, and the typed arguments of commands.

Why: a well-formed but hostile value is as dangerous as garbage: one ``epoch = 2**62``
once muted Luna until a restart. Strings and lists have a maximum length, integers a
range (:data:`LIMITS`, defaults :data:`MAX_STR`, :data:`MAX_LIST`, :data:`INT_RANGE`);
``command`` names must be known (:data:`.spec.COMMANDS`) and their arguments typed and
bounded; model names and ids must not look like paths. A violation is ``out-of-bounds`` /
``unknown-command`` / ``bad-arg``, never applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.messages.spec import COMMANDS, FrameError

if TYPE_CHECKING:
    from shared.messages.frame import Frame

#: Largest envelope we accept; a text reply token or a transcript is far smaller.
MAX_ENVELOPE_BYTES = 256 * 1024
#: Largest payload (one PCM block); a 30 s block of 48 kHz int16 stereo is 5.8 MB.
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
#: Largest text a person may send in one message (UTF-8 bytes); the UI and ``luna send``
#: refuse more with a clear line before it reaches the bus, the receiver rejects it.
MAX_USER_TEXT_BYTES = 128 * 1024
#: Epochs are per-reply counters that the brain increments; nothing legitimate gets near this.
MAX_EPOCH = 2**31 - 1

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
    "transcript.continues": 128, "transcript-partial.continues": 128,
    "token.text": 65_536, "sentence.text": _LONG_TEXT, "pcm.text": _LONG_TEXT, "speaking.text": _LONG_TEXT,
    "idle.text": _LONG_TEXT, "reply-end.text": _LONG_TEXT, "reply-end.error": 16_384,
    "notice.text": 16_384, "reply-start.notice": 16_384, "config.error": 16_384,
    "command.name": 64, "conversation.messages": 5000,
}


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
