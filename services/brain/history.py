"""Conversation history in SQLite (WAL) under ``$XDG_DATA_HOME/luna/history.db``.

Every message is committed as soon as it exists (the user's line before the
model answers, the reply when it ends), so a ``kill -9`` of any process loses at
most the reply being written. The schema has a version (``PRAGMA user_version``)
and an ordered list of migrations; opening an older file upgrades it in place.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

MIGRATIONS: list[str] = [
    # 1: conversations and messages
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created REAL NOT NULL
    );
    """,
    # 2: who answered and how long it took
    """
    ALTER TABLE messages ADD COLUMN provider TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN model TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN intent TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN timings TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    # 3: turn ids (join with the bus log) and attached images
    """
    ALTER TABLE messages ADD COLUMN turn_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN image TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN ok INTEGER NOT NULL DEFAULT 1;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "luna"


def default_path() -> Path:
    return data_dir() / "history.db"


class History:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        #: conversation -> (oldest message id in the model's window, the budget it was cut for)
        self._window_start: dict[str, tuple[int, int]] = {}
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives a process crash (kill -9);
        # only a power cut can lose the last few.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        v = self.version
        if v > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} has schema v{v}, newer than this Luna (v{SCHEMA_VERSION})")
        for i in range(v, SCHEMA_VERSION):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in MIGRATIONS[i].split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
                self.db.execute(f"PRAGMA user_version={i + 1}")
                self.db.execute("COMMIT")
            except Exception:
                self.db.execute("ROLLBACK")
                raise

    # -- conversations -----------------------------------------------------------------
    def new_conversation(self, title: str = "", conv_id: str | None = None) -> str:
        cid = conv_id or uuid.uuid4().hex[:12]
        now = time.time()
        self.db.execute("INSERT OR IGNORE INTO conversations(id, title, created, updated) VALUES (?,?,?,?)",
                        (cid, title, now, now))
        return cid

    def exists(self, conv_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM conversations WHERE id=?", (conv_id,)).fetchone() is not None

    def latest(self) -> str | None:
        row = self.db.execute("SELECT id FROM conversations ORDER BY updated DESC, rowid DESC LIMIT 1").fetchone()
        return row["id"] if row else None

    def conversations(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT c.id, c.title, c.created, c.updated, COUNT(m.id) AS count FROM conversations c "
            "LEFT JOIN messages m ON m.conversation_id = c.id GROUP BY c.id ORDER BY c.updated DESC, c.rowid DESC "
            "LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    # -- messages ------------------------------------------------------------------------
    def add(self, conv_id: str, role: str, content: str, *, provider: str = "", model: str = "", intent: str = "",
            timings: dict[str, Any] | None = None, turn_id: str = "", image: str = "", ok: bool = True) -> int:
        """Append one message and commit it (autocommit: durable when this returns)."""
        now = time.time()
        if not self.exists(conv_id):
            self.new_conversation(conv_id=conv_id)
        cur = self.db.execute(
            "INSERT INTO messages(conversation_id, role, content, created, provider, model, intent, timings, turn_id,"
            " image, ok) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (conv_id, role, content, now, provider, model, intent, json.dumps(timings or {}), turn_id, image, int(ok)))
        title = content.strip().splitlines()[0][:60] if role == "user" and content.strip() else None
        self.db.execute("UPDATE conversations SET updated=?, title=CASE WHEN title='' AND ? IS NOT NULL THEN ? "
                        "ELSE title END WHERE id=?", (now, title, title, conv_id))
        return int(cur.lastrowid or 0)

    def remove_turn(self, turn_id: str) -> int:
        """Forget every message of ``turn_id`` (a reply started on a guess the speaker took back)."""
        if not turn_id:
            return 0
        return self.db.execute("DELETE FROM messages WHERE turn_id=?", (turn_id,)).rowcount

    def add_stages(self, turn_id: str, stages: dict[str, Any]) -> None:
        """Keep a turn's latency breakdown with its reply (``timings["stages"]``)."""
        row = self.db.execute("SELECT id, timings FROM messages WHERE turn_id=? AND role='assistant' "
                              "ORDER BY id DESC LIMIT 1", (turn_id,)).fetchone()
        if row is None:
            return
        timings = json.loads(row["timings"] or "{}")
        timings["stages"] = stages
        self.db.execute("UPDATE messages SET timings=? WHERE id=?", (json.dumps(timings), row["id"]))

    def messages(self, conv_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM messages WHERE conversation_id=? ORDER BY id", (conv_id,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["timings"] = json.loads(d.get("timings") or "{}")
            out.append(d)
        return out

    def context(self, conv_id: str, max_chars: int) -> list[dict[str, str]]:
        """The newest messages that fit in ``max_chars`` (oldest first), for the model's window.

        Failed replies are left out; the newest message is always kept (cut from the
        front if it alone is too long). The window's start moves in big steps (down to
        half the budget when it overflows), not one message per turn: between steps the
        prompt's prefix stays the same, so llama.cpp and Ollama reuse their prompt cache
        instead of re-reading the whole history every turn.
        """
        start, cut_for = self._window_start.get(conv_id, (0, max_chars))
        if cut_for != max_chars:  # another model's window (hot swap): start over
            start = 0
        rows = self.db.execute("SELECT id, role, content FROM messages WHERE conversation_id=? AND ok=1 "
                               "AND id>=? ORDER BY id DESC LIMIT 200", (conv_id, start)).fetchall()
        if sum(len(r["content"]) for r in rows) > max_chars:
            budget = max_chars // 2  # overflow: jump forward to half the budget
            used, first = 0, rows[0]["id"] if rows else start
            for r in rows:
                if used + len(r["content"]) > budget:
                    break
                used += len(r["content"])
                first = r["id"]
            self._window_start[conv_id] = (first, max_chars)
            rows = [r for r in rows if r["id"] >= first]
        out: list[dict[str, str]] = [{"role": r["role"], "content": r["content"]} for r in rows]
        if out and len(out[0]["content"]) > max_chars:
            out[0]["content"] = out[0]["content"][-max_chars:]
        out.reverse()
        while out and out[0]["role"] == "assistant":  # a window starts with the user
            out.pop(0)
        return out

    def close(self) -> None:
        self.db.close()
