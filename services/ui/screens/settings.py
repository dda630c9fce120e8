"""Settings: switch provider/model per function at runtime (the brain's hot swap, command config-set).

The fields show what the user *chose* (``configured``/``configured_model`` from the brain),
a line under each says who answers now and why a provider is skipped. Picking another
provider resets the model field to that provider's default (the brain's ``defaults``, or
empty = the brain picks it): the old model name never rides along ("gemini/smollm2-135m").
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from services.ui.i18n import t

FUNCTIONS = ("chat", "code", "vision")
PROVIDERS = ("local", "ollama", "embedded", "gemini", "deepseek", "openai")


class SettingsScreen(ModalScreen[None]):
    class ConfigSet(Message):
        """The user chose ``provider``/``model`` for ``function`` (empty model: the provider's default)."""

        def __init__(self, function: str, provider: str, model: str) -> None:
            super().__init__()
            self.function, self.provider, self.model = function, provider, model

    class Pull(Message):
        """Download ``model`` into Ollama (the brain runs the pull and reports progress)."""

        def __init__(self, model: str) -> None:
            super().__init__()
            self.model = model

    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    #settings { width: 80; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    #settings-title { text-style: bold; height: 1; margin-bottom: 1; }
    .settings-row { height: 3; }
    .settings-row Label { width: 10; padding: 1 0; }
    .settings-row Select { width: 22; }
    .settings-row Input { width: 1fr; }
    #settings-buttons { height: auto; align-horizontal: right; }
    #settings-buttons Button { margin-left: 1; }
    #settings-missing { color: $warning; height: auto; }
    .settings-note { color: $text-muted; height: auto; padding: 0 0 0 10; }
    .settings-note.skipped { color: $warning; }
    """
    BINDINGS = [("escape", "close", "Fechar")]

    def __init__(self, functions: dict[str, dict[str, Any]], options: dict[str, Any] | None = None,
                 info: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.functions = functions
        self.options = options or {}
        self.info = info or {}
        self._shown: dict[str, tuple[str, str]] = {}

    @staticmethod
    def chosen(cur: dict[str, Any]) -> tuple[str, str]:
        """The provider and model the user chose (older brains only send who answers)."""
        return (str(cur.get("configured") or cur.get("provider") or "local"),
                str(cur.get("configured_model") or cur.get("model") or ""))

    def default_model(self, fn: str, provider: str) -> str:
        defaults = self.options.get("defaults")
        d = defaults.get(fn) if isinstance(defaults, dict) else None
        return str(d.get(provider) or "") if isinstance(d, dict) else ""

    def note(self, fn: str) -> tuple[str, bool]:
        """Under each function: who answers now, and why the chosen provider is skipped."""
        cur = self.functions.get(fn, {})
        if not cur:
            return "", False
        who = f"{cur.get('provider', '?')}/{cur.get('model', '?')}"
        parts = [t("settings_answering", who=who)]
        skipped = cur.get("skipped") if isinstance(cur.get("skipped"), list) else []
        for sk in skipped:
            if isinstance(sk, dict):
                parts.append(t("settings_skipped", provider=sk.get("provider", "?"), why=sk.get("why", "?")))
        return " · ".join(parts), bool(skipped)

    def providers(self) -> tuple[str, ...]:
        provs = self.options.get("providers")
        return tuple(str(p) for p in provs) if isinstance(provs, list) and provs else PROVIDERS

    def _missing_text(self) -> str:
        missing = self.info.get("missing_models") or []
        if self.info.get("ollama") == "down":
            return t("ollama_down")
        return t("missing_models", models=", ".join(map(str, missing))) if missing else ""

    def compose(self) -> ComposeResult:
        with Vertical(id="settings"):
            yield Label(t("settings_title"), id="settings-title")
            for fn in FUNCTIONS:
                prov, model = self.chosen(self.functions.get(fn, {}))
                provs = self.providers()
                opts = [(p, p) for p in (provs if prov in provs else (*provs, prov))]
                with Horizontal(classes="settings-row"):
                    yield Label(t(f"fn_{fn}"))
                    yield Select(opts, value=prov, allow_blank=False, id=f"prov-{fn}")
                    yield Input(model, placeholder=t("settings_default"), id=f"model-{fn}")
                text, skipped = self.note(fn)
                yield Static(text, id=f"note-{fn}", classes="settings-note skipped" if skipped
                             else "settings-note", markup=False)
            yield Static(self._missing_text(), id="settings-missing", markup=False)
            with Horizontal(id="settings-buttons"):
                yield Button(t("pull_missing"), id="settings-pull")
                yield Button(t("settings_apply"), id="settings-apply", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#settings-pull").display = bool(self.info.get("missing_models"))
        self._shown = {fn: self.chosen(self.functions.get(fn, {})) for fn in FUNCTIONS}

    def on_select_changed(self, event: Select.Changed) -> None:
        """Another provider: its default model, never the previous provider's model."""
        sid = event.select.id or ""
        if not sid.startswith("prov-") or event.value is Select.BLANK:
            return
        fn = sid[len("prov-"):]
        prov = str(event.value)
        inp = self.query_one(f"#model-{fn}", Input)
        if prov == self.chosen(self.functions.get(fn, {}))[0]:
            inp.value = self.chosen(self.functions.get(fn, {}))[1]
        else:
            inp.value = self.default_model(fn, prov)

    def update_functions(self, functions: dict[str, dict[str, Any]], options: dict[str, Any] | None = None,
                         info: dict[str, Any] | None = None) -> None:
        """A fresh status/config from the brain (the fields the user is editing are left alone)."""
        self.functions = functions
        self.options = options or self.options
        self.info = info or self.info
        self.query_one("#settings-missing", Static).update(self._missing_text())
        self.query_one("#settings-pull").display = bool(self.info.get("missing_models"))
        for fn in FUNCTIONS:  # fill in what the user has not edited yet
            cur = self.functions.get(fn, {})
            prov, model = self.chosen(cur)
            text, skipped = self.note(fn)
            note = self.query_one(f"#note-{fn}", Static)
            note.update(text)
            note.set_class(skipped, "skipped")
            sel = self.query_one(f"#prov-{fn}", Select)
            inp = self.query_one(f"#model-{fn}", Input)
            shown = self._shown.get(fn, ("local", ""))
            if (str(sel.value), inp.value) == shown:
                provs = self.providers()
                sel.set_options([(p, p) for p in (provs if prov in provs else (*provs, prov))])
                sel.value = prov
                inp.value = model
                self._shown[fn] = (prov, model)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "settings-apply":
            self.apply()
        elif event.button.id == "settings-pull":
            for model in self.info.get("missing_models") or []:
                self.post_message(self.Pull(str(model)))
            self.notify(t("pulling", models=", ".join(map(str, self.info.get("missing_models") or []))))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.apply()

    def changes(self) -> list[tuple[str, str, str]]:
        out = []
        for fn in FUNCTIONS:
            prov = str(self.query_one(f"#prov-{fn}", Select).value)
            model = self.query_one(f"#model-{fn}", Input).value.strip()
            cur_prov, cur_model = self.chosen(self.functions.get(fn, {}))
            if prov != cur_prov or model != cur_model:
                out.append((fn, prov, model))
        return out

    def apply(self) -> None:
        for fn, prov, model in self.changes():
            self.post_message(self.ConfigSet(fn, prov, model))
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
