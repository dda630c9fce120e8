"""The UI against a fake brain on the real bus (private per test): no model needed."""

from __future__ import annotations

import time

import pytest

from services.ui.app import LunaApp
from services.ui.screens.history import HistoryScreen
from services.ui.widgets.bubbles import LunaMessage, UserMessage
from tests.conftest import wait_for
from tests.support.fakes_ui import CODE_REPLY, FakeBrain

SIZE = (100, 30)


@pytest.fixture(autouse=True)
def _no_clipboard(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyperclip

    monkeypatch.setattr(pyperclip, "copy", lambda text: None)


async def connected(app: LunaApp, brain: FakeBrain) -> None:
    """Both directions of the bus are up (ZeroMQ connects lazily; the first frames can be lost)."""
    await wait_for(lambda: app.client.status("brain") == "ready", 10)
    await wait_for(brain.seen_ui.is_set, 10)


async def test_chat_turn_streams_from_fake_brain(bus_env) -> None:
    async with FakeBrain(token_delay=0.002) as brain:
        app = LunaApp()
        async with app.run_test(size=SIZE) as pilot:
            await connected(app, brain)
            for ch in "oi Luna":
                await pilot.press("space" if ch == " " else ch)
            await pilot.press("enter")
            await wait_for(lambda: app.chat.turns and all(m.done for m in app.chat.turns.values()), 10)
            await pilot.pause()
            assert [f["text"] for f in brain.received] == ["oi Luna"]
            tid = brain.received[0].turn_id
            msg = app.chat.turns[tid]
            assert msg.text == CODE_REPLY and not msg.has_class("error")
            assert msg.provider == "ollama" and msg.model == "dolphin-mistral"
            assert app.code_panel.code.strip() == "print('oi')"
            assert isinstance(app.chat.children[0], UserMessage) and isinstance(app.chat.children[1], LunaMessage)
            assert app.functions["chat"]["model"] == "dolphin-mistral"


async def test_escape_cancel_reaches_brain(bus_env) -> None:
    async with FakeBrain("palavra " * 400, token_delay=0.01) as brain:
        app = LunaApp()
        async with app.run_test(size=SIZE) as pilot:
            await connected(app, brain)
            tid = app.chat.send("fale muito")
            await wait_for(lambda: len(app.chat.turns[tid].text) > 20, 10)
            await pilot.press("escape")
            await wait_for(lambda: any(c["name"] == "cancel" for c in brain.commands), 5)
            assert [c.turn_id for c in brain.commands if c["name"] == "cancel"] == [tid]
            await pilot.pause(0.2)
            msg = app.chat.turns[tid]
            assert msg.done and len(msg.text) < len("palavra " * 400)


async def test_brain_error_is_shown_without_traceback(bus_env) -> None:
    err = "Ollama não está rodando em http://127.0.0.1:11434: rode `ollama serve`"
    async with FakeBrain(fail=err) as brain:
        app = LunaApp()
        async with app.run_test(size=SIZE) as pilot:
            await connected(app, brain)
            tid = app.chat.send("oi")
            await wait_for(lambda: app.chat.turns[tid].done, 10)
            await pilot.pause()
            footer = str(app.chat.turns[tid].query_one(".luna-footer").render())
            assert app.chat.turns[tid].has_class("error") and "ollama serve" in footer


async def test_no_brain_gives_clear_message(bus_env) -> None:
    app = LunaApp(reply_timeout=1.0)
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("alguém aí?")
        await wait_for(lambda: app.chat.turns[tid].done, 5)
        await pilot.pause()
        assert "make restart SERVICE=brain" in str(app.chat.turns[tid].query_one(".luna-footer").render())
        assert app.client.status("brain") == "down"


async def test_service_down_shows_within_3s(bus_env) -> None:
    app = LunaApp()
    async with app.run_test(size=SIZE) as pilot:
        async with FakeBrain(services=("brain", "capture")) as brain:
            await connected(app, brain)
            await wait_for(lambda: app.client.status("capture") == "ready", 5)
            await pilot.pause(0.6)
            assert "mic ▄" in str(app.query_one("#status").render())
        gone = time.monotonic()
        await wait_for(lambda: app.client.status("capture") == "down", 5)
        await pilot.pause(0.6)  # the bar redraws twice a second
        assert time.monotonic() - gone < 4.0
        assert "○cap" in str(app.query_one("#status").render())  # "capture", or "cap" when the bar is narrow


async def test_history_and_settings_over_the_bus(bus_env) -> None:
    async with FakeBrain() as brain:
        app = LunaApp()
        async with app.run_test(size=SIZE) as pilot:
            await connected(app, brain)
            await pilot.press("f2")
            await wait_for(lambda: isinstance(app.screen, HistoryScreen) and app.screen.items, 5)
            await pilot.press("enter")
            await wait_for(lambda: len(app.chat.children) == 2, 5)
            assert [c["name"] for c in brain.commands if c["name"].startswith("history")] == [
                "history-list", "history-open"]
            assert app.chat.conversation_id == "c1"
            assert "config-get" in [c["name"] for c in brain.commands]  # asked when the brain came up
            app.controls.config_set("code", "deepseek", "deepseek-chat")
            await wait_for(lambda: app.functions.get("code", {}).get("provider") == "deepseek", 5)
