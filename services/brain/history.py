"""Conversation history in SQLite (WAL) under ``$XDG_DATA_HOME/luna/history.db``.

Every message is committed as soon as it exists (the user's line before the
model answers, the reply when it ends), so a ``kill -9`` of any process loses at
most the reply being written. The file itself (schema, migrations, moving a corrupt
one aside, the in-memory copy) is :mod:`services.brain.history_file`; how much of a
conversation the model reads is :mod:`services.brain.context_window`.

This class decides what happens on a fault, which never stops the chat (issue 13, 8):

* a corrupt or foreign file is moved aside as ``history.db.corrupt-<UTC stamp>`` (with
  its -wal/-shm) and a fresh one is created; the person is told once;
* a read-only or full disk (at start or in the middle of a conversation) switches to
  an in-memory copy of what could be read, so the chat goes on and the model keeps
  its context, with one clear notice that nothing new is being saved.

Problems are handed to ``on_problem(code, text)`` (the brain turns them into a
notice), in the user's language.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.brain import history_file
from services.brain.context_window import Window
from shared import i18n

log = logging.getLogger("luna.history")


class History:
    def __init__(self, path: Path | None = None, lang: str = "pt",
                 on_problem: Callable[[str, str], None] | None = None) -> None:
        self.path = path or history_file.default_path()
        self.lang = i18n.lang(lang)
        self._on_problem = on_problem
        self.problems: list[tuple[str, str]] = []  # (code, text), also kept for whoever asks later
        self.in_memory = False
        self.aside: Path | None = None
        self.window = Window()  # how much of a conversation the model reads
        try:
            self.db = history_file.open_file(self.path)
        except sqlite3.OperationalError as err:  # read-only, full, or no folder: keep going in memory
            self.db = self._memory(history_file.read_only(self.path))
            self._problem("history-memory", why=history_file.why(err))
        except sqlite3.DatabaseError as err:  # not a database, malformed: move it aside, start afresh
            log.error("history %s is corrupt (%s)", self.path, err)
            try:
                self.aside = history_file.move_aside(self.path)
                self.db = history_file.open_file(self.path)
                self._problem("history-corrupt", aside=self.aside.name)
            except (OSError, sqlite3.DatabaseError) as err2:
                self.db = self._memory(None)
                self._problem("history-memory", why=history_file.why(err2))

    def _memory(self, source: sqlite3.Connection | None) -> sqlite3.Connection:
        """Switch to an in-memory copy of ``source``: the chat goes on, nothing new is saved."""
        mem = history_file.memory_copy(source, self.path)
        self.in_memory = True
        return mem

    def _problem(self, code: str, **kw: Any) -> None:
        text = i18n.say(f"brain.{code}", self.lang, **kw)  # the codes are the catalogue's brain.history-*
        log.warning("%s", text)
        self.problems.append((code, text))
        if self._on_problem is not None:
            self._on_problem(code, text)

    def set_on_problem(self, fn: Callable[[str, str], None]) -> None:
        """Where to report problems from now on; the ones already met are reported at once."""
        self._on_problem = fn
        for code, text in self.problems:
            fn(code, text)

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run a write; a read-only, full or failing disk moves the history into memory and retries there."""
        try:
            return fn(self.db)
        except sqlite3.OperationalError as err:
            if self.in_memory or "locked" in str(err):
                raise
            why = history_file.why(err)
        except sqlite3.DatabaseError as err:  # corrupted under our feet
            if self.in_memory:
                raise
            why = history_file.why(err)
        old = self.db
        self.db = self._memory(old)
        old.close()
        self._problem("history-memory", why=why)
        return fn(self.db)

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        history_file.migrate(self.db, self.path)

    # -- conversations -----------------------------------------------------------------
    def new_conversation(self, title: str = "", conv_id: str | None = None) -> str:
        cid = conv_id or uuid.uuid4().hex[:12]
        now = time.time()
        self._write(lambda db: db.execute(
            "INSERT OR IGNORE INTO conversations(id, title, created, updated) VALUES (?,?,?,?)",
            (cid, title, now, now)))
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
        title = content.strip().splitlines()[0][:60] if role == "user" and content.strip() else None

        def write(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "INSERT INTO messages(conversation_id, role, content, created, provider, model, intent, timings,"
                " turn_id, image, ok) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (conv_id, role, content, now, provider, model, intent, json.dumps(timings or {}), turn_id, image,
                 int(ok)))
            db.execute("UPDATE conversations SET updated=?, title=CASE WHEN title='' AND ? IS NOT NULL THEN ? "
                       "ELSE title END WHERE id=?", (now, title, title, conv_id))
            return int(cur.lastrowid or 0)

        return int(self._write(write))

    def remove_turn(self, turn_id: str) -> int:
        """Forget every message of ``turn_id`` (a reply started on a guess the speaker took back)."""
        if not turn_id:
            return 0
        return self._write(lambda db: db.execute("DELETE FROM messages WHERE turn_id=?", (turn_id,)).rowcount)

    def mark_cancelled(self, turn_id: str) -> int:
        """Mark the rows of a turn cut off before its reply ended (kept, not lost: the model still reads the line)."""
        if not turn_id:
            return 0
        return self._write(lambda db: db.execute("UPDATE messages SET cancelled=1 WHERE turn_id=?",
                                                 (turn_id,)).rowcount)

    def add_stages(self, turn_id: str, stages: dict[str, Any]) -> None:
        """Keep a turn's latency breakdown with its reply (``timings["stages"]``)."""
        row = self.db.execute("SELECT id, timings FROM messages WHERE turn_id=? AND role='assistant' "
                              "ORDER BY id DESC LIMIT 1", (turn_id,)).fetchone()
        if row is None:
            return
        timings = json.loads(row["timings"] or "{}")
        timings["stages"] = stages
        self._write(lambda db: db.execute("UPDATE messages SET timings=? WHERE id=?", (json.dumps(timings), row["id"])))

    def messages(self, conv_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM messages WHERE conversation_id=? ORDER BY id", (conv_id,)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["timings"] = json.loads(d.get("timings") or "{}")
            out.append(d)
        return out

    def context(self, conv_id: str, max_chars: int, reserve: int = 0) -> list[dict[str, str]]:
        """The newest messages that fit in ``max_chars`` (oldest first): :meth:`Window.select`."""
        return self.window.select(self.db, conv_id, max_chars, reserve)

    def close(self) -> None:
        self.db.close()

