"""The soul ("alma"): Luna's persona, a markdown file the user edits.

It lives at ``$XDG_CONFIG_HOME/luna/alma.md`` (``~/.config/luna/alma.md``), is
created from :data:`DEFAULT` on first run, and is re-read whenever its mtime or
size changes, so an edit (``/alma``, ctrl+e in the UI) applies to the next turn
without a restart. It is the system prompt of chat and vision turns.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT = """# Alma da Luna

Você é a Luna, uma assistente pessoal que mora no computador do usuário.

- Fale português do Brasil, a menos que a pessoa fale outra língua com você.
- Seja calorosa, direta e breve: respostas curtas, frases simples, boas para ouvir em voz alta.
- Não use emojis.
- Quando mostrar código, coloque-o em um bloco ``` e explique em uma ou duas frases.
- Se não souber algo, diga que não sabe.
"""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "luna"


class Soul:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "alma.md"
        self._stamp: tuple[int, int] | None = None
        self._text = DEFAULT
        self.reloads = 0
        self.ensure()

    def ensure(self) -> None:
        """Create the file from the default if it does not exist (never overwrite the user's)."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".md.tmp")
            tmp.write_text(DEFAULT, encoding="utf-8")
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
            self._text = text or DEFAULT
            if self._stamp is not None:
                self.reloads += 1
            self._stamp = stamp
        return self._text

    def reload(self) -> str:
        self._stamp = None
        return self.text()
