"""Snapshot tests (pytest-textual-snapshot) for the main screens at 80 and 160 columns.

Update with ``--snapshot-update`` (and look at the SVGs: a snapshot records, it does not judge).
"""

from __future__ import annotations

import pytest

from services.ui.app import LunaApp
from shared.messages import make

SIZES = [pytest.param((80, 32), id="80"), pytest.param((160, 40), id="160")]
REPLY = ("Claro! Uma função simples:\n\n```python\ndef soma(a, b):\n    return a + b\n```\n\n"
         "Clique no bloco para copiar.")


@pytest.fixture
def app(bus_env) -> LunaApp:
    return LunaApp(connect=False)


async def conversation(pilot) -> None:
    app: LunaApp = pilot.app
    app.prompt.cursor_blink = False
    h = app.handle_frame
    await h(make("status", source="brain", service="brain", data={"functions": {
        "chat": {"provider": "ollama", "model": "dolphin-mistral"},
        "code": {"provider": "ollama", "model": "qwen2.5-coder:7b"}}}))
    app.chat.add(__import__("services.ui.widgets.bubbles", fromlist=["UserMessage"]).UserMessage("me faz uma soma"))
    await h(make("reply-start", source="brain", turn_id="t1", intent="code", provider="ollama",
                 model="qwen2.5-coder:7b", epoch=1))
    for i in range(0, len(REPLY), 7):
        await h(make("token", source="brain", turn_id="t1", text=REPLY[i:i + 7], epoch=1))
    await h(make("reply-end", source="brain", turn_id="t1", ok=True, text=REPLY, epoch=1,
                 timings={"total_ms": 840.0}))
    await h(make("reply-start", source="brain", turn_id="t2", intent="chat", provider="ollama",
                 model="dolphin-mistral", epoch=2))
    await h(make("reply-end", source="brain", turn_id="t2", ok=False, epoch=2,
                 error="modelo 'dolphin-mistral' não encontrado: rode `ollama pull dolphin-mistral`"))
    app.latency_ms = 840.0
    app.refresh_status()
    await pilot.pause(0.2)  # the chat's follow scroll (at most 20 a second) has landed


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_chat(snap_compare, app, size) -> None:
    assert snap_compare(app, terminal_size=size, run_before=conversation)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_context_menu(snap_compare, app, size) -> None:
    async def before(pilot) -> None:
        await conversation(pilot)
        await pilot.click("#chat", offset=(20, 4), button=3)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_code_mode(snap_compare, app, size) -> None:
    async def before(pilot) -> None:
        await conversation(pilot)
        await pilot.press("f3")
        pilot.app.code_panel.area.cursor_blink = False

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_history(snap_compare, app, size) -> None:
    async def before(pilot) -> None:
        pilot.app.prompt.cursor_blink = False
        await pilot.press("f2")
        await pilot.pause()
        await pilot.app.handle_frame(make("history", source="brain", conversations=[
            {"id": "c1", "title": "Receita de bolo", "updated": "20/11 18:02", "count": 6},
            {"id": "c2", "title": "Script de backup em bash", "updated": "24/11 09:15", "count": 12}],
            current="c2"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_soul_editor(snap_compare, app, size) -> None:
    async def before(pilot) -> None:
        await pilot.press("ctrl+e")
        await pilot.pause()
        pilot.app.screen.query_one("#soul-text").cursor_blink = False

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_settings(snap_compare, app, size) -> None:
    async def before(pilot) -> None:
        await conversation(pilot)
        await pilot.press("f5")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_new_messages_marker(snap_compare, app, size) -> None:
    async def before(pilot) -> None:
        from textual import events

        await conversation(pilot)
        long = "\n\n".join(f"Linha {i} de uma resposta longa." for i in range(30))
        await pilot.app.handle_frame(make("reply-start", source="brain", turn_id="t0", intent="chat",
                                          provider="ollama", model="dolphin-mistral", epoch=9))
        await pilot.app.handle_frame(make("reply-end", source="brain", turn_id="t0", ok=True, epoch=9, text=long))
        await pilot.pause(0.25)
        chat = pilot.app.chat
        for _ in range(8):
            chat.post_message(events.MouseScrollUp(chat, 5, 5, 0, -1, 0, False, False, False, 5, 5))
        await pilot.pause(0.25)
        await pilot.app.handle_frame(make("reply-start", source="brain", turn_id="t3", intent="chat",
                                          provider="ollama", model="dolphin-mistral", epoch=3))
        await pilot.app.handle_frame(make("reply-end", source="brain", turn_id="t3", ok=True, epoch=3,
                                          text="Uma resposta nova lá embaixo."))
        await pilot.pause(0.25)

    assert snap_compare(app, terminal_size=size, run_before=before)
