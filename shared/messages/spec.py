"""What a frame type is: its :class:`Spec`, the two transports, and the registry every declaration joins.

Why one registry: the tap, a recording, a fuzz test and every service read the same
:data:`CATALOGUE`, so they can never disagree about a frame. The declarations live
beside it by domain (:mod:`.life`, :mod:`.conversation`, :mod:`.history`,
:mod:`.voice`, :mod:`.streams`, :mod:`.commands`); this module only says what a
declaration holds and how it is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT = "event"
STREAM = "stream"

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
#: Known commands and their arguments (name -> arg -> (type, bound)). Unknown commands or arguments are rejected.
#: A bound is an (lo, hi) range for integers, or a shape name for strings (see :mod:`.bounds`).
COMMANDS: dict[str, dict[str, tuple[Any, Any]]] = {}
#: name -> (who acts on it, what it does), for ``luna catalogue``.
COMMAND_DOCS: dict[str, tuple[str, str]] = {}


def declare(name: str, v: int, kind: str, fields: dict[str, Any], optional: dict[str, Any] | None = None,
            payload: bool = False, doc: str = "", shapes: dict[str, Any] | None = None) -> None:
    """Register one frame type (declaration order is the catalogue's order)."""
    CATALOGUE[name] = Spec(name, v, kind, fields, optional or {}, payload, doc, shapes or {})


def declare_command(name: str, by: str, doc: str, **args: tuple[Any, Any]) -> None:
    """Register one ``command`` name: who acts on it, what it does, its typed and bounded arguments."""
    COMMANDS[name] = args
    COMMAND_DOCS[name] = (by, doc)


class FrameError(ValueError):
    """A frame that cannot be accepted; ``reason`` is a short stable label for counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
