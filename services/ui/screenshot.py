"""The palette's screenshot, saved where it can be: Textual's default (~/Downloads) fails when that is missing.

Order: ``$XDG_DOWNLOAD_DIR`` or ``~/Downloads`` when the folder exists, else Luna's data
folder (``$XDG_DATA_HOME/luna/screenshots``, created), else the current folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from services.ui.i18n import t


def candidates() -> list[tuple[Path, bool]]:
    """(folder, create it when missing): download folders only when the user has one."""
    out = []
    xdg = os.environ.get("XDG_DOWNLOAD_DIR")
    if xdg:
        out.append((Path(xdg).expanduser(), False))
    out.append((Path.home() / "Downloads", False))
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    out.append((data / "luna" / "screenshots", True))
    out.append((Path.cwd(), False))
    return out


def save_screenshot(app: Any, folders: list[tuple[Path, bool]] | None = None) -> tuple[str, str]:
    """Write the current screen as SVG; returns ``(path, "")`` or ``("", why)``."""
    name = time.strftime("luna_%Y-%m-%d_%H-%M-%S.svg")
    try:
        svg = app.export_screenshot()
    except Exception as exc:
        return "", f"{type(exc).__name__}: {exc}"
    last = ""
    for folder, create in folders or candidates():
        if not folder.is_dir():
            if not create:
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                last = str(exc)
                continue
        path = folder / name
        try:
            path.write_text(svg, encoding="utf-8")
        except OSError as exc:
            last = str(exc)
            continue
        return str(path), ""
    return "", last or "?"


def save_screen(app: Any) -> str | None:
    """The palette's entry: the screenshot saved by :func:`save_screenshot`, and a toast saying where (or why not)."""
    path, err = save_screenshot(app)
    if err:
        app.notify(t("screenshot_failed", err=err), severity="error", timeout=6)
        return None
    app.notify(t("screenshot_saved", path=path), timeout=6)
    return path
