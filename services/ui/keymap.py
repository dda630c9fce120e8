"""Key remapping from ``$XDG_CONFIG_HOME/luna/keymap.toml``.

The file maps binding ids to keys, e.g.::

    history = "f2,ctrl+h"
    code_mode = "f3"
    [keymap]          # an optional table with the same keys is accepted too
    quit = "ctrl+q"
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

try:  # Python 3.11+
    import tomllib as _toml
except ImportError:  # pragma: no cover - Python 3.10 without tomli
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ImportError:
        _toml = None  # type: ignore[assignment]

_LINE = re.compile(r'^\s*([A-Za-z0-9_.-]+)\s*=\s*"([^"]*)"\s*(#.*)?$')


def _parse(text: str) -> dict[str, Any]:
    if _toml is not None:
        return _toml.loads(text)
    out: dict[str, Any] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out[m.group(1)] = m.group(2)
        elif line.strip() and not line.strip().startswith(("#", "[")):
            raise ValueError(f"cannot read line: {line.strip()[:40]}")
    return out


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "luna"


def keymap_path() -> Path:
    return Path(os.environ.get("LUNA_KEYMAP") or config_dir() / "keymap.toml")


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], str]:
    """Return (keymap, error). A missing file is an empty keymap; a bad one is an error line."""
    p = path or keymap_path()
    if not p.is_file():
        return {}, ""
    try:
        data = _parse(p.read_text(encoding="utf-8"))
    except Exception as exc:
        return {}, f"{p}: {exc}"
    table = data.get("keymap", data)
    out: dict[str, str] = {}
    for k, v in table.items():
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            out[k] = ",".join(v)
    return out, ""
