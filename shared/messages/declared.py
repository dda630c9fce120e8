"""Strict runs: a frame may carry only the fields and nested keys the catalogue declares.

Why: a service must not publish a field or a nested key no reader was told about (a
renamed counter once silently blinded the watchdog). The tests set
``LUNA_STRICT_CATALOGUE=1``; a normal run skips this check and stays as cheap as before.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from shared import catalogue as cat
from shared.messages.spec import CATALOGUE, FrameError

if TYPE_CHECKING:
    from shared.messages.frame import Frame

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
