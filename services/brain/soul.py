"""The soul ("alma"): Luna's persona, a markdown file the user edits.

It lives at ``$XDG_CONFIG_HOME/luna/alma.md`` (``~/.config/luna/alma.md``), is
created from :data:`DEFAULT` (or :data:`DEFAULT_EN` when ``LANGUAGE=en``) on first
run, and is re-read whenever its mtime or size changes, so an edit (``/alma``,
ctrl+e in the UI) applies to the next turn without a restart.

:meth:`Soul.prompt` is the system prompt of chat and vision turns: the file plus
one line naming the reply language from ``LANGUAGE``. Why a line in code rather
than only in the file: the file is the user's and may be in either language, but
the voice and ears are set by ``LANGUAGE``, so the reply must follow it; small
models (the offline 0.5B) obey a short, last, explicit instruction best. The file
is short on purpose for the same reason, and says who she is, so "quem é você?"
gets "Eu sou a Luna".
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT = """# Alma da Luna

Você é a Luna, a assistente pessoal que mora no computador do usuário.

- Se perguntarem quem você é, quem está falando, seu nome, ou pedirem que se apresente,
  responda: "Eu sou a Luna, sua assistente pessoal."
- Seja calorosa, direta e breve: no máximo duas ou três frases curtas, boas para ouvir em voz alta.
- A fala do usuário chega por reconhecimento de voz: se a mensagem não fizer sentido, diga que não entendeu e peça para repetir.
- Não use emojis.
- Se não souber algo, diga que não sabe.
"""

DEFAULT_EN = """# Luna's soul

You are Luna, the personal assistant who lives on the user's computer.

- If asked who you are, who is talking, your name, or to introduce yourself,
  answer: "I am Luna, your personal assistant."
- Be warm, direct and brief: at most two or three short sentences, easy to listen to.
- The user's words come through speech recognition: if a message makes no sense, say you did not understand and ask them to repeat.
- Do not use emojis.
- If you do not know something, say so.
"""

#: The souls these defaults replaced; a file still equal to one of them is upgraded (it was never edited).
#: Why the last one went: it named Luna four times and told the model not to call the user Luna, and
#: the offline 0.5B did just that when the ears misheard: 10 of 12 replies to the Portuguese TTFA
#: bench's misheard questions opened "Olá, Luna!" (0 of 12 with the soul above, /tmp runs).
_OLD_DEFAULTS = (
    """# Alma da Luna

Você é a Luna, a assistente pessoal que mora no computador do usuário. Você é a assistente, não o usuário.

- Seu nome é Luna. Se perguntarem quem você é, quem está falando, seu nome, ou pedirem que se apresente,
  responda: "Eu sou a Luna, sua assistente pessoal."
- Não chame o usuário de Luna: Luna é você.
- Seja calorosa, direta e breve: no máximo duas ou três frases curtas, boas para ouvir em voz alta.
- Não use emojis.
- Se não souber algo, diga que não sabe.
""",
    """# Luna's soul

You are Luna, the personal assistant who lives on the user's computer. You are the assistant, not the user.

- Your name is Luna. If asked who you are, who is talking, your name, or to introduce yourself,
  answer: "I am Luna, your personal assistant."
- Do not call the user Luna: Luna is you.
- Be warm, direct and brief: at most two or three short sentences, easy to listen to.
- Do not use emojis.
- If you do not know something, say so.
""",
    """# Alma da Luna

Você é a Luna, uma assistente pessoal que mora no computador do usuário.

- Fale português do Brasil, a menos que a pessoa fale outra língua com você.
- Seja calorosa, direta e breve: respostas curtas, frases simples, boas para ouvir em voz alta.
- Não use emojis.
- Quando mostrar código, coloque-o em um bloco ``` e explique em uma ou duas frases.
- Se não souber algo, diga que não sabe.
""",
)

#: The last line of every system prompt: the reply language follows LANGUAGE.
LANGUAGE_RULE = {
    "pt": "Responda sempre em português do Brasil.",
    "en": "Always answer in English.",
}


def language_rule(lang: str) -> str:
    return LANGUAGE_RULE.get((lang or "pt")[:2].lower(), LANGUAGE_RULE["pt"])


def system_prompt(soul: str, lang: str) -> str:
    """A soul's text as the system prompt of chat and vision turns: the soul, then the reply-language line."""
    return f"{soul}\n\n{language_rule(lang)}"


#: The system prompt of code turns (not the user's soul: code wants other rules), per LANGUAGE.
#: In the reply language, so the explanation around the code is too (an English prompt made the
#: offline 0.5B explain Portuguese requests in English).
CODE_PROMPT = {
    "pt": "Você é a Luna no modo de programação. Responda com código correto, completo e executável em blocos "
          "``` com a linguagem (```python), e depois uma ou duas frases curtas de explicação.",
    "en": "You are Luna's coding mode. Answer with correct, complete, runnable code in fenced blocks "
          "(```lang), then one or two short sentences of explanation.",
}


def code_prompt(lang: str) -> str:
    key = (lang or "pt")[:2].lower()
    return f"{CODE_PROMPT.get(key, CODE_PROMPT['pt'])}\n\n{language_rule(key)}"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "luna"


class Soul:
    def __init__(self, path: Path | None = None, lang: str = "pt") -> None:
        self.path = path or config_dir() / "alma.md"
        self.lang = lang
        self.default = DEFAULT_EN if lang == "en" else DEFAULT
        self._stamp: tuple[int, int] | None = None
        self._text = self.default
        self.reloads = 0
        self.ensure()

    def ensure(self) -> None:
        """Create the file from the default if it does not exist (never overwrite the user's).

        A file still byte-equal to an earlier default was never edited: it gets the new one.
        """
        try:
            old = self.path.read_text(encoding="utf-8") in _OLD_DEFAULTS
        except (OSError, UnicodeDecodeError):
            old = False
        if old or not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".md.tmp")
            tmp.write_text(self.default, encoding="utf-8")
            os.replace(tmp, self.path)

    def text(self) -> str:
        """The current persona, re-read if the file changed since the last call."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self.ensure()
            st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                text = self.path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                return self._text
            self._text = text or self.default
            if self._stamp is not None:
                self.reloads += 1
            self._stamp = stamp
        return self._text

    def reload(self) -> str:
        self._stamp = None
        return self.text()

    def prompt(self) -> str:
        """The system prompt: the soul, then the reply-language line for ``LANGUAGE``."""
        return system_prompt(self.text(), self.lang)
