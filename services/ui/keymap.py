"""Luna's keys: the default bindings, their remapping from ``$XDG_CONFIG_HOME/luna/keymap.toml``, their labels.

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

from textual.binding import Binding

from services.ui.i18n import t

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


def bindings() -> list[Binding]:
    """The app's bindings, labels in the current language (every one has the id a keymap file names)."""
    return [
        Binding("ctrl+q", "quit", t("quit"), id="quit", priority=True),
        Binding("ctrl+c", "copy", t("copy"), show=False, id="copy", priority=True),
        Binding("ctrl+v", "paste", t("paste"), show=False, id="paste", priority=True),
        Binding("ctrl+a", "select_all", t("select_all"), show=False, id="select_all", priority=True),
        Binding("ctrl+t", "new_conversation", t("new_conversation"), id="new_conversation", priority=True),
        Binding("f2,ctrl+h", "history", t("history"), id="history"),
        Binding("ctrl+e", "soul", t("soul"), id="soul", priority=True),
        Binding("f3", "code_mode", t("code_mode"), id="code_mode"),
        Binding("f4", "mute", t("mute"), id="mute"),
        Binding("f5", "settings", t("settings"), id="settings"),
        Binding("f6", "metrics", t("metrics"), id="metrics", priority=True),  # TextArea binds f6 (select line)
        Binding("f7", "listen_mode", t("listen"), id="listen_mode", show=False, priority=True),  # LISTEN_MODE
        Binding("f8", "talk", t("talk"), id="talk", show=False),  # push mode: opens / closes the microphone
        Binding("escape", "cancel", t("cancel"), id="cancel", show=False),
        # End: back to the newest message when the chat was scrolled up; else the input's line end
        Binding("end", "chat_end", t("chat_end"), id="chat_end", show=False, priority=True),
        # our own palette binding (Textual then adds none): its footer label is in the user's language
        Binding("ctrl+p", "command_palette", t("palette"), id="command_palette", priority=True,
                tooltip=t("palette_tip")),
    ]


def shortcut(bound: list[Any], keymap: dict[str, str], binding_id: str) -> str:
    """The key now bound to ``binding_id`` (the keymap's, else the default's first key), for menus: "Ctrl+C"."""
    keys = keymap.get(binding_id)
    if not keys:
        for b in bound:
            if isinstance(b, Binding) and b.id == binding_id:
                keys = b.key
                break
    first = (keys or "").split(",")[0].strip()
    return "+".join(p.capitalize() if len(p) > 1 else p.upper() for p in first.split("+"))


def help_keys(bound: list[Any], keymap: dict[str, str]) -> list[tuple[str, str]]:
    """(keys, what) for /ajuda, every key of every binding after the keymap's overrides: "F2/Ctrl+H"."""
    out = [("Enter", t("send")), ("Shift+Enter/Ctrl+J", t("newline"))]
    for b in bound:
        if not isinstance(b, Binding) or not b.id:
            continue
        keys = keymap.get(b.id) or b.key
        shown = "/".join("+".join({"escape": "Esc"}.get(p, p.capitalize() if len(p) > 1 else p.upper())
                                  for p in k.strip().split("+")) for k in keys.split(","))
        out.append((shown, b.description))
    return out
