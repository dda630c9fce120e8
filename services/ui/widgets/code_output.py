"""Code Output mode (seed 6.5, F3): only the code from Luna's replies, streaming; a click copies it all.

The panel keeps the code per reply (``turn key -> code``): while a reply streams its code is
appended as it arrives; when it ends, or when a conversation is reopened from history, the
reply's code is replaced by what :func:`~services.ui.codeextract.extract_code` finds in the
finished markdown, so F3 always matches the code blocks the chat shows.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from services.ui.clipboard import CopyRequested
from services.ui.codeextract import FenceExtractor, extract_code
from services.ui.i18n import t


class CodeOutputPanel(Vertical):
    DEFAULT_CSS = """
    CodeOutputPanel { height: 1fr; }
    CodeOutputPanel #code-status { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    CodeOutputPanel TextArea { height: 1fr; border: none; }
    """

    def __init__(self, **kw) -> None:  # noqa: ANN003
        super().__init__(**kw)
        self.turns: dict[str, str] = {}
        self._last = ""  # the turn the area's tail belongs to (streaming appends go there)
        # one fence scanner per streaming reply; a clear() leaves them: a reply still streaming goes on
        self._scanners: dict[str, FenceExtractor] = {}

    def compose(self) -> ComposeResult:
        yield Static(t("code_mode_title"), id="code-status")
        yield TextArea(id="code-output-area", read_only=True, soft_wrap=False, show_line_numbers=True)

    @property
    def area(self) -> TextArea:
        return self.query_one("#code-output-area", TextArea)

    @property
    def code(self) -> str:
        """Everything the panel shows: each reply's code, a blank line between replies."""
        return "\n".join(c for c in self.turns.values() if c.strip())

    def feed(self, turn: str, token: str) -> None:
        """A streamed token of reply ``turn``: the code in it (once its fence is open) is appended."""
        self.append(self._scanners.setdefault(turn, FenceExtractor()).feed(token), turn)

    def finish(self, turn: str, text: str) -> None:
        """The reply ended: its finished text decides what F3 holds (the streaming scanner only previews it)."""
        self._scanners.pop(turn, None)
        self.set_turn(turn, extract_code(text))

    def append(self, code: str, turn: str = "") -> None:
        """Streamed code of ``turn`` (cheap: one insert at the end while it is the newest reply)."""
        if not code:
            return
        if turn in self.turns and turn != self._last:
            self.set_turn(turn, self.turns[turn] + code)
            return
        had = self.code
        self.turns[turn] = self.turns.get(turn, "") + code
        self._last = turn
        sep = "\n" if had and self.turns[turn] == code else ""
        area = self.area
        area.insert(sep + code, area.document.end, maintain_selection_offset=False)
        if self.display:
            area.scroll_end(animate=False)

    def set_turn(self, turn: str, code: str) -> None:
        """The whole code of ``turn`` (a finished reply, a reopened one): redraws when it differs."""
        if self.turns.get(turn) == code and turn in self.turns:
            return
        self.turns[turn] = code
        self._last = next(reversed(self.turns))
        self.area.load_text(self.code)
        if self.display:
            self.area.scroll_end(animate=False)

    def clear(self) -> None:
        self.turns.clear()
        self._last = ""
        self.area.load_text("")

    def on_click(self, event: events.Click) -> None:
        if event.button != 1:
            return
        event.stop()
        text = self.code.strip("\n")
        if not text:
            self.app.notify(t("code_empty"), timeout=2)
            return
        self.post_message(CopyRequested(text, t("all_code")))
