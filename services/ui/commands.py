"""The slash-command table: one entry per command, the only place a command is declared.

Dispatch (:func:`run`, from :meth:`LunaApp.submit`), ``/ajuda`` and the unknown-command answer are all derived
from :data:`COMMANDS`, so the help can never omit a command the UI understands and a typo
such as ``/foo`` is answered here instead of being sent to the model as a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from services.ui.i18n import language, t
from services.ui.widgets.bubbles import SystemLine


@dataclass(frozen=True)
class Command:
    pt: str  # the name shown in Portuguese
    en: str  # the name shown in English
    action: str  # what runs, from LunaApp: a method or a dotted path to one ("chat.attach")
    help_key: str  # i18n key of the one-line description
    binding: str = ""  # binding id whose key the help shows next to it
    arg_key: str = ""  # i18n key of the argument's placeholder
    brain_with_arg: bool = False  # with an argument the line goes to the brain ("/historico 2")
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.pt, self.en, *self.aliases)

    def shown(self) -> str:
        """The name in the user's language (the other names work too, but the help speaks one language)."""
        first = self.en if language() == "en" else self.pt
        return f"/{first}" + (f" {t(self.arg_key)}" if self.arg_key else "")


COMMANDS: tuple[Command, ...] = (
    Command("nova", "new", "action_new_conversation", "cmd_new", "new_conversation"),
    Command("historico", "history", "action_history", "cmd_history", "history", "arg_history", True,
            ("histórico",)),
    Command("alma", "soul", "action_soul", "cmd_soul", "soul"),
    Command("config", "config", "action_settings", "cmd_config", "settings", "arg_config", True,
            ("configuracoes", "configurações", "settings")),
    Command("codigo", "code", "action_code_mode", "cmd_code", "code_mode", aliases=("código",)),
    Command("metricas", "metrics", "action_metrics", "cmd_metrics", "metrics", aliases=("métricas",)),
    Command("microfone", "mute", "action_mute", "cmd_mute", "mute", aliases=("mudo",)),
    Command("img", "img", "chat.attach", "cmd_img", "", "arg_img"),
    Command("ajuda", "help", "show_help", "cmd_help"),
    Command("sair", "quit", "exit", "cmd_quit", "quit", aliases=("exit",)),
)

_BY_NAME = {name: c for c in COMMANDS for name in c.names}
#: "/word" (a command), not "/etc/hosts o que é isso" (a path the user asks about).
_COMMAND_WORD = re.compile(r"^/[^\s/]+$")


def find(word: str) -> Command | None:
    return _BY_NAME.get(word.lower().lstrip("/"))


def looks_like_command(word: str) -> bool:
    return bool(_COMMAND_WORD.match(word))


def run(app: Any, line: str) -> bool:
    """Run ``line`` when it is a command (True), on ``app``'s actions; anything else is a message (False).

    An unknown ``/word`` is answered in the chat; a command with an argument that the brain
    understands ("/historico 3", "/config chat ollama llama3") goes to the brain as typed.
    """
    word, _, arg = line.strip().partition(" ")
    arg = arg.strip()
    if not looks_like_command(word):
        return False
    cmd = find(word)
    if cmd is None:
        app.chat.add(SystemLine(t("unknown_command", cmd=word), classes="error", markup=False))
        return True
    if cmd.brain_with_arg and arg:
        app.chat.send(f"/{cmd.pt} {arg}")
        return True
    method = attrgetter(cmd.action)(app)
    if cmd.arg_key and not cmd.brain_with_arg:
        method(arg)
    else:
        method()
    return True


def help_markdown(keys: list[tuple[str, str]]) -> str:
    """``/ajuda``: the keys (``(keys, what)`` from the live bindings) and every command of the table."""
    lines = [f"**{t('help_keys')}**", ""]
    lines.append(" · ".join(f"`{k}` {what}" for k, what in keys))
    lines += ["", f"**{t('help_commands')}**", ""]
    for c in COMMANDS:
        lines.append(f"- `{c.shown()}` — {t(c.help_key)}")
    return "\n".join(lines)
