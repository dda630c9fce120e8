"""Code Output mode (seed 6.5): only the code from Luna's replies, streaming; a click copies it all."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from services.ui.i18n import t


class CodeOutputPanel(Vertical):
    DEFAULT_CSS = """
    CodeOutputPanel { height: 1fr; }
    CodeOutputPanel #code-status { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    CodeOutputPanel TextArea { height: 1fr; border: none; }
    """

    def __init__(self, **kw) -> None:  # noqa: ANN003
        super().__init__(**kw)
        self.code = ""

    def compose(self) -> ComposeResult:
        yield Static(t("code_mode_title"), id="code-status")
        yield TextArea(id="code-output-area", read_only=True, soft_wrap=False, show_line_numbers=True)

    @property
    def area(self) -> TextArea:
        return self.query_one("#code-output-area", TextArea)

    def append(self, code: str) -> None:
        if not code:
            return
        self.code += code
        area = self.area
        area.insert(code, area.document.end, maintain_selection_offset=False)
        if self.display:
            area.scroll_end(animate=False)

    def clear(self) -> None:
        self.code = ""
        self.area.load_text("")

    def on_click(self, event: events.Click) -> None:
        if event.button != 1:
            return
        event.stop()
        text = self.code.strip("\n")
        if not text:
            self.app.notify(t("code_empty"), timeout=2)
            return
        self.app.copy_with_notice(text, t("all_code"))  # type: ignore[attr-defined]
