"""The history's SQLite file: where it lives, its schema and how a bad one is opened.

Why apart from :mod:`services.brain.history`: opening the file is where every fault
shows up (a corrupt file used to crash-loop the brain), and each way out is a
small, separate step that :class:`~services.brain.history.History` chooses between:

* :func:`open_file` opens it in WAL mode, checks it (``quick_check``) and upgrades an
  older schema in place (``PRAGMA user_version`` and the ordered :data:`MIGRATIONS`);
* :func:`move_aside` moves a corrupt or foreign file (with its -wal/-shm) to
  ``history.db.corrupt-<UTC stamp>`` so a fresh one can be created;
* :func:`read_only` and :func:`memory_copy` keep what could still be read in memory
  when the disk is read-only or full, so the model keeps its context.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

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


def open_file(path: Path) -> sqlite3.Connection:
    """The checked, migrated file; OperationalError when it cannot be written, DatabaseError when corrupt."""
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
        migrate(db, path)
    except Exception:
        db.close()
        raise
    return db


def read_only(path: Path) -> sqlite3.Connection | None:
    """The file opened for reading only (a read-only disk), so the memory copy starts with it."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        db.execute("SELECT count(*) FROM messages").fetchone()
        return db
    except sqlite3.Error:
        return None


def move_aside(path: Path) -> Path:
    """Move a corrupt ``path`` (and its -wal/-shm) to ``<name>.corrupt-<UTC stamp>``; returns where it went."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, aside)
    for ext in ("-wal", "-shm"):
        side = path.with_name(path.name + ext)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + ext))
    return aside


def memory_copy(source: sqlite3.Connection | None, path: Path) -> sqlite3.Connection:
    """An in-memory database holding a copy of ``source`` (what could still be read from ``path``)."""
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
    migrate(mem, path)
    return mem


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring ``db`` to :data:`SCHEMA_VERSION`, one transaction per step; refuse a newer Luna's file."""
    v = int(db.execute("PRAGMA user_version").fetchone()[0])
    if v > SCHEMA_VERSION:
        raise RuntimeError(f"{path} has schema v{v}, newer than this Luna (v{SCHEMA_VERSION})")
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


def why(err: Exception) -> str:
    """A short reason a person can act on (``database or disk is full``, ``readonly database``)."""
    text = str(err).strip() or type(err).__name__
    return text.replace("attempt to write a ", "")[:120]
