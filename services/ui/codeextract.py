"""Pull the code out of a markdown reply as it streams (for Code Output mode)."""

from __future__ import annotations


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


def extract_code(markdown: str) -> str:
    fx = FenceExtractor()
    return fx.feed(markdown) + fx.finish()
