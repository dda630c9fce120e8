"""The key footer at 80-200 columns: fewer and shorter entries as the width shrinks, none cut (issue 15).

Reads the rendered footer row, as a terminal shows it: every entry the footer holds must be
there whole ("F5 Configurações", never "F5 Confi…"), the quit and palette keys always.
"""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from services.ui import i18n
from services.ui.app import LunaApp
from services.ui.widgets.footer import LunaFooter
from tests.system.test_ui_live import screen_lines


async def footer_row(app: LunaApp, pilot) -> tuple[str, list[FooterKey]]:
    """The footer's screen row and its keys, once its (re)composed keys are laid out."""
    footer = app.query_one(LunaFooter)
    for _ in range(60):
        keys = list(footer.query(FooterKey))
        if keys and all(k.region.width for k in keys):
            return screen_lines(app)[footer.region.y], keys
        await pilot.pause(0.05)
    raise AssertionError(f"footer never laid out: {screen_lines(app)[-1]!r}")


@pytest.mark.parametrize(("lang", "width"), [("pt", 80), ("pt", 100), ("pt", 120), ("pt", 160), ("en", 80)])
async def test_footer_fits_without_cutting(bus_env, monkeypatch, lang: str, width: int) -> None:
    monkeypatch.setenv("LANGUAGE", lang)
    app = LunaApp(connect=False)
    try:
        async with app.run_test(size=(width, 30)) as pilot:
            line, keys = await footer_row(app, pilot)
            shown = [f"{k.key_display} {k.description}" for k in keys]
            for entry, k in zip(shown, keys, strict=True):
                assert entry in line, f"{entry!r} cut or missing at {width} columns: {line!r}"
                assert k.region.right <= width, (entry, k.region)
            assert "…" not in line and len(line.rstrip()) <= width
            quit_, palette = ("Sair", "paleta") if lang == "pt" else ("Quit", "palette")
            assert f"^q {quit_}" in line and f"^p {palette}" in line, line
            if width >= 160:  # room for every entry with its full label
                assert "F5 Configurações" in line and "F3 Modo código" in line and len(keys) == 9, line
            else:
                assert 5 <= len(keys) and app.query_one(LunaFooter).level >= 1, line
    finally:
        i18n.set_language("pt")


async def test_footer_refits_on_resize(bus_env) -> None:
    """A terminal made narrower (or wider) gets a footer for its new width, not the old one clipped."""
    app = LunaApp(connect=False)
    async with app.run_test(size=(160, 30)) as pilot:
        await footer_row(app, pilot)
        assert app.query_one(LunaFooter).level == 0
        await pilot.resize_terminal(80, 30)
        for _ in range(60):
            line, keys = await footer_row(app, pilot)
            if app.query_one(LunaFooter).level >= 1 and all(k.region.right <= 80 for k in keys):
                break
            await pilot.pause(0.05)
        assert all(f"{k.key_display} {k.description}" in line for k in keys), line
        assert "^p paleta" in line and "Configurações" not in line, line
