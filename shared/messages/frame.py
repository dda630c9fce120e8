"""One decoded bus frame, how a sender builds one, and the check every frame passes on send and receive.

Why one check for both sides: :func:`make` and the wire decoder call the same
:func:`validate`, so a frame a service may send is exactly a frame a receiver accepts
(spec types, version, payload, :mod:`.bounds`, and in strict runs :mod:`.declared`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shared.messages.bounds import MAX_PAYLOAD_BYTES, check_bounds
from shared.messages.declared import STRICT, check_declared
from shared.messages.spec import _ANY, CATALOGUE, FrameError, Spec


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
