"""Pilot tests for the Textual UI: every binding, context menu, click-to-copy, code mode, screens, attach.

Frames are injected straight into the app's handler here (fast, deterministic); tests/unit/ui/test_ui_bus.py
drives the same app against a fake brain on the real bus.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from textual import events
from textual.widgets import ProgressBar

from services.ui import clipboard
from services.ui.app import LunaApp
from services.ui.screens.history import HistoryScreen
from services.ui.screens.settings import SettingsScreen
from services.ui.screens.soul import SoulScreen
from services.ui.widgets.bubbles import CodeBlock, LunaMessage, SystemLine, UserMessage
from services.ui.widgets.code_output import CodeOutputPanel
from services.ui.widgets.context_menu import ContextMenu, MenuItem
from shared.messages import FrameError, make

SIZE = (100, 30)
CODE_REPLY = "Veja:\n\n```python\nprint('oi')\nx = 1\n```\n\nE mais:\n\n```bash\nls -la\n```\n"


class Clip:
    """Captures both copy paths: Textual's OSC 52 (App.copy_to_clipboard) and pyperclip."""

    def __init__(self) -> None:
        self.osc: list[str] = []
        self.pyperclip: list[str] = []


@pytest.fixture
def clip(monkeypatch: pytest.MonkeyPatch) -> Clip:
    c = Clip()
    orig = LunaApp.copy_to_clipboard

    def fake_copy(self: LunaApp, text: str) -> None:
        c.osc.append(text)
        orig(self, text)

    monkeypatch.setattr(LunaApp, "copy_to_clipboard", fake_copy)
    import pyperclip

    monkeypatch.setattr(pyperclip, "copy", lambda text: c.pyperclip.append(text))
    monkeypatch.setattr(pyperclip, "paste", lambda: "")
    monkeypatch.delenv("TMUX", raising=False)
    return c


@pytest.fixture
def app(bus_env: dict[str, str], clip: Clip) -> LunaApp:
    return LunaApp(reply_timeout=30)


def sent(app: LunaApp, type_: str) -> list:
    return [f for f in app.client.sent if f.type == type_]


def commands(app: LunaApp) -> list[str]:
    return [f["name"] for f in sent(app, "command")]


async def feed(app: LunaApp, type_: str, turn_id: str = "", **data) -> None:
    await app.handle_frame(make(type_, source="brain", turn_id=turn_id, **data))


async def reply(app: LunaApp, pilot, tid: str, text: str = CODE_REPLY, end: bool = True) -> None:
    await feed(app, "reply-start", tid, intent="chat", provider="ollama", model="dolphin-mistral", epoch=1)
    for i in range(0, len(text), 5):
        await feed(app, "token", tid, text=text[i:i + 5], epoch=1)
    if end:
        await feed(app, "reply-end", tid, ok=True, text=text, epoch=1, timings={"total_ms": 12.0})
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


# -- input and sending -------------------------------------------------------------
async def test_enter_sends_and_newline_keys(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "a")
        await pilot.press("shift+enter", "ctrl+j", "b")
        assert app.prompt.text == "a\n\nb"
        await pilot.press("enter")
        await pilot.pause()
        assert [f["text"] for f in sent(app, "user-text")] == ["a\n\nb"]
        assert app.prompt.text == ""
        tid = sent(app, "user-text")[0].turn_id
        assert len(tid) == 32 and tid in app.chat.turns
        assert isinstance(app.chat.children[0], UserMessage)


async def test_streamed_reply_renders_code_blocks(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("oi")
        assert app.indicator.state == "thinking"
        await reply(app, pilot, tid)
        msg = app.chat.turns[tid]
        assert msg.done and msg.text == CODE_REPLY
        assert "ollama/dolphin-mistral" in str(msg.query_one(".luna-header").render())
        blocks = list(msg.query(CodeBlock))
        assert [b.code.strip() for b in blocks] == ["print('oi')\nx = 1", "ls -la"]
        assert app.indicator.state == "idle"


async def test_error_reply_is_a_styled_message(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("oi")
        await feed(app, "reply-start", tid, intent="chat", provider="ollama", model="x", epoch=1)
        await feed(app, "reply-end", tid, ok=False, error="model 'x' not found: ollama pull x", epoch=1)
        await pilot.pause()
        msg = app.chat.turns[tid]
        assert msg.has_class("error")
        assert "ollama pull x" in str(msg.query_one(".luna-footer").render())
        assert "Traceback" not in str(msg.query_one(".luna-footer").render())


async def test_brain_down_message_after_timeout(bus_env, clip) -> None:
    app = LunaApp(reply_timeout=0.3)
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("oi")
        await pilot.pause(0.6)
        msg = app.chat.turns[tid]
        assert msg.done and msg.has_class("error")
        assert "make restart SERVICE=brain" in str(msg.query_one(".luna-footer").render())


# -- copy / paste / select ------------------------------------------------------------
async def test_click_code_block_copies_that_block(app: LunaApp, clip: Clip) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("oi")
        await reply(app, pilot, tid)
        second = list(app.chat.turns[tid].query(CodeBlock))[1]
        await pilot.click(second)
        await pilot.pause()
        assert clip.osc[-1] == "ls -la"
        assert clip.pyperclip[-1] == "ls -la"
        assert app.clip.last is not None and app.clip.last.osc52 and app.clip.last.pyperclip
        assert any("OSC 52" in n.message and "pyperclip" in n.message for n in app._notifications)


async def test_copy_notice_says_why_pyperclip_failed(app: LunaApp, monkeypatch) -> None:
    import pyperclip

    def boom(text: str) -> None:
        raise pyperclip.PyperclipException("Pyperclip could not find a copy/paste mechanism for your system.")

    monkeypatch.setattr(pyperclip, "copy", boom)
    async with app.run_test(size=SIZE):
        res = app.clip.copy("x", "teste")
        assert res.osc52 and not res.pyperclip
        assert "xclip" in res.message("teste")


def test_copy_notice_tmux_without_set_clipboard(monkeypatch) -> None:
    monkeypatch.setattr(clipboard, "tmux_blocks_osc52", lambda: "tmux set-clipboard off")
    monkeypatch.setattr(clipboard, "pyperclip_copy", lambda text: "no xclip/xsel/wl-clipboard installed")

    class A:
        def copy_to_clipboard(self, text: str) -> None:
            pass

    res = clipboard.copy_text(A(), "x")
    assert not res.ok
    msg = res.message("y")
    assert "tmux" in msg and "xclip" in msg


async def test_ctrl_c_copies_selection_and_does_not_quit(app: LunaApp, clip: Clip) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "copie isto")
        await pilot.press("ctrl+a")
        assert app.prompt.selected_text == "copie isto"
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert clip.osc[-1] == "copie isto"
        assert app.is_running and app.return_code is None


async def test_ctrl_c_copies_chat_selection(app: LunaApp, clip: Clip) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("oi")
        await reply(app, pilot, tid, "uma resposta simples")
        app.prompt.blur()
        await pilot.pause()
        await pilot.press("ctrl+a")  # empty input: selects the chat
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert clip.osc and "uma resposta simples" in clip.osc[-1]
        assert app.is_running


async def test_ctrl_v_pastes_app_clipboard(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.copy_to_clipboard("colado!")
        await pilot.press("ctrl+v")
        assert app.prompt.text == "colado!"


async def test_terminal_paste_event(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(events.Paste("linha 1\nlinha 2"))
        await pilot.pause()
        assert app.prompt.text == "linha 1\nlinha 2"


async def test_ctrl_a_wins_over_textarea(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "abc")
        await pilot.press("ctrl+a")  # TextArea alone would move to line start
        assert app.prompt.selected_text == "abc"


# -- other bindings -------------------------------------------------------------------
async def test_ctrl_q_quits(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running


async def test_ctrl_t_new_conversation(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("oi")
        await reply(app, pilot, tid)
        assert len(app.chat.children) == 2
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "new-conversation" in commands(app)
        assert len(app.chat.children) == 0 and app.code_panel.code == ""


async def test_slash_nova_is_new_conversation(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.submit("/nova")
        await pilot.pause()
        assert "new-conversation" in commands(app) and not sent(app, "user-text")


@pytest.mark.parametrize("key", ["f2", "ctrl+h"])
async def test_history_keys_open_and_escape_closes(app: LunaApp, key: str) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.prompt.blur()
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        assert "history-list" in commands(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HistoryScreen)


async def test_f2_works_while_typing(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "oi")
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)


async def test_history_list_and_open(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        await feed(app, "history", conversations=[
            {"id": "c1", "title": "Sobre gatos", "created": 1.79e9, "updated": 1.79e9, "count": 4},
            {"id": "c2", "title": "Código", "created": 1.79e9, "updated": 1.79e9, "count": 2}], current="c1")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HistoryScreen) and len(screen.items) == 2
        await pilot.press("down", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, HistoryScreen)
        opens = [f for f in sent(app, "command") if f["name"] == "history-open"]
        assert opens and opens[-1]["args"] == {"id": "c2"}
        await feed(app, "conversation", id="c2", messages=[
            {"role": "user", "content": "pergunta"},
            {"role": "assistant", "content": "resposta", "provider": "ollama", "model": "m", "ok": True}])
        await pilot.pause()
        kinds = [type(w) for w in app.chat.children]
        assert kinds == [UserMessage, LunaMessage]
        app.chat.send("continua")
        assert sent(app, "user-text")[-1]["conversation_id"] == "c2"


async def test_ctrl_e_soul_editor_saves_and_reloads(app: LunaApp, bus_env) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+e")  # the focused TextArea would take it as end-of-line
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SoulScreen)
        ta = screen.query_one("#soul-text")
        ta.load_text("Você é a Luna, versão de teste.")
        await pilot.press("ctrl+s")
        await pilot.pause()
        path = Path(bus_env["XDG_CONFIG_HOME"]) / "luna" / "alma.md"
        assert path.read_text() == "Você é a Luna, versão de teste."
        assert "soul-reload" in commands(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SoulScreen)


async def test_soul_external_editor(app: LunaApp, bus_env, monkeypatch) -> None:
    import contextlib
    import subprocess

    from services.ui.screens import soul

    calls = []

    def fake_run(cmd, check=False):  # noqa: ANN001
        calls.append(cmd)
        Path(cmd[-1]).write_text("editado fora")
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(soul.subprocess, "run", fake_run)
    monkeypatch.setenv("EDITOR", "vim -u NONE")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(LunaApp, "suspend", lambda self: contextlib.nullcontext())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+e")
        await pilot.pause()
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert calls and calls[0][:3] == ["vim", "-u", "NONE"]
        assert app.screen.query_one("#soul-text").text == "editado fora"
        assert commands(app).count("soul-reload") == 2


async def test_f3_code_mode_streams_code_and_click_copies_all(app: LunaApp, clip: Clip) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        assert app.has_class("code-mode")
        tid = app.chat.send("codigo")
        await reply(app, pilot, tid, end=False)
        panel = app.query_one(CodeOutputPanel)
        assert "print('oi')" in panel.code  # streamed before the reply ended
        await feed(app, "reply-end", tid, ok=True, text=CODE_REPLY, epoch=1)
        await pilot.pause()
        assert panel.code.strip() == "print('oi')\nx = 1\n\nls -la"
        await pilot.click(panel)
        await pilot.pause()
        assert clip.osc[-1] == "print('oi')\nx = 1\n\nls -la"
        await pilot.press("f3")
        assert not app.has_class("code-mode")


async def test_f4_mutes_and_unmutes(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await pilot.press("f4")
        assert commands(app) == ["mute", "unmute"]
        assert app.controls.muted is False


async def test_settings_hot_swap(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, "status", service="brain", data={"functions": {
            "chat": {"provider": "ollama", "model": "dolphin-mistral"}}})
        await pilot.press("f5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        assert "config-get" in commands(app)
        screen.query_one("#model-chat").value = "llama3.2"
        await pilot.click("#settings-apply")
        await pilot.pause()
        cs = [f for f in sent(app, "command") if f["name"] == "config-set"]
        assert cs and cs[-1]["args"] == {"function": "chat", "provider": "ollama", "model": "llama3.2"}


async def test_slash_config_opens_settings(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.submit("/config")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)


async def test_escape_cancels_running_reply(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("conte uma história longa")
        await reply(app, pilot, tid, "era uma vez", end=False)
        await pilot.press("escape")
        await pilot.pause()
        cancels = [f for f in sent(app, "command") if f["name"] == "cancel"]
        assert cancels and cancels[0].turn_id == tid
        assert app.chat.turns[tid].done
        assert app.indicator.state == "idle"


async def test_escape_cancels_speech(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, "speaking", text="olá", epoch=3)
        assert app.indicator.state == "speaking"
        await pilot.press("escape")
        assert "cancel" in commands(app)
        await feed(app, "idle", epoch=3)
        assert app.indicator.state == "idle"


async def test_keymap_override_from_config(bus_env, clip) -> None:
    cfg = Path(bus_env["XDG_CONFIG_HOME"]) / "luna"
    cfg.mkdir(parents=True)
    (cfg / "keymap.toml").write_text('history = "f9"\ncode_mode = "f10"\n')
    app = LunaApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f10")
        assert app.has_class("code-mode")
        await pilot.press("f9")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        assert app.shortcut("history") == "F9"


def test_every_binding_has_an_id() -> None:
    from textual.binding import Binding

    from services.ui.widgets.prompt import PromptInput

    for b in [*LunaApp.BINDINGS, *PromptInput.BINDINGS]:
        assert isinstance(b, Binding) and b.id, b


# -- context menu ---------------------------------------------------------------------
async def test_right_click_context_menu(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#chat", offset=(10, 5), button=3)
        await pilot.pause()
        menu = app.screen
        assert isinstance(menu, ContextMenu)
        labels = [str(i.query_one("Label").render()) for i in menu.query(MenuItem)]
        assert [lb.split()[0] for lb in labels] == ["Copiar", "Colar", "Selecionar", "Nova", "Histórico", "Sair"]
        assert "Ctrl+C" in labels[0] and "Ctrl+Q" in labels[-1] and "F2" in labels[4]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ContextMenu)
        # choose "Nova conversa" with the keyboard
        await pilot.click("#chat", offset=(10, 5), button=3)
        await pilot.pause()
        await pilot.press("down", "down", "down", "enter")
        await pilot.pause()
        assert "new-conversation" in commands(app)


async def test_context_menu_paste_and_quit(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.copy_to_clipboard("do menu")
        await pilot.click("#chat", offset=(5, 2), button=3)
        await pilot.pause()
        items = list(app.screen.query(MenuItem))
        await pilot.click(items[1])
        await pilot.pause()
        assert app.prompt.text == "do menu"
        await pilot.click("#chat", offset=(5, 2), button=3)
        await pilot.pause()
        await pilot.click(list(app.screen.query(MenuItem))[-1])
        await pilot.pause()
        assert not app.is_running


# -- images ---------------------------------------------------------------------------
def _png(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


async def test_image_attach(app: LunaApp, tmp_path: Path) -> None:
    img = _png(tmp_path / "foto.png")
    fake = tmp_path / "nota.png"
    fake.write_text("não sou imagem")
    async with app.run_test(size=SIZE) as pilot:
        app.submit(f"/img {tmp_path / 'nada.png'}")
        await pilot.pause()
        errs = list(app.chat.query(SystemLine))
        assert errs and "não encontrada" in str(errs[-1].render())
        app.submit(f"/img {fake}")
        await pilot.pause()
        assert "Não é uma imagem" in str(list(app.chat.query(SystemLine))[-1].render())
        app.submit(f"/img {img}")
        await pilot.pause()
        assert app.chat.image == str(img)
        app.submit("o que tem nesta foto?")
        await pilot.pause()
        f = sent(app, "user-text")[-1]
        assert f["image"] == str(img) and f["text"] == "o que tem nesta foto?"
        assert app.chat.image == ""


async def test_pasted_image_path_attaches(app: LunaApp, tmp_path: Path) -> None:
    img = _png(tmp_path / "cola.png")
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(events.Paste(f"'{img}'"))
        await pilot.pause()
        assert app.chat.image == str(img) and app.prompt.text == ""


# -- voice, status, notices -----------------------------------------------------------
async def test_voice_turn_partial_then_final(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, "speech-start", epoch=1)
        assert app.indicator.state == "listening"
        await feed(app, "transcript-partial", text="oi Lu")
        await pilot.pause()
        msgs = list(app.chat.query(UserMessage))
        assert len(msgs) == 1 and msgs[0].spoken and msgs[0].has_class("partial")
        await feed(app, "transcript", text="oi Luna")
        await pilot.pause()
        msgs = list(app.chat.query(UserMessage))
        assert len(msgs) == 1 and msgs[0].text == "oi Luna" and not msgs[0].has_class("partial")
        assert "🎤" in str(msgs[0].render())
        # the brain answers a turn the UI did not start
        await reply(app, pilot, "voiceturn", "Olá!")
        assert app.chat.turns["voiceturn"].text == "Olá!"


async def test_notice_becomes_notification(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, "notice", service="brain", level="error", text="Ollama não responde em 127.0.0.1:11434")
        await pilot.pause()
        assert any("Ollama não responde" in n.message for n in app._notifications)


async def test_language_en(bus_env, clip, monkeypatch) -> None:
    monkeypatch.setenv("LANGUAGE", "en")
    app = LunaApp()
    try:
        async with app.run_test(size=SIZE) as pilot:
            descriptions = {b.binding.id: b.binding.description for b in app.screen.active_bindings.values()
                            if b.binding.id}
            assert descriptions.get("quit") == "Quit" and descriptions.get("history") == "History"
            await pilot.click("#chat", offset=(5, 2), button=3)
            await pilot.pause()
            labels = [str(i.query_one("Label").render()).split()[0] for i in app.screen.query(MenuItem)]
            assert labels[0] == "Copy" and labels[-1] == "Quit"
    finally:
        from services.ui import i18n

        i18n.set_language("pt")


async def test_chat_keeps_a_bounded_number_of_messages(app: LunaApp) -> None:
    from services.ui.widgets import follow

    async with app.run_test(size=SIZE) as pilot:
        for i in range(follow.MAX_MESSAGES + 20):
            app.chat.add(UserMessage(f"m{i}"))
        await pilot.pause()
        assert len(app.chat.children) <= follow.MAX_MESSAGES


async def test_command_palette_has_settings(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Configurações" in titles and "Histórico" in titles
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Configurações")
        cmd.callback()
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)


async def test_help_is_local(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.submit("/ajuda")
        await pilot.pause()
        assert not sent(app, "user-text")
        assert "Ctrl+Q" in app.chat.children[-1].source


def test_history_in_a_status_frame_is_not_part_of_the_contract() -> None:
    """History travels in ``history`` frames only: the UI's reader for brains that once put it in ``status``
    is gone, and the catalogue (strict in tests) rejects such a frame instead of letting it drift back."""
    with pytest.raises(FrameError, match="undeclared-key"):
        make("status", service="brain", data={"conversations": [{"id": "x", "title": "Antiga"}]})


async def test_empty_conversation_frame_keeps_the_chat(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.chat.send("digitei logo depois de ctrl+t")
        await feed(app, "conversation", id="novo", messages=[], title="")
        await pilot.pause()
        assert len(app.chat.children) == 2 and app.chat.conversation_id == "novo"


async def test_config_frame_missing_models_and_pull(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, "status", service="brain", data={
            "functions": {"chat": {"provider": "ollama", "model": "dolphin-mistral"}},
            "ollama": "up", "missing_models": ["dolphin-mistral"]})
        await pilot.press("f5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        assert "dolphin-mistral" in str(screen.query_one("#settings-missing").render())
        await pilot.click("#settings-pull")
        await pilot.pause()
        pulls = [f for f in sent(app, "command") if f["name"] == "pull"]
        assert pulls and pulls[0]["args"] == {"model": "dolphin-mistral"}
        await feed(app, "config", functions={"chat": {"provider": "gemini", "model": "g"}},
                   error="config: GEMINI_API_KEY missing")
        await pilot.pause()
        assert app.functions["chat"]["provider"] == "gemini"
        assert any("GEMINI_API_KEY" in n.message for n in app._notifications)
        await feed(app, "status", service="brain", data={"pull": {"model": "dolphin-mistral", "status": "pulling",
                                                                   "completed": 50, "total": 100}})
        assert "50%" in str(app.indicator.render())
        bar = app.query_one("#pull", ProgressBar)
        assert bar.has_class("shown") and bar.total == 100 and bar.progress == 50
        await feed(app, "status", service="brain", data={"pull": {"model": "dolphin-mistral", "status": "success"}})
        assert not bar.has_class("shown") and "50%" not in str(app.indicator.render())


async def test_slash_with_args_goes_to_brain(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.submit("/historico 2")
        app.submit("/config chat ollama llama3.2")
        await pilot.pause()
        assert [f["text"] for f in sent(app, "user-text")] == ["/historico 2", "/config chat ollama llama3.2"]


async def test_settings_fill_in_when_config_arrives(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        await feed(app, "config", functions={"chat": {"provider": "ollama", "model": "dolphin-mistral"},
                                             "code": {"provider": "deepseek", "model": "deepseek-chat"}},
                   options={"providers": ["local", "ollama", "deepseek"]})
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#model-chat").value == "dolphin-mistral"
        assert screen.query_one("#prov-code").value == "deepseek"


async def test_turn_metrics_latency_in_status_bar(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await feed(app, "turn-metrics", "t", stages={"stt_s": 0.2, "total_s": 1.9, "time_to_first_audio_s": 0.85})
        await pilot.pause()
        assert "850 ms" in str(app.query_one("#status").render())


async def test_echo_mode_and_mic_level_in_status_bar(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        hb = make("heartbeat", source="capture", service="capture", state="ready", counters={},
                  info={"level": 0.5, "echo_mode": "aec", "echo_mode_effective": "half-duplex"})
        app.client.peers.update(hb)  # heartbeats feed the bus client's view of its peers
        app.refresh_status()
        await pilot.pause()
        text = str(app.query_one("#status").render())
        assert "half-duplex" in text and "▄" in text and "capture" in text, text


async def test_f6_metrics_panel_grades_by_the_seed_thresholds(app: LunaApp) -> None:
    from services.ui.screens.metrics import MetricsScreen

    async with app.run_test(size=SIZE) as pilot:
        for i, ttfa in enumerate((0.9, 1.2, 6.5)):
            await feed(app, "turn-metrics", f"t{i}", stages={"stt_s": 0.3, "first_token_s": 0.4,
                                                            "tts_s": 0.1, "time_to_first_audio_s": ttfa})
        app.client.peers.update(make("heartbeat", source="capture", service="capture", state="ready",
                                     counters={"queue": 120, "drops": 0, "captured": 500}, info={}))
        app.client.peers.update(make("heartbeat", source="stt", service="stt", state="ready",
                                     counters={"queue": 0, "drops": 0}, info={"last_stt_ms": 2500}))
        await pilot.press("f6")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        screen.refresh_metrics()
        await pilot.pause()
        rows = {name: (value, health) for name, value, health in screen.rows}
        assert rows["ponta a ponta"] == ("6.50 s", "atenção")  # 5-10 s: warning
        assert rows["fila de áudio"] == ("120", "crítico")  # > 100
        assert rows["Whisper (STT)"] == ("2.50 s", "atenção") and rows["áudio descartado"] == ("0", "aceitável")
        assert screen.query_one("#spark-ttfa").data == [0.9, 1.2, 6.5]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, MetricsScreen)
        app.refresh_status()
        assert "crítico" in str(app.query_one("#status").render())  # the worst grade shows in the status bar
