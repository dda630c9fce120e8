"""LunaApp: the screen's layout, and the actions its keys, menus, palette and slash commands name.

An action here only says who does the job: the chat owns the conversation (sending, the
attachment, new/open, cancel, the turns: ``widgets/chat.py``), ``panels.py`` which screen
or panel is open, ``controls.py`` what the user changes in the other services,
``clipboard.py`` copy and paste. Bus frames go to their handler (``handlers.py``), screens
post messages that the app passes on, the styles are in ``app.tcss``.
"""

from __future__ import annotations

import contextlib
from collections import deque
from pathlib import Path
from typing import Any

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import ProgressBar, Static

from services.ui import commands, i18n, keymap
from services.ui.busclient import SERVICES, BusClient, BusEvent
from services.ui.clipboard import Clipboard, CopyRequested
from services.ui.controls import Controls
from services.ui.handlers import HANDLERS
from services.ui.i18n import t
from services.ui.panels import Panels
from services.ui.screens.main import MainScreen, end_of
from services.ui.screens.settings import SettingsScreen
from services.ui.screens.soul import SoulScreen
from services.ui.widgets.banner import FallbackBanner
from services.ui.widgets.bubbles import HelpMessage, SystemLine
from services.ui.widgets.chat import REPLY_START_TIMEOUT, ChatLog
from services.ui.widgets.code_output import CodeOutputPanel
from services.ui.widgets.footer import LunaFooter
from services.ui.widgets.palette import LunaPalette, system_commands
from services.ui.widgets.prompt import PromptInput
from services.ui.widgets.status import Indicator, StatusBar
from shared import config
from shared.messages import text_too_long


class LunaApp(App):
    TITLE = "Luna"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # beside this file, wherever Luna is started from
    COMMAND_PALETTE_DISPLAY = "Ctrl+P"
    BINDINGS = keymap.bindings()

    def __init__(self, *, connect: bool = True, language: str | None = None, keymap_file: Path | None = None,
                 reply_timeout: float = REPLY_START_TIMEOUT) -> None:
        settings, self.config_errors = config.load_lenient()
        i18n.set_language(language or settings.LANGUAGE)
        cls = type(self)
        cls.BINDINGS = keymap.bindings()  # labels in the chosen language (Textual merges bindings per class)
        cls._merged_bindings = cls._merge_bindings()
        super().__init__()
        self.connect = connect
        self.client = BusClient(self)
        self.keymap_file = keymap_file
        self.reply_timeout = reply_timeout
        self.functions: dict[str, dict[str, Any]] = {}
        self.speaking = False
        self.listening = False
        self.latency_ms: float | None = None
        self.clip = Clipboard(self)  # Ctrl+C, Ctrl+V, Ctrl+A, click-to-copy
        self.panels = Panels(self)  # the screens and panels over the chat
        self.controls = Controls(self)  # mute, listen mode, providers, pulls, the soul reload
        self.brain_options: dict[str, Any] = {}
        self.brain_info: dict[str, Any] = {}
        self.pulling = ""
        self.turn_history: deque[dict[str, Any]] = deque(maxlen=60)  # last turns' stages, for the metrics panel
        self._brain_up = False

    # -- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Indicator(id="indicator")
        with Vertical(id="main"):
            yield ChatLog(self.client, reply_timeout=self.reply_timeout, id="chat")
            yield CodeOutputPanel(id="code-output")
            yield Static(t("new_below"), id="new-below", markup=False)
        yield Static("", id="attachment", markup=False)
        yield ProgressBar(id="pull", show_eta=True)
        yield PromptInput(id="prompt", placeholder=t("placeholder"))
        yield FallbackBanner(id="fallbacks")
        yield StatusBar(id="status")
        yield LunaFooter()  # fitted to the width: no entry cut at the right edge

    @property
    def chat(self) -> ChatLog:
        return self.query_one(ChatLog)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def indicator(self) -> Indicator:
        return self.query_one(Indicator)

    @property
    def code_panel(self) -> CodeOutputPanel:
        return self.query_one(CodeOutputPanel)

    def on_mount(self) -> None:
        keys, err = keymap.load_keymap(self.keymap_file)
        if keys:
            self.set_keymap(keys)
        if err:
            self.notify(err, severity="error", timeout=8)
        for e in self.config_errors:
            self.notify(str(e), severity="warning", timeout=8)
        if self.connect and not self.client.start():
            self.chat.add(SystemLine(t("bus_down", err=self.client.error), classes="error", markup=False))
        self.chat.show_up_summary()
        self.prompt.focus()
        self.watch(self.chat, "replying", self.update_indicator, init=False)
        self.refresh_status()
        self.set_interval(0.25, self.refresh_status)

    async def on_unmount(self) -> None:
        await self.client.stop()

    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def get_system_commands(self, screen):  # noqa: ANN001, ANN201 - the command palette (ctrl+p)
        yield from system_commands(self)

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(LunaPalette(id="--command-palette", placeholder=t("palette_search")))

    # -- focus ------------------------------------------------------------------------
    def focus_input(self) -> None:
        """The focus contract (:class:`MainScreen`): on the chat screen the input holds the focus."""
        if isinstance(self.screen, MainScreen):
            self.screen.focus_input()

    async def on_event(self, event: events.Event) -> None:
        # Redirect before Textual forwards the key to the focused widget, so a burst of keys keeps its order.
        if isinstance(event, events.Key) and isinstance(self.screen, MainScreen) and self.screen.typing_elsewhere(event):
            self.screen.set_focus(self.prompt)
        await super().on_event(event)

    def action_chat_end(self) -> None:
        """End: the newest message when the chat is scrolled up (or hides news); else what End does there."""
        if isinstance(self.screen, MainScreen) and not self.panels.code_mode and self.chat.catch_up():
            return
        end_of(self.focused)

    @on(ChatLog.Unseen)
    def _unseen(self, event: ChatLog.Unseen) -> None:
        self.query_one("#new-below", Static).set_class(event.unseen, "shown")

    def on_click(self, event: events.Click) -> None:
        if event.button == 3 and not isinstance(self.screen, ModalScreen):
            event.stop()
            self.panels.context_menu(event.screen_x, event.screen_y)
        elif event.button == 1 and getattr(event.widget, "id", "") == "new-below":
            event.stop()
            self.chat.jump_end()
            self.focus_input()

    # -- keys / actions -------------------------------------------------------------
    def get_key_display(self, binding: Binding) -> str:
        shown = super().get_key_display(binding)
        return shown.upper() if len(shown) <= 3 and shown[:1] in "fF" and shown[1:].isdigit() else shown

    @property
    def keys_remapped(self) -> dict[str, str]:
        """The keymap file's overrides now in force (binding id -> keys)."""
        return getattr(self, "_keymap", {}) or {}

    def shortcut(self, binding_id: str) -> str:
        """The key currently bound to ``binding_id`` (after keymap overrides), for menus."""
        return keymap.shortcut(self.BINDINGS, self.keys_remapped, binding_id)

    @on(CopyRequested)
    def _copy_requested(self, event: CopyRequested) -> None:
        self.clip.copy(event.text, event.what)

    def action_copy(self) -> None:
        self.clip.copy_selection()

    def action_paste(self) -> None:
        self.clip.paste()

    def action_select_all(self) -> None:
        self.clip.select_all()

    def action_new_conversation(self) -> None:
        self.chat.new_conversation()
        self.code_panel.clear()

    def action_history(self) -> None:
        self.panels.history()

    def action_soul(self) -> None:
        self.panels.soul()

    def action_metrics(self) -> None:
        self.panels.metrics()

    def action_settings(self) -> None:
        self.panels.settings()

    def action_code_mode(self) -> None:
        self.panels.toggle_code_mode()

    @on(SoulScreen.Saved)
    def _soul_saved(self) -> None:
        self.controls.soul_reload()

    @on(SettingsScreen.ConfigSet)
    def _config_chosen(self, event: SettingsScreen.ConfigSet) -> None:
        self.controls.config_set(event.function, event.provider, event.model)

    @on(SettingsScreen.Pull)
    def _pull(self, event: SettingsScreen.Pull) -> None:
        self.controls.pull(event.model)

    def action_listen_mode(self) -> None:
        self.controls.next_listen_mode()

    def action_talk(self) -> None:
        self.controls.talk()

    def action_mute(self) -> None:
        self.controls.toggle_mute()

    def action_cancel(self) -> None:
        """Escape: close the open screen, else cancel the running reply and Luna's speech, else close F3."""
        if self.panels.close_modal():
            return
        if not (self.chat.running or self.speaking):
            if self.panels.code_mode:  # Esc closes F3 like any other screen
                self.panels.toggle_code_mode()
            return
        self.chat.cancel()
        self.speaking = False
        self.update_indicator()

    # -- input ----------------------------------------------------------------------
    @on(PromptInput.ImagePasted)
    def _image_pasted(self, event: PromptInput.ImagePasted) -> None:
        self.chat.attach(event.path)

    @on(ChatLog.Attached)
    def _attached(self, event: ChatLog.Attached) -> None:
        """The line above the input names the image that goes with the next message."""
        box = self.query_one("#attachment", Static)
        if event.path:
            box.update(t("img_attached", name=Path(event.path).name))
        box.set_class(bool(event.path), "shown")

    @on(PromptInput.Submitted)
    def _submitted(self, event: PromptInput.Submitted) -> None:
        self.submit(event.text)

    def submit(self, text: str) -> None:
        """Enter: a command from :data:`commands.COMMANDS` runs (an unknown ``/word`` is answered), else it is sent."""
        stripped = text.strip()
        if not stripped:
            return
        if commands.run(self, stripped):
            return
        refused = text_too_long(text, i18n.language())
        if refused:  # the bus would reject it: say so here and give the text back to edit or split
            self.chat.add(SystemLine(refused, classes="error", markup=False))
            with contextlib.suppress(Exception):
                self.query_one(PromptInput).load_text(text)
            return
        self.chat.send(text)

    def show_help(self) -> None:
        self.chat.add(HelpMessage(commands.help_markdown(keymap.help_keys(self.BINDINGS, self.keys_remapped))))

    # -- bus events -----------------------------------------------------------------
    async def on_bus_event(self, event: BusEvent) -> None:
        f = event.frame
        try:
            await self.handle_frame(f)
        except Exception as exc:  # a strange frame must never take the UI down
            self.log.error(f"frame {f.type} failed: {exc!r}")

    async def handle_frame(self, f: Any) -> None:
        """One bus frame, to its handler in :data:`~services.ui.handlers.HANDLERS` (unknown types: not shown)."""
        handler = HANDLERS.get(f.type)
        if handler is not None:
            await handler(self, f)

    # -- status ---------------------------------------------------------------------
    def update_indicator(self) -> None:
        running = bool(self.chat.running)
        with contextlib.suppress(Exception):
            self.indicator.show(self.listening, self.speaking, running, self.pulling)

    def refresh_status(self) -> None:
        """The fallback banner and the status bar, from the services' heartbeats (4 times a second)."""
        info = self.client.peers.info
        states = {s: self.client.status(s) for s in SERVICES}
        marker = ""
        with contextlib.suppress(Exception):  # the banner (ears, voice, brain); the status bar keeps a marker
            marker = self.query_one(FallbackBanner).refresh_from(info)
            self.query_one(StatusBar).marker = marker
        brain_up = states.get("brain") != "down"
        if brain_up and not self._brain_up:
            self.client.command("config-get")  # the brain came up (or we did): ask what it runs
        self._brain_up = brain_up
        last = self.turn_history[-1] if self.turn_history else None
        with contextlib.suppress(Exception):
            self.query_one(StatusBar).refresh_from(states, self.functions, info, self.controls.muted,
                                                   self.latency_ms, last, marker)
