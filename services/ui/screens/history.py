"""History: past conversations from the brain's store (over the bus); open one to continue it."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, ListItem, ListView, Static

from services.ui.i18n import t


def _when(value: Any) -> str:
    if isinstance(value, (int, float)) and value > 1e9:  # a unix time from the brain's store
        return time.strftime("%d/%m %H:%M", time.localtime(value))
    return str(value or "")


def _title(item: dict[str, Any], current: str = "") -> Text:
    """One row: the title, when, how many messages. An empty conversation says so (not an id and "0 msg")."""
    n = item.get("messages") if isinstance(item.get("messages"), int) else item.get("count", "")
    empty = n == 0
    title = item.get("title") or item.get("summary") or item.get("first") or (
        t("conv_empty") if empty else t("conv_untitled"))
    when = _when(item.get("updated") or item.get("when") or item.get("date") or item.get("created"))
    extra = " · ".join(str(x) for x in (when, t("msgs", n=n) if n not in ("", 0, None) else "") if x)
    out = Text("● " if current and str(item.get("id")) == current else "  ", style="bold")
    out.append(str(title)[:60])
    if extra:
        out.append(f"  {extra}", style="dim")
    return out


class ConversationItem(ListItem):
    def __init__(self, item: dict[str, Any], current: str = "") -> None:
        super().__init__(Label(_title(item, current)))
        self.conv_id = str(item.get("id", ""))


class HistoryScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    HistoryScreen { align: center middle; }
    #history { width: 80%; height: 80%; border: round $accent; background: $surface; padding: 0 1; }
    #history-title { text-style: bold; height: 1; }
    #history-status { color: $text-muted; height: auto; }
    #history ListView { height: 1fr; }
    """
    BINDINGS = [("escape", "close", "Fechar")]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="history"):
            yield Label(t("history_title"), id="history-title")
            yield Static(t("history_loading"), id="history-status")
            yield ListView(id="history-list")

    def on_mount(self) -> None:
        self.query_one(ListView).focus()
        self.set_timer(5.0, self._no_reply)

    def _no_reply(self) -> None:
        if not self.items and self.is_attached:
            st = self.query_one("#history-status", Static)
            if str(st.render()) == t("history_loading"):
                st.update(t("history_no_reply"))

    def set_items(self, items: list[dict[str, Any]], current: str = "") -> None:
        self.items = [i for i in items if isinstance(i, dict)]
        lv = self.query_one(ListView)
        lv.clear()
        lv.extend(ConversationItem(i, current) for i in self.items)
        self.query_one("#history-status", Static).update("" if self.items else t("history_empty"))
        if self.items:
            lv.index = 0

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, ConversationItem):
            self.dismiss(event.item.conv_id)

    def action_close(self) -> None:
        self.dismiss(None)
