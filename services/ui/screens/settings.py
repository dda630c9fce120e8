"""Settings: switch provider/model per function at runtime (the brain's hot swap, command config-set)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from services.ui.i18n import t

FUNCTIONS = ("chat", "code", "vision")
PROVIDERS = ("local", "ollama", "embedded", "gemini", "deepseek", "openai")


class SettingsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    #settings { width: 80; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    #settings-title { text-style: bold; height: 1; margin-bottom: 1; }
    #settings Grid { grid-size: 3; grid-columns: 10 22 1fr; grid-rows: 3; height: auto; }
    #settings Grid Label { padding: 1 0; }
    #settings-buttons { height: auto; align-horizontal: right; }
    """
    BINDINGS = [("escape", "close", "Fechar")]

    def __init__(self, functions: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.functions = functions

    def compose(self) -> ComposeResult:
        with Vertical(id="settings"):
            yield Label(t("settings_title"), id="settings-title")
            with Grid():
                for fn in FUNCTIONS:
                    cur = self.functions.get(fn, {})
                    prov = str(cur.get("provider") or "local")
                    opts = [(p, p) for p in (PROVIDERS if prov in PROVIDERS else (*PROVIDERS, prov))]
                    yield Label(fn)
                    yield Select(opts, value=prov, allow_blank=False, id=f"prov-{fn}")
                    yield Input(str(cur.get("model") or ""), placeholder=t("model"), id=f"model-{fn}")
            with Horizontal(id="settings-buttons"):
                yield Button(t("settings_apply"), id="settings-apply", variant="primary")

    def update_functions(self, functions: dict[str, dict[str, Any]]) -> None:
        """A fresh status from the brain: fill fields the user has not touched."""
        self.functions = functions

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "settings-apply":
            self.apply()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.apply()

    def changes(self) -> list[tuple[str, str, str]]:
        out = []
        for fn in FUNCTIONS:
            prov = str(self.query_one(f"#prov-{fn}", Select).value)
            model = self.query_one(f"#model-{fn}", Input).value.strip()
            cur = self.functions.get(fn, {})
            if prov != (cur.get("provider") or "local") or model != (cur.get("model") or ""):
                out.append((fn, prov, model))
        return out

    def apply(self) -> None:
        for fn, prov, model in self.changes():
            self.app.config_set(fn, prov, model)  # type: ignore[attr-defined]
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
