"""Conversation history in SQLite (WAL) under ``$XDG_DATA_HOME/luna/history.db``.

Every message is committed as soon as it exists (the user's line before the
model answers, the reply when it ends), so a ``kill -9`` of any process loses at
most the reply being written. The schema has a version (``PRAGMA user_version``)
and an ordered list of migrations; opening an older file upgrades it in place.

Faults never stop the chat (issue 13, 8; a corrupt file used to crash-loop the brain):

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
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared import i18n

log = logging.getLogger("luna.history")

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
    # 4: a turn cut off by the next message (or Esc) keeps its rows, marked
    """
    ALTER TABLE messages ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "luna"


def default_path() -> Path:
    return data_dir() / "history.db"


class History:
    def __init__(self, path: Path | None = None, lang: str = "pt",
                 on_problem: Callable[[str, str], None] | None = None) -> None:
        self.path = path or default_path()
        self.lang = i18n.lang(lang)
        self._on_problem = on_problem
        self.problems: list[tuple[str, str]] = []  # (code, text), also kept for whoever asks later
        self.in_memory = False
        self.aside: Path | None = None
        #: conversation -> (oldest message id in the model's window, the budget it was cut for)
        self._window_start: dict[str, tuple[int, int]] = {}
        try:
            self.db = self._open(self.path)
        except sqlite3.OperationalError as err:  # read-only, full, or no folder: keep going in memory
            self.db = self._memory(self._read_only())
            self._problem("history-memory", why=_why(err))
        except sqlite3.DatabaseError as err:  # not a database, malformed: move it aside, start afresh
            log.error("history %s is corrupt (%s)", self.path, err)
            try:
                self.aside = self._move_aside()
                self.db = self._open(self.path)
                self._problem("history-corrupt", aside=self.aside.name)
            except (OSError, sqlite3.DatabaseError) as err2:
                self.db = self._memory(None)
                self._problem("history-memory", why=_why(err2))

    def _open(self, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise sqlite3.OperationalError(str(err)) from None
        db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a process crash (kill -9);
            # only a power cut can lose the last few.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            row = db.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else '?'}")
            self._migrate(db)
        except Exception:
            db.close()
            raise
        return db

    def _read_only(self) -> sqlite3.Connection | None:
        """The file opened for reading only (a read-only disk), so the memory copy starts with it."""
        if not self.path.exists():
            return None
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True)
            db.execute("SELECT count(*) FROM messages").fetchone()
            return db
        except sqlite3.Error:
            return None

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        os.replace(self.path, aside)
        for ext in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + ext)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + ext))
        return aside

    def _memory(self, source: sqlite3.Connection | None) -> sqlite3.Connection:
        """An in-memory database holding a copy of ``source`` (what could still be read)."""
        mem = sqlite3.connect(":memory:", isolation_level=None)
        mem.row_factory = sqlite3.Row
        if source is not None:
            try:
                source.backup(mem)
            except sqlite3.Error:
                mem.close()
                mem = sqlite3.connect(":memory:", isolation_level=None)
                mem.row_factory = sqlite3.Row
        mem.execute("PRAGMA foreign_keys=ON")
        self._migrate(mem)
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
            why = _why(err)
        except sqlite3.DatabaseError as err:  # corrupted under our feet
            if self.in_memory:
                raise
            why = _why(err)
        old = self.db
        self.db = self._memory(old)
        old.close()
        self._problem("history-memory", why=why)
        return fn(self.db)

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        self._migrate(self.db)

    def _migrate(self, db: sqlite3.Connection) -> None:
        v = int(db.execute("PRAGMA user_version").fetchone()[0])
        if v > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} has schema v{v}, newer than this Luna (v{SCHEMA_VERSION})")
        for i in range(v, SCHEMA_VERSION):
            db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in MIGRATIONS[i].split(";"):
                    if stmt.strip():
                        db.execute(stmt)
                db.execute(f"PRAGMA user_version={i + 1}")
                db.execute("COMMIT")
            except Exception:
                db.execute("ROLLBACK")
                raise

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
        """The newest messages that fit in ``max_chars`` (oldest first), for the model's window.

        Failed replies are left out; the newest message is always kept (cut from the
        front if it alone is too long). The window's start moves in big steps (down to
        half the budget when it overflows), not one message per turn: between steps the
        prompt's prefix stays the same, so llama.cpp and Ollama reuse their prompt cache
        instead of re-reading the whole history every turn. ``reserve`` makes it jump when
        fewer than that many characters are left (the brain's prompt-cache warm-up asks so,
        after a reply, so the jump the next line would cause happens while nobody waits).
        """
        start, cut_for = self._window_start.get(conv_id, (0, max_chars))
        if cut_for != max_chars:  # another model's window (hot swap): start over
            start = 0
        rows = self.db.execute("SELECT id, role, content FROM messages WHERE conversation_id=? AND ok=1 "
                               "AND id>=? ORDER BY id DESC LIMIT 200", (conv_id, start)).fetchall()
        if sum(len(r["content"]) for r in rows) > max_chars - reserve:
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


def _why(err: Exception) -> str:
    """A short reason a person can act on (``database or disk is full``, ``readonly database``)."""
    text = str(err).strip() or type(err).__name__
    return text.replace("attempt to write a ", "")[:120]
