"""The command palette (Ctrl+P) with every word in the user's language.

Textual's palette writes "No matches found" itself; this subclass writes ours instead.
The entries are :func:`system_commands` (Textual's own Keys/Theme/Screenshot are English).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.align import Align
from rich.text import Text
from textual.app import SystemCommand
from textual.command import CommandList, CommandPalette
from textual.widgets.option_list import Option

from services.ui.i18n import t
from services.ui.screenshot import save_screen


class LunaPalette(CommandPalette):
    def _start_no_matches_countdown(self, search_value: str) -> None:
        self._stop_no_matches_countdown()

        def show() -> None:
            if search_value:
                self.query_one(CommandList).add_option(
                    Option(Align.center(Text(t("palette_none"), style="not bold")), disabled=True,
                           id=self._NO_MATCHES))
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show)


def system_commands(app: Any) -> Iterator[SystemCommand]:
    """Every palette entry in the user's language, each running one of ``app``'s actions."""
    yield SystemCommand(t("settings"), t("pal_settings"), app.action_settings)
    yield SystemCommand(t("metrics"), t("pal_metrics"), app.action_metrics)
    yield SystemCommand(t("history"), t("pal_history"), app.action_history)
    yield SystemCommand(t("soul"), t("pal_soul"), app.action_soul)
    yield SystemCommand(t("code_mode"), t("pal_code"), app.action_code_mode)
    yield SystemCommand(t("new_conversation"), t("pal_new"), app.action_new_conversation)
    yield SystemCommand(t("mute"), t("pal_mute"), app.action_mute)
    yield SystemCommand(t("listen"), t("pal_listen"), app.action_listen_mode)
    yield SystemCommand(t("talk"), t("pal_talk"), app.action_talk)
    yield SystemCommand(t("help_title"), t("pal_help"), app.show_help)
    yield SystemCommand(t("theme"), t("pal_theme"), app.action_change_theme)
    yield SystemCommand(t("screenshot"), t("pal_screenshot"), lambda: app.set_timer(0.1, lambda: save_screen(app)))
    yield SystemCommand(t("quit"), t("pal_quit"), app.action_quit)
