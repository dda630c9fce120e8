"""The chat screen, and its focus contract: the input holds the focus unless the user moved it.

Whatever closes above it (a modal, a menu, the palette), Textual gives the focus back to
whichever widget had it before, often the chat (a right click focuses it) or the hidden
Code Output area, and keystrokes then went nowhere. So the input takes the focus back when
the screen resumes, Tab from anywhere but the input goes to the input, and a printable key
typed while something that takes no text has the focus moves it to the input first.
"""

from __future__ import annotations

from contextlib import suppress

from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea

from services.ui.widgets.prompt import PromptInput


class MainScreen(Screen):
    BINDINGS = [Binding("tab", "focus_input", show=False), Binding("shift+tab", "app.focus_previous", show=False)]

    def on_screen_resume(self) -> None:
        self.app.call_after_refresh(self.focus_input)

    def focus_input(self) -> None:
        """The input gets the focus, while this screen is the one shown."""
        if self.app.screen is self:
            with suppress(Exception):
                self.set_focus(self.query_one(PromptInput))

    def action_focus_input(self) -> None:
        """Tab: to the input from anywhere; from the input, on to the next widget (the chat)."""
        if self.focused is self.query_one(PromptInput):
            self.focus_next()
        else:
            self.focus_input()

    def typing_elsewhere(self, event: events.Key) -> bool:
        """A printable key while the focus is on something that does not take text."""
        if not event.is_printable or self.app.screen is not self:
            return False
        f = self.focused
        if f is self.query_one(PromptInput) or isinstance(f, Input) or (isinstance(f, TextArea) and not f.read_only):
            return False
        return True


def end_of(focused: Widget | None) -> None:
    """End where the chat has nothing to catch up: the end of the input's line, or of what has the focus."""
    if isinstance(focused, TextArea):
        focused.action_cursor_line_end()
    elif isinstance(focused, Input):
        focused.action_end()
    elif focused is not None and hasattr(focused, "action_scroll_end"):
        focused.action_scroll_end()
