"""Right-click menu (seed 6.4): Copiar, Colar, Selecionar tudo, Nova conversa, Histórico, Sair."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, ListItem, ListView

from services.ui.i18n import t

#: (label key, app action, binding id whose key is shown)
ITEMS = (("copy", "copy", "copy"), ("paste", "paste", "paste"), ("select_all", "select_all", "select_all"),
         None, ("new_conversation", "new_conversation", "new_conversation"), ("history", "history", "history"),
         None, ("quit", "quit", "quit"))


class MenuItem(ListItem):
    def __init__(self, label: str, action: str, shortcut: str) -> None:
        super().__init__(Label(f"{label:<18}{shortcut:>10}"))
        self.action_name = action


class ContextMenu(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ContextMenu { background: transparent; }
    #menu { width: 32; height: auto; background: $panel; border: round $accent; padding: 0; }
    #menu ListView { height: auto; background: $panel; }
    #menu ListItem { padding: 0 1; height: 1; }
    #menu .sep { color: $text-muted; height: 1; padding: 0 1; }
    """
    BINDINGS = [("escape", "dismiss_menu", "Fechar")]

    def __init__(self, x: int, y: int, shortcuts: dict[str, str]) -> None:
        super().__init__()
        self.menu_x, self.menu_y = x, y
        self.shortcuts = shortcuts

    def compose(self) -> ComposeResult:
        items = []
        for entry in ITEMS:
            if entry is None:
                items.append(ListItem(Label("─" * 28), classes="sep", disabled=True))
                continue
            key, action, bid = entry
            items.append(MenuItem(t(key), action, self.shortcuts.get(bid, "")))
        with Vertical(id="menu"):
            yield ListView(*items)

    def on_mount(self) -> None:
        menu = self.query_one("#menu")
        w, h = self.app.size
        x = max(0, min(self.menu_x, w - 32))
        y = max(0, min(self.menu_y, h - 12))
        menu.styles.offset = (x, y)
        self.query_one(ListView).focus()

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, MenuItem):
            self.dismiss(event.item.action_name)

    def on_click(self, event) -> None:  # noqa: ANN001 - a click outside the menu closes it
        if event.widget is self:
            self.dismiss(None)

    def action_dismiss_menu(self) -> None:
        self.dismiss(None)
