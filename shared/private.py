"""Luna's files are the user's alone: 0600 files in 0700 directories.

Why one module: history, logs, recordings and keys are written by different
services and libraries (sqlite, logging's rotating handler, zmq.auth), and none of
them takes a mode. So every Luna process sets ``umask 077`` before it creates
anything (:func:`secure_process`), and the directories that already exist, made
by an older Luna or a 022 umask, are tightened at start (:func:`tighten`).
``.env`` is the user's own file: we never change its mode, we only warn when it
holds an API key and others can read it (:func:`env_warning`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from shared import i18n

DIR_MODE = 0o700
FILE_MODE = 0o600


def data_dir() -> Path:
    from shared.paths import data_home  # the one rule for the data dir

    return data_home() / "luna"


def config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "luna"


def state_dir() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "luna"


def private_dir(path: Path) -> Path:
    """``path`` created 0700 (parents too, under umask 077), or tightened to 0700 if it is ours."""
    old = os.umask(0o077)
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    finally:
        os.umask(old)
    _tighten_one(path, DIR_MODE)
    return path


def _tighten_one(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        return  # never follow a link, never touch what is not ours
    if stat.S_IMODE(st.st_mode) & 0o077:
        try:
            os.chmod(path, stat.S_IMODE(st.st_mode) & mode)
        except OSError:
            pass


def tighten(path: Path) -> None:
    """Make an existing tree private: directories 0700, regular files without group/other bits."""
    if not path.exists() or path.is_symlink():
        return
    _tighten_one(path, DIR_MODE)
    if not path.is_dir():
        return
    for root, dirs, files in os.walk(path):
        for d in dirs:
            _tighten_one(Path(root) / d, DIR_MODE)
        for f in files:
            p = Path(root) / f
            if p.is_file() and not p.is_symlink():  # sockets keep their mode: their directory guards them
                _tighten_one(p, FILE_MODE)


def luna_dirs() -> list[Path]:
    """Every directory Luna writes user data to: history, logs, state, config and keys."""
    dirs = [data_dir(), state_dir(), config_dir()]
    for var in ("LUNA_LOG_DIR", "LUNA_KEYS_DIR"):
        if os.environ.get(var):
            dirs.append(Path(os.environ[var]))
    return dirs


def secure_process() -> None:
    """umask 077 for this process (and its children), and tighten what already exists.

    Called by every service and by the CLI before anything is created, so files made
    later by sqlite, logging or zmq.auth are 0600 in 0700 directories.
    """
    os.umask(0o077)
    for d in luna_dirs():
        tighten(d)


def open_private(path: Path, mode: str = "a") -> object:
    """``open(path, mode)`` for a file that must be 0600 (recordings), its directory 0700 if we make it."""
    if not path.parent.exists():
        private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC), FILE_MODE)
    _tighten_one(path, FILE_MODE)
    return os.fdopen(fd, mode, encoding="utf-8")


def env_warning(path: Path, language: str = "pt") -> str | None:
    """One line in the user's language when ``path`` holds a key and is readable by group or others."""
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if not stat.S_IMODE(st.st_mode) & 0o044:
        return None
    holds_key = False
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        name = name.removeprefix("export ").strip()
        if sep and not name.startswith("#") and (name.endswith("_API_KEY") or name.endswith("_SECRET")) \
                and value.strip().strip("'\""):
            holds_key = True
            break
    if not holds_key:
        return None
    return i18n.say("private.env-readable", language, path=path)
