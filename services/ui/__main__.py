"""``python -m services.ui``: Luna's terminal UI (runs in the user's terminal, not under supervisord)."""

from __future__ import annotations

import logging


def run() -> None:
    from shared import logs

    try:
        logs.setup("ui", to_file=True)
    except Exception:
        pass
    root = logging.getLogger()
    for h in list(root.handlers):  # stderr would draw over the screen: keep only the file log
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            root.removeHandler(h)
    from services.ui.app import LunaApp

    LunaApp().run()


if __name__ == "__main__":
    run()
