"""Which stored messages the model reads: the context window, moved in big steps.

Why its own module: the history stores every message, but how much of it goes to
the model is a latency decision. Moving the window's start one message per turn
would change the prompt's prefix every turn, so llama.cpp and Ollama would re-read
the whole history each time; jumping in big steps keeps the prefix (and their
prompt cache) the same between jumps.
"""

from __future__ import annotations

import sqlite3


class Window:
    """Where each conversation's window starts, remembered between turns."""

    def __init__(self) -> None:
        #: conversation -> (oldest message id in the model's window, the budget it was cut for)
        self._start: dict[str, tuple[int, int]] = {}

    def select(self, db: sqlite3.Connection, conv_id: str, max_chars: int, reserve: int = 0) -> list[dict[str, str]]:
        """The newest messages that fit in ``max_chars`` (oldest first), for the model's window.

        Failed replies are left out; the newest message is always kept (cut from the
        front if it alone is too long). The window's start moves in big steps (down to
        half the budget when it overflows), not one message per turn: between steps the
        prompt's prefix stays the same, so llama.cpp and Ollama reuse their prompt cache
        instead of re-reading the whole history every turn. ``reserve`` makes it jump when
        fewer than that many characters are left (the brain's prompt-cache warm-up asks so,
        after a reply, so the jump the next line would cause happens while nobody waits).
        """
        start, cut_for = self._start.get(conv_id, (0, max_chars))
        if cut_for != max_chars:  # another model's window (hot swap): start over
            start = 0
        rows = db.execute("SELECT id, role, content FROM messages WHERE conversation_id=? AND ok=1 "
                          "AND id>=? ORDER BY id DESC LIMIT 200", (conv_id, start)).fetchall()
        if sum(len(r["content"]) for r in rows) > max_chars - reserve:
            budget = max_chars // 2  # overflow: jump forward to half the budget
            used, first = 0, rows[0]["id"] if rows else start
            for r in rows:
                if used + len(r["content"]) > budget:
                    break
                used += len(r["content"])
                first = r["id"]
            self._start[conv_id] = (first, max_chars)
            rows = [r for r in rows if r["id"] >= first]
        out: list[dict[str, str]] = [{"role": r["role"], "content": r["content"]} for r in rows]
        if out and len(out[0]["content"]) > max_chars:
            out[0]["content"] = out[0]["content"][-max_chars:]
        out.reverse()
        while out and out[0]["role"] == "assistant":  # a window starts with the user
            out.pop(0)
        return out
