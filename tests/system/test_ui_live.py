"""The UI as a new user lives in it (issue 15): what is on the screen, where the keys go, what each word says.

These tests read the rendered screen (the text a terminal would show), not widget state:
a reply counts as answered only when its words are inside the chat's visible rows.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from textual import events

from services.ui import i18n
from services.ui.app import LunaApp
from services.ui.screens.history import HistoryScreen
from services.ui.screenshot import save_screen
from services.ui.widgets.bubbles import LunaMessage, SystemLine
from shared.messages import make

SIZE = (100, 30)


def screen_lines(app: LunaApp) -> list[str]:
    """The whole screen as text rows, as the terminal shows it (modals and toasts included)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system=None,
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


def chat_rows(app: LunaApp) -> str:
    """The text of the chat's visible rows only (without its scrollbar)."""
    r = app.chat.scrollable_content_region
    return "\n".join(line[r.x:r.right] for line in screen_lines(app)[r.y:r.bottom])


async def in_view(app: LunaApp, pilot, *texts: str, timeout: float = 3.0) -> str:
    """The chat's visible rows once they hold every one of ``texts`` (a follow scroll may take a frame
    or two on a loaded machine); fails with what is on screen if they never do."""
    rows = ""
    for _ in range(int(timeout / 0.05)):
        rows = chat_rows(app)
        if all(x in rows for x in texts):
            return rows
        await pilot.pause(0.05)
    raise AssertionError(f"not in view: {texts!r}\n{rows}")


@pytest.fixture
def app(bus_env, monkeypatch: pytest.MonkeyPatch) -> LunaApp:
    import pyperclip

    monkeypatch.setattr(pyperclip, "copy", lambda text: None)
    monkeypatch.setattr(pyperclip, "paste", lambda: "")
    return LunaApp(reply_timeout=30)


async def feed(app: LunaApp, type_: str, turn_id: str = "", **data) -> None:
    await app.handle_frame(make(type_, source="brain", turn_id=turn_id, **data))


async def stream(app: LunaApp, pilot, tid: str, text: str, epoch: int, end: bool = True, step: int = 9,
                 **start) -> None:
    await feed(app, "reply-start", tid, intent=start.get("intent", "chat"), provider="embedded",
               model="smollm2-135m", epoch=epoch, **({"notice": start["notice"]} if "notice" in start else {}))
    for i in range(0, len(text), step):
        await feed(app, "token", tid, text=text[i:i + step], epoch=epoch)
        if i % (step * 20) == 0:
            await pilot.pause()
    if end:
        await feed(app, "reply-end", tid, ok=True, text=text, epoch=epoch, timings={"total_ms": 9.0})
    await pilot.pause()
    await pilot.pause(0.1)


def long_reply(n: int, tag: str) -> str:
    return "\n\n".join(f"Parágrafo {i} da resposta {tag}, com bastante texto para ocupar a linha." for i in range(n))


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


# -- follow mode --------------------------------------------------------------------------
async def test_every_new_entry_is_in_view_after_long_turns_and_a_cancel(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        for k in range(3):
            tid = app.chat.send(f"pergunta {k}")
            await stream(app, pilot, tid, long_reply(12, f"R{k}") + f"\n\nFIM-R{k}", k + 1)
            await in_view(app, pilot, f"FIM-R{k}")
        tid = app.chat.send("conte uma história enorme")  # cancelled half-way
        await stream(app, pilot, tid, long_reply(30, "longa"), 9, end=False)
        await pilot.press("escape")
        await pilot.pause(0.2)
        await in_view(app, pilot, "(cancelado)")
        tid = app.chat.send("e agora um código")
        await stream(app, pilot, tid, long_reply(6, "código") + "\n\n```python\nprint('ok')\n```\n\nFIM-CODIGO",
                     10, intent="code")
        await in_view(app, pilot, "FIM-CODIGO", "print('ok')")
        # a notice, an error and an /img error are entries too
        await feed(app, "reply-start", "e1", intent="vision", provider="ollama", model="minicpm-v", epoch=11)
        await feed(app, "reply-end", "e1", ok=False, error="ERRO-VISÃO: sem modelo", epoch=11)
        await pilot.pause(0.1)
        await in_view(app, pilot, "ERRO-VISÃO")
        app.submit("/img /nao/existe.png")
        await pilot.pause(0.1)
        await in_view(app, pilot, "/nao/existe.png")


async def test_scrolled_up_shows_marker_and_end_jumps_back(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("primeira")
        await stream(app, pilot, tid, long_reply(20, "A") + "\n\nFIM-A", 1)
        assert app.chat.following
        for _ in range(10):  # the mouse wheel, as a terminal reports it
            app.chat.post_message(events.MouseScrollUp(app.chat, 5, 5, 0, -1, 0, False, False, False, 5, 5))
        await pilot.pause(0.1)
        assert not app.chat.following
        seen = chat_rows(app)
        tid = app.chat.send("segunda")
        await stream(app, pilot, tid, long_reply(10, "B") + "\n\nFIM-B", 2)
        await pilot.pause(0.3)  # time for a (wrong) follow scroll to land
        assert "FIM-B" not in chat_rows(app)  # the reader stays where they are...
        now = chat_rows(app).splitlines()
        assert now == seen.splitlines()[:len(now)]  # the same rows (one may now hold the marker)
        assert "novas mensagens ↓" in "\n".join(screen_lines(app))  # ...and is told
        await pilot.press("end")
        await pilot.pause(0.1)
        await in_view(app, pilot, "FIM-B")
        assert app.chat.following
        assert "novas mensagens ↓" not in "\n".join(screen_lines(app))
        tid = app.chat.send("terceira")
        await stream(app, pilot, tid, long_reply(10, "C") + "\n\nFIM-C", 3)
        await in_view(app, pilot, "FIM-C")


async def test_end_in_the_input_still_moves_the_cursor(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "abc")
        await pilot.press("home", "end", "d")
        assert app.prompt.text == "abcd"


# -- focus contract -------------------------------------------------------------------------
MODALS = {
    "history": ("f2", "escape"),
    "settings": ("f5", "escape"),
    "soul": ("ctrl+e", "escape"),
    "metrics": ("f6", "escape"),
    "palette": ("ctrl+p", "escape"),
    "code_mode": ("f3", "f3"),
}


@pytest.mark.parametrize("name", list(MODALS))
async def test_focus_returns_to_the_input(app: LunaApp, name: str) -> None:
    open_key, close_key = MODALS[name]
    async with app.run_test(size=SIZE) as pilot:
        if name == "code_mode":
            await pilot.press(open_key)
            await pilot.click("#code-output-area")  # the user clicked into the code
        else:
            await pilot.press(open_key)
        await pilot.pause()
        await pilot.press(close_key)
        await pilot.pause(0.1)
        assert app.focused is app.prompt, (name, app.focused)
        await type_text(pilot, "/historico")
        assert app.prompt.text == "/historico"


async def test_focus_after_context_menu_and_typing_reaches_input(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#chat", offset=(10, 5), button=3)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.focused is app.prompt
        app.chat.focus()
        await pilot.pause()
        assert app.focused is app.chat
        await type_text(pilot, "faz uma função")  # typed while the chat has the focus
        assert app.prompt.text == "faz uma função" and app.focused is app.prompt


async def test_tab_brings_the_focus_back(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("primeira")
        await stream(app, pilot, tid, long_reply(20, "A"), 1)  # a chat long enough to scroll takes the focus
        await pilot.press("tab")
        assert app.focused is app.chat
        await pilot.press("tab")
        assert app.focused is app.prompt
        await pilot.click("#chat")
        await pilot.press("tab")
        assert app.focused is app.prompt


async def test_focus_after_opening_a_conversation_from_history(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        await feed(app, "history", conversations=[{"id": "c1", "title": "Código antigo", "count": 2}], current="")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await feed(app, "conversation", id="c1", messages=[
            {"role": "user", "content": "me dá um script"},
            {"role": "assistant", "content": "Claro:\n\n```bash\necho antigo\n```", "provider": "ollama",
             "model": "m", "ok": True}])
        await pilot.pause(0.1)
        assert app.focused is app.prompt
        await type_text(pilot, "mais")
        assert app.prompt.text == "mais"
        # F3 shows the reopened conversation's code
        await pilot.press("f3")
        await pilot.pause()
        assert app.code_panel.code.strip() == "echo antigo"
        assert "echo antigo" in "\n".join(screen_lines(app))


# -- F3 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply", [
    "Veja:\n\n```python\nprint('oi')\n```\n",
    "Veja:\n```py\nprint('oi')",  # a fence the model never closed (small models do this)
    "Veja:\n\n~~~\nprint('oi')\n~~~\n",
    "Veja:\n\n    print('oi')\n\nFim.",  # an indented block: the chat draws it as code too
])
async def test_f3_shows_the_code_the_chat_shows(app: LunaApp, reply: str) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("codigo")
        await stream(app, pilot, tid, reply, 1, step=3, intent="code")
        shown = [b.code.strip() for b in app.chat.turns[tid].query("CodeBlock")]
        await pilot.press("f3")
        await pilot.pause()
        assert shown and app.code_panel.code.strip() == "\n\n".join(shown)
        assert "print('oi')" in "\n".join(screen_lines(app))


# -- paste-speed input -------------------------------------------------------------------------
async def test_burst_keeps_the_newline_in_place(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        keys = [*"linha", "space", *"um", "ctrl+j", *"linha", "space", *"dois"]
        for k in keys:  # all queued at once, as a terminal delivers a paste-speed burst
            char = " " if k == "space" else (None if k == "ctrl+j" else k)
            app.post_message(events.Key(k, char))
        await pilot.pause(0.2)
        assert app.prompt.text == "linha um\nlinha dois"


# -- commands --------------------------------------------------------------------------------------
async def test_unknown_slash_command_is_answered_locally(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.submit("/foo")
        await pilot.pause()
        assert not [f for f in app.client.sent if f.type == "user-text"]
        assert "comando desconhecido: /foo — veja /ajuda" in str(app.chat.query(SystemLine).last().render())
        app.submit("/etc/hosts o que é isso?")  # a path is a question, not a command
        await pilot.pause()
        assert [f["text"] for f in app.client.sent if f.type == "user-text"] == ["/etc/hosts o que é isso?"]


async def test_help_lists_every_command_of_the_table(app: LunaApp) -> None:
    from services.ui.commands import COMMANDS

    async with app.run_test(size=SIZE) as pilot:
        app.submit("/ajuda")
        await pilot.pause()
        text = app.chat.children[-1].source
        for c in COMMANDS:
            assert f"/{c.pt}" in text, c
            if c.binding:
                assert app.shortcut(c.binding) in text, c
        assert "/metricas" in text and "/codigo" in text and "F6" in text
        for c in COMMANDS:  # and each one runs (none falls through to the model)
            if c.action in ("exit", "chat.attach"):
                continue
            app.submit(f"/{c.pt}")
            await pilot.pause()
            while app.screen is not app.screen_stack[0]:
                app.pop_screen()
                await pilot.pause()
            if app.has_class("code-mode"):
                app.action_code_mode()
        assert not [f for f in app.client.sent if f.type == "user-text"]


async def test_command_with_argument_goes_to_the_brain_by_its_brain_name(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.submit("/settings chat gemini")
        await pilot.pause()
        assert [f["text"] for f in app.client.sent if f.type == "user-text"] == ["/config chat gemini"]


# -- provider skipped: said in the reply's header ----------------------------------------------
async def test_skipped_provider_is_named_in_the_reply_header(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("oi")
        await stream(app, pilot, tid, "Olá! " * 30, 1,
                     notice="gemini: sem chave (GEMINI_API_KEY vazio no .env), pulando")
        await in_view(app, pilot, "embedded/smollm2-135m", "GEMINI_API_KEY")
        msg = app.chat.turns[tid]
        assert isinstance(msg, LunaMessage) and "gemini" in msg.notice


async def test_a_long_skip_notice_wraps_instead_of_being_cut(app: LunaApp) -> None:
    """Seen in tmux at 160 columns: the Ollama notice ran off the bubble's right edge."""
    async with app.run_test(size=(80, 30)) as pilot:
        tid = app.chat.send("oi")
        notice = ("Ollama não está rodando em http://127.0.0.1:11434 (instale e rode `ollama serve`); "
                  "modelo offline respondendo; instale o Ollama e baixe o modelo fimdoaviso")
        await stream(app, pilot, tid, "Olá!", 1, notice=notice)
        await in_view(app, pilot, "fimdoaviso")


# -- history: an empty conversation ------------------------------------------------------------
async def test_empty_conversation_in_history_reads_as_such(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        await feed(app, "history", conversations=[{"id": "935240ffae41", "title": "", "count": 0,
                                                   "updated": 1.79e9}], current="935240ffae41")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        text = "\n".join(screen_lines(app))
        assert "(conversa vazia)" in text and "935240ffae41" not in text and "0 msg" not in text


# -- status bar: 80 to 200 columns ---------------------------------------------------------------
@pytest.mark.parametrize("width", [80, 100, 150, 200])
async def test_status_bar_collapses_without_cutting(app: LunaApp, width: int) -> None:
    async with app.run_test(size=(width, 30)) as pilot:
        await feed(app, "status", service="brain", data={"functions": {
            "chat": {"provider": "embedded", "model": "smollm2-135m"},
            "code": {"provider": "ollama", "model": "qwen2.5-coder:7b"},
            "vision": {"provider": "ollama", "model": "minicpm-v"}}})
        app.latency_ms = 950.0
        app.query_one("#status").drawn = ()
        app.refresh_status()
        await pilot.pause()
        bar = app.query_one("#status")
        line = screen_lines(app)[bar.region.y].rstrip()
        assert len(line) <= width
        assert "visão" in line and "950 ms" in line, line  # the last entries are there, whole
        assert line.endswith(("minicpm-v", "visão")), line


# -- screenshot ------------------------------------------------------------------------------------
async def test_screenshot_without_downloads_folder(app: LunaApp, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads there
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    async with app.run_test(size=SIZE) as pilot:
        path = save_screen(app)
        await pilot.pause()
        assert path and path.endswith(".svg") and "screenshots" in path
        assert open(path, encoding="utf-8").read().startswith("<svg")
        assert any("Captura de tela salva" in n.message for n in app._notifications)


# -- i18n walk -------------------------------------------------------------------------------------
#: Words that may appear in the Portuguese UI: names (services, providers, models, keys, tools).
ALLOWED = {
    "luna", "capture", "stt", "brain", "tts", "playback", "ui", "ollama", "embedded", "gemini", "deepseek",
    "openai", "local", "smollm2", "dolphin", "mistral", "minicpm", "qwen2", "coder", "chat", "ctrl", "shift",
    "enter", "esc", "tab", "end", "home", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "osc", "pyperclip",
    "xclip", "xsel", "wl", "clipboard", "tmux", "whisper", "llm", "chunks", "svg", "editor", "md", "img",
    "png", "ms", "mic", "gguf", "api", "key", "env", "python", "bash", "print", "echo", "textual", "aec",
    "half", "duplex", "msg", "on", "set",
}
#: Common English words: any of them outside ALLOWED fails the walk.
ENGLISH = set("""
the and or of to in is it for with at by from this that these not yes you your per model models provider
providers function functions mute unmute keys key maximize minimize screenshot palette quit copy paste save close
open cancel settings history error errors loading latency queues queue drops health new show hide help search
commands command theme change current focused widget summary available file files found matches nothing
selected empty installed failed could did work works running run ready thinking speaking listening
code vision send sends line newline select all conversation soul edit metrics value metric warning critical
acceptable apply pull pulling missing home download downloads saved image attached next message usage path
""".split())


def english_words(text: str) -> set[str]:
    text = re.sub(r"\S*/\S*/\S*", " ", text)  # file paths are names too (/tmp/pytest-of-root/...)
    words = {w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ]+", text)}
    return {w for w in words if w in ENGLISH and w not in ALLOWED}


async def walk(app: LunaApp, pilot) -> dict[str, str]:
    """Every screen, palette and notice a user can open, as text."""
    seen: dict[str, str] = {}

    async def grab(name: str) -> None:
        await pilot.pause(0.15)
        seen[name] = "\n".join(screen_lines(app))

    await feed(app, "status", service="brain", data={"functions": {
        "chat": {"provider": "embedded", "model": "smollm2-135m"},
        "code": {"provider": "ollama", "model": "qwen2.5-coder:7b"},
        "vision": {"provider": "ollama", "model": "minicpm-v"}}, "ollama": "up",
        "missing_models": ["minicpm-v"]})
    tid = app.chat.send("oi")
    await stream(app, pilot, tid, "Olá!\n\n```python\nprint(1)\n```", 1, intent="code",
                 notice="gemini: sem chave (GEMINI_API_KEY vazio no .env), pulando")
    tid = app.chat.send("o que você está vendo?")  # Luna's own answer, as the brain sends it
    await feed(app, "reply-start", tid, intent="vision", provider="luna", model="", epoch=2)
    await feed(app, "reply-end", tid, ok=True, text="Para eu ver, preciso de uma imagem: /img caminho", epoch=2)
    app.submit("/ajuda")
    app.submit("/foo")
    await grab("chat")
    for key, name in (("f2", "history"), ("f5", "settings"), ("ctrl+e", "soul"), ("f6", "metrics"),
                      ("ctrl+p", "palette")):
        await pilot.press(key)
        if name == "history":
            await pilot.pause()
            await feed(app, "history", conversations=[{"id": "x1", "title": "", "count": 0}], current="x1")
        await grab(name)
        if name == "palette":  # a search that finds nothing says so
            await type_text(pilot, "zzqx")
            await pilot.pause(0.8)
            await grab("palette_no_match")
        await pilot.press("escape")
        await pilot.pause()
    await pilot.press("f3")
    await grab("code_mode")
    await pilot.press("f3")
    await pilot.click("#chat", offset=(10, 3), button=3)
    await grab("context_menu")
    await pilot.press("escape")
    app.clip.copy("x", "teste")
    await pilot.press("f4")
    save_screen(app)
    await grab("toasts")
    # the footer and the bindings' descriptions
    seen["bindings"] = " ".join(b.binding.description for b in app.screen.active_bindings.values()
                                if b.binding.show)
    seen["palette_entries"] = " ".join(f"{c.title} {c.help}" for c in app.get_system_commands(app.screen))
    seen["notifications"] = "\n".join(n.message for n in app._notifications)  # every toast shown so far
    return seen


async def test_portuguese_ui_has_no_english_words(bus_env, monkeypatch, tmp_path) -> None:
    import pyperclip

    monkeypatch.setattr(pyperclip, "copy", lambda text: (_ for _ in ()).throw(
        pyperclip.PyperclipException("Pyperclip could not find a copy/paste mechanism for your system.")))
    monkeypatch.setenv("LANGUAGE", "pt")
    monkeypatch.setenv("HOME", str(tmp_path))
    app = LunaApp(reply_timeout=30)
    async with app.run_test(size=(120, 36)) as pilot:
        seen = await walk(app, pilot)
    bad = {name: english_words(text) for name, text in seen.items()}
    bad = {k: sorted(v) for k, v in bad.items() if v}
    assert not bad, "\n".join(f"{k}: {v} in {seen[k]!r}" for k, v in bad.items())
    assert "Nenhum comando encontrado" in seen["palette_no_match"]
    assert len(seen) >= 10


async def test_the_walk_catches_english(bus_env, monkeypatch, tmp_path) -> None:
    """The same walk in LANGUAGE=en finds English: the check above can fail."""
    monkeypatch.setenv("LANGUAGE", "en")
    monkeypatch.setenv("HOME", str(tmp_path))
    app = LunaApp(reply_timeout=30)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            seen = await walk(app, pilot)
        assert english_words(seen["palette_entries"]) and english_words(seen["settings"])
        assert "No matches found" in seen["palette_no_match"]
    finally:
        i18n.set_language("pt")


# -- F5: a provider switch resets the model -----------------------------------------------------------
async def test_settings_provider_switch_resets_the_model(app: LunaApp) -> None:
    from textual.widgets import Input, Select

    async with app.run_test(size=SIZE) as pilot:
        await feed(app, "config", functions={
            "chat": {"provider": "embedded", "model": "smollm2-135m", "configured": "gemini",
                     "configured_model": "gemini-2.5-flash",
                     "skipped": [{"provider": "gemini", "why": "sem chave (GEMINI_API_KEY vazio no .env)"}]}},
            options={"providers": ["local", "ollama", "embedded", "gemini"],
                     "defaults": {"chat": {"ollama": "dolphin-mistral", "gemini": "gemini-2.5-flash",
                                           "embedded": "smollm2-135m"}}})
        await pilot.press("f5")
        await pilot.pause()
        screen = app.screen
        text = "\n".join(screen_lines(app))
        assert "conversa" in text and "gemini vai ser pulado: sem" in text and "GEMINI_API_KEY" in text, text
        assert screen.query_one("#prov-chat", Select).value == "gemini"  # what the user chose, not who answers
        screen.query_one("#prov-chat", Select).value = "ollama"
        await pilot.pause()
        assert screen.query_one("#model-chat", Input).value == "dolphin-mistral"  # not gemini's model
        await pilot.click("#settings-apply")
        await pilot.pause()
        cs = [f for f in app.client.sent if f.type == "command" and f["name"] == "config-set"]
        assert cs[-1]["args"] == {"function": "chat", "provider": "ollama", "model": "dolphin-mistral"}
        assert app.focused is app.prompt


async def test_a_luna_send_turn_is_marked(app: LunaApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await app.handle_frame(make("user-text", source="ctl", turn_id="s1", text="mensagem do script"))
        await pilot.pause()
        await in_view(app, pilot, "mensagem do script", "enviado por luna send")


async def test_a_spoken_turn_the_speaker_went_on_with_is_one_line_and_one_answer(app: LunaApp) -> None:
    """They paused after "Desculpe." long enough for stt to end the turn, Luna began an answer, and
    they went on: stt's next transcript ``continues`` that turn. On screen the half sentence and
    Luna's cut answer to it are gone, the whole sentence is one line with one answer, and the turns
    before it stay."""
    async with app.run_test(size=SIZE) as pilot:
        tid = app.chat.send("qual é a capital do Brasil?")
        await stream(app, pilot, tid, "A capital do Brasil é Brasília.", epoch=1)
        await app.handle_frame(make("speech-start", source="stt", epoch=1))
        await app.handle_frame(make("transcript", source="stt", turn_id="c1", text="Desculpe."))
        await stream(app, pilot, "c1", "Tudo bem, sem", epoch=2, end=False)
        await in_view(app, pilot, "Desculpe.", "Tudo bem, sem")
        await app.handle_frame(make("transcript-partial", source="stt", turn_id="c2", pause=True, continues="c1",
                                    text="Desculpe, eu não entendi a sua pergunta."))
        await app.handle_frame(make("transcript", source="stt", turn_id="c2", continues="c1",
                                    text="Desculpe, eu não entendi a sua pergunta."))
        await feed(app, "reply-end", "c1", ok=False, cancelled=True, text="", epoch=2)  # the brain stopped it
        await stream(app, pilot, "c2", "Sem problema: perguntei qual é a capital do Brasil.", epoch=3)
        rows = await in_view(app, pilot, "qual é a capital do Brasil?", "A capital do Brasil é Brasília.",
                             "Desculpe, eu não entendi a sua pergunta.", "Sem problema: perguntei")
        assert "Desculpe." not in rows and "Tudo bem, sem" not in rows, rows
        assert rows.count("Desculpe, eu não entendi") == 1, rows  # the partial bubble became the final one
        assert i18n.t("cancelled") not in rows, rows
        assert not app.chat.running  # nothing left "thinking"
        # a transcript naming a turn that is not the newest spoken one (an old one) takes nothing away
        await app.handle_frame(make("transcript", source="stt", turn_id="c3", continues=tid, text="e amanhã?"))
        await in_view(app, pilot, "Desculpe, eu não entendi a sua pergunta.", "Sem problema: perguntei", "e amanhã?")
