"""Typed access to every frame type, generated from its spec (one dataclass per message).

Why generated: the spec is the one declaration; a hand-written class per message would
be a second copy that drifts. Imported by the package after every declaration module,
so :data:`TYPES` covers the whole catalogue.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass
from typing import Any

from shared.messages.frame import Frame, make
from shared.messages.spec import CATALOGUE, FrameError, Spec


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
