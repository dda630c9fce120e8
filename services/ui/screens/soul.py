"""Soul editor: Luna's persona file, edited in a TextArea or in $EDITOR; saving tells the brain to reload."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea

from services.ui.i18n import t
from services.ui.keymap import config_dir

DEFAULT_SOUL = """# Alma da Luna

Você é a Luna: uma assistente de voz e terminal, calorosa, direta e curiosa.
Responda em português do Brasil, de forma curta quando falando e completa quando escrevendo código.
"""


def soul_path() -> Path:
    return Path(os.environ.get("LUNA_SOUL_FILE") or config_dir() / "alma.md")


class SoulScreen(ModalScreen[bool]):
    class Saved(Message):
        """The persona file changed on disk: the brain must reload it."""

    DEFAULT_CSS = """
    SoulScreen { align: center middle; }
    #soul { width: 90%; height: 90%; border: round $accent; background: $surface; padding: 0 1; }
    #soul-title { text-style: bold; height: 1; }
    #soul TextArea { height: 1fr; }
    #soul-buttons { height: auto; align-horizontal: right; }
    #soul-buttons Button { margin: 0 1; }
    """
    BINDINGS = [Binding("ctrl+s", "save", "Salvar", id="soul_save", priority=True),
                Binding("ctrl+o", "external", "$EDITOR", id="soul_editor"),
                Binding("escape", "close", "Fechar")]

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path or soul_path()

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError:
            return DEFAULT_SOUL

    def compose(self) -> ComposeResult:
        with Vertical(id="soul"):
            yield Label(t("soul_title", path=self.path.name), id="soul-title", markup=False)
            yield TextArea(self._read(), id="soul-text", language="markdown", soft_wrap=True)
            with Horizontal(id="soul-buttons"):
                yield Button(f"{t('soul_save')} (ctrl+s)", id="soul-save", variant="primary")
                yield Button(f"{t('soul_editor')} (ctrl+o)", id="soul-external")
                yield Button(f"{t('soul_close')} (esc)", id="soul-close")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"soul-save": self.action_save, "soul-external": self.action_external,
         "soul-close": self.action_close}[event.button.id or "soul-close"]()

    def save(self, text: str) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            self.notify(str(exc), severity="error")
            return False
        self.post_message(self.Saved())
        return True

    def action_save(self) -> None:
        self.save(self.query_one(TextArea).text)

    def action_external(self) -> None:
        """Save what is in the box, open $EDITOR on the file (the UI is suspended), then reload it."""
        if not self.save(self.query_one(TextArea).text):
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "nano"
        try:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(self.path)], check=False)
        except Exception as exc:
            self.notify(t("editor_failed", err=exc), severity="error")
            return
        self.query_one(TextArea).load_text(self._read())
        self.post_message(self.Saved())

    def action_close(self) -> None:
        self.dismiss(False)
