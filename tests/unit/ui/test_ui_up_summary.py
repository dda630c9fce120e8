"""``make up``'s progress lines vanish when the UI takes the terminal (issue 15): what ``luna up``
reported stays readable as the chat's first line (luna/stack.py writes it, the UI shows it)."""

from __future__ import annotations

from luna import stack
from services.ui.app import LunaApp
from tests.system.test_ui_live import in_view


async def test_ui_opens_with_what_luna_up_reported(bus_env, monkeypatch) -> None:
    monkeypatch.setenv("LANGUAGE", "pt")
    lines = stack.up_summary({"stt": "ready", "brain": "ready", "capture": "no-device"},
                             {"capture": "microfone: nenhum encontrado"}, 600)
    monkeypatch.setenv(stack.SUMMARY_ENV, str(stack.write_summary(lines)))
    app = LunaApp(connect=False)
    async with app.run_test(size=(100, 30)) as pilot:
        rows = await in_view(app, pilot, "luna up: todos os serviços prontos", "sem dispositivo")
        assert "microfone: nenhum encontrado" in rows, rows
        assert app.focused is app.prompt  # the summary takes no focus: typing still reaches the input


async def test_no_summary_without_luna_up(bus_env, monkeypatch) -> None:
    monkeypatch.delenv(stack.SUMMARY_ENV, raising=False)
    app = LunaApp(connect=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "luna up" not in "\n".join(str(w.render()) for w in app.chat.children)
