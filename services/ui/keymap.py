"""Key remapping from ``$XDG_CONFIG_HOME/luna/keymap.toml``.

The file maps binding ids to keys, e.g.::

    history = "f2,ctrl+h"
    code_mode = "f3"
    [keymap]          # an optional table with the same keys is accepted too
    quit = "ctrl+q"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path


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
        data = tomllib.loads(p.read_text(encoding="utf-8"))
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
