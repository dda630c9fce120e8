"""The multi-line input: Enter sends, Shift+Enter / Ctrl+J insert a newline, a pasted image path attaches it."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from services.ui.attach import looks_like_image_path
from services.ui.i18n import t


class PromptInput(TextArea):
    DEFAULT_CSS = """
    PromptInput { height: auto; min-height: 3; max-height: 10; border: round $primary 60%; }
    PromptInput:focus { border: round $primary; }
    """
    BINDINGS = [Binding("shift+enter,ctrl+j", "newline", t("newline"), show=False, id="newline")]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class ImagePasted(Message):
        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    def __init__(self, **kw) -> None:  # noqa: ANN003
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", compact=False, **kw)

    def newline_keys(self) -> set[str]:
        """The keys of the ``newline`` binding (after the user's keymap)."""
        keys = (getattr(self.app, "_keymap", None) or {}).get("newline") or self.BINDINGS[0].key
        return {k.strip() for k in keys.split(",")}

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text
            if text.strip():
                self.post_message(self.Submitted(text))
                self.clear()
        elif event.key in self.newline_keys():
            # Inserted here, in the key's turn: as a binding it runs only after the key has bubbled up to
            # the app, and the letters typed right after it (a paste-speed burst) were inserted first
            # ("linha um" Ctrl+J "linha dois" became "linha umlinha dois" and an empty line).
            event.stop()
            event.prevent_default()
            self.action_newline()
        # other keys: Textual goes on to TextArea._on_key itself (handlers run along the MRO)

    def action_newline(self) -> None:
        start, end = self.selection
        self._replace_via_keyboard("\n", start, end)

    async def _on_paste(self, event: events.Paste) -> None:
        if looks_like_image_path(event.text):
            event.stop()
            event.prevent_default()
            self.post_message(self.ImagePasted(event.text))
        # other text: TextArea._on_paste inserts it (handlers run along the MRO)
