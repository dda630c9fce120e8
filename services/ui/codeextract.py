"""Pull the code out of a markdown reply (for Code Output mode, F3).

Two ways, one answer: :class:`FenceExtractor` follows a reply as it streams (cheap, line
by line); :func:`extract_code` parses the finished text with the same markdown-it
"gfm-like" parser the chat's Markdown widget uses, so F3 holds exactly the blocks the chat
draws as code (fences with or without a language, ``~~~``, indented blocks, a fence that
does not start the line) and nothing the chat shows as prose.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt


class FenceExtractor:
    """Feed markdown fragments; get back the text that lies inside ``` fences, line by line."""

    def __init__(self) -> None:
        self.in_code = False
        self._line = ""
        self.blocks = 0

    def feed(self, text: str) -> str:
        out: list[str] = []
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            out.append(self._take(line))
        return "".join(out)

    def _take(self, line: str) -> str:
        if line.lstrip().startswith(("```", "~~~")):
            if self.in_code:
                self.in_code = False
                return "\n"  # a blank line between blocks
            self.in_code = True
            self.blocks += 1
            return ""
        return line + "\n" if self.in_code else ""

    def finish(self) -> str:
        """The end of the reply: flush a last unterminated line inside an open fence."""
        rest = self._line
        self._line = ""
        out = ""
        if rest and not rest.lstrip().startswith(("```", "~~~")) and self.in_code:
            out = rest + "\n"
        self.in_code = False
        return out


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("gfm-like")


def code_blocks(markdown: str) -> list[str]:
    """The code blocks of a whole reply, as the chat renders them."""
    try:
        tokens = _parser().parse(markdown or "")
    except Exception:  # a parser surprise must not take F3 down: fall back to the line scanner
        fx = FenceExtractor()
        text = fx.feed(markdown) + fx.finish()
        return [b for b in text.split("\n\n") if b.strip()]
    return [tok.content for tok in tokens if tok.type in ("fence", "code_block") and tok.content.strip()]


def extract_code(markdown: str) -> str:
    """All code of a reply, blocks separated by a blank line (what F3 shows for it)."""
    blocks = [b if b.endswith("\n") else b + "\n" for b in code_blocks(markdown)]
    return "\n".join(blocks)
