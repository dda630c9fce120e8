"""The UI's stylesheet lives in ``services/ui/app.tcss`` and is found wherever Luna is started from.

``python -m services.ui`` runs from the repo root under ``luna up`` but from anywhere once
installed; a stylesheet looked up relative to the working directory would leave the hidden
panels (attachment line, pull bar, Code Output) drawn over the chat.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ui.app import LunaApp


async def test_stylesheet_applies_when_started_from_elsewhere(bus_env, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no services/ui here: only a path beside app.py finds app.tcss
    app = LunaApp(connect=False, reply_timeout=30)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.query_one("#attachment").display is False  # hidden until an image is attached
        assert app.query_one("#pull").display is False
        assert app.chat.display and not app.code_panel.display
        await pilot.press("f3")
        await pilot.pause()
        assert app.code_panel.display and not app.chat.display  # F3 swaps the chat for the code
