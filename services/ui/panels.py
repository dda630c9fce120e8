"""Which screen or panel is open over the chat: history, settings, soul, metrics, F3's Code Output, the menu.

One owner for opening each (never twice on top of itself), for what the brain is asked as
one opens (the conversation list, the config in force), for the conversation a history pick
reopens, and for Escape closing the one on top. What a screen asks later (a saved soul, a
config choice, a pull) arrives as its Textual message at the app, which sends it on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import ModalScreen

from services.ui.screens.history import HistoryScreen
from services.ui.screens.metrics import MetricsScreen
from services.ui.screens.settings import SettingsScreen
from services.ui.screens.soul import SoulScreen
from services.ui.widgets.context_menu import ContextMenu

if TYPE_CHECKING:
    from services.ui.app import LunaApp

#: The context menu's entries (binding ids, shown with their keys).
MENU = ("copy", "paste", "select_all", "new_conversation", "history", "quit")


class Panels:
    def __init__(self, app: LunaApp) -> None:
        self.app = app

    def history(self) -> None:
        """F2: the conversation list (the brain sends it); the one picked is reopened in the chat."""
        app = self.app
        if isinstance(app.screen, HistoryScreen):
            return

        def opened(conv_id: str | None) -> None:
            if conv_id:
                app.chat.open_conversation(conv_id)
                app.code_panel.clear()

        app.push_screen(HistoryScreen(), opened)
        app.client.command("history-list")

    def soul(self) -> None:
        if not isinstance(self.app.screen, SoulScreen):
            self.app.push_screen(SoulScreen())

    def metrics(self) -> None:
        app = self.app
        if not isinstance(app.screen, MetricsScreen):
            app.push_screen(MetricsScreen(lambda: (app.client.peers.info, list(app.turn_history))))

    def settings(self) -> None:
        """F5: the providers and models per function, from what the brain said (and asked again now)."""
        app = self.app
        if not isinstance(app.screen, SettingsScreen):
            app.client.command("config-get")
            app.push_screen(SettingsScreen(app.functions, app.brain_options, app.brain_info))

    @property
    def code_mode(self) -> bool:
        """F3's Code Output panel is shown instead of the chat (the app's ``code-mode`` class, for the styles)."""
        return self.app.has_class("code-mode")

    def toggle_code_mode(self) -> None:
        app = self.app
        app.toggle_class("code-mode")
        if self.code_mode:
            app.code_panel.area.scroll_end(animate=False)
        else:
            app.chat.jump_end()
        app.call_after_refresh(app.focus_input)  # the hidden (or shown) panel must not keep the keys

    def context_menu(self, x: int, y: int) -> None:
        """Right click: the menu at the pointer; the entry chosen runs as the app's action."""
        app = self.app
        menu = ContextMenu(x, y, {i: app.shortcut(i) for i in MENU})

        def chosen(action: str | None) -> None:
            if action:
                app.call_later(app.run_action, action)

        app.push_screen(menu, chosen)

    def close_modal(self) -> bool:
        """Escape over a screen or the menu: it closes (True); on the chat screen nothing is closed here."""
        if isinstance(self.app.screen, ModalScreen):
            self.app.screen.dismiss(None)
            return True
        return False
