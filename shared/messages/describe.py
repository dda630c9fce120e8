"""The human-readable catalogue that ``luna catalogue`` prints: every frame, its nested keys, every command.

Why here: it reads the same registries the bus validates against, so what a person reads
is what the bus enforces.
"""

from __future__ import annotations

from typing import Any

from shared import catalogue as cat
from shared.messages.spec import CATALOGUE, COMMAND_DOCS, COMMANDS


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
