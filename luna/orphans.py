"""Luna's services left running without their supervisord (issue 13: kill -9 of supervisord).

Why: when supervisord dies by SIGKILL its children are reparented and keep
serving, which is good for the person chatting, but nothing supervises them any
more, and a later ``luna up`` would start a second set beside them (two brains
answering, two stts on one microphone). So ``luna up`` and ``luna down`` find this
install's services that no live supervisord owns and stop them cleanly (SIGTERM,
then SIGKILL after a grace period) before starting a fresh supervisord; ``luna
status`` names them in one line.

How a process is recognised as ours: its command line is ``<python> -m
services.<name>`` and its environment's ``LUNA_RUN_DIR`` is this install's runtime
dir (``/proc/<pid>/environ`` is readable only for our own processes, so another
user's Luna, or a test stack on another runtime dir, is never touched).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

#: Everything supervisord.conf runs: the five services and the watchdog.
PROGRAMS = ("playback", "tts", "brain", "stt", "capture", "watchdog")


def _read(pid: int, what: str) -> bytes:
    try:
        return (Path("/proc") / str(pid) / what).read_bytes()
    except OSError:
        return b""


def _ppid(pid: int) -> int:
    stat = _read(pid, "stat").decode(errors="replace")
    try:
        return int(stat.rsplit(")", 1)[1].split()[1])  # the comm field may hold spaces and parens
    except (IndexError, ValueError):
        return 0


def supervisord_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process is alive and is a supervisord (not a reused pid)."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if b"supervisord" in _read(pid, "cmdline") else None


def services(run_dir: Path) -> dict[int, str]:
    """pid -> program for every live process of this install's stack (same uid, same runtime dir)."""
    want = os.fsencode(f"LUNA_RUN_DIR={Path(run_dir).resolve()}")
    me, out = os.getuid(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if entry.stat().st_uid != me:
                continue
        except OSError:
            continue
        argv = _read(pid, "cmdline").split(b"\0")
        try:
            i = argv.index(b"-m")
        except ValueError:
            continue
        mod = argv[i + 1].decode(errors="replace") if i + 1 < len(argv) else ""
        name = mod.removeprefix("services.")
        if not mod.startswith("services.") or name not in PROGRAMS:
            continue
        env = _read(pid, "environ").split(b"\0")
        if any(_same_dir(e, want) for e in env):
            out[pid] = name
    return out


def _same_dir(entry: bytes, want: bytes) -> bool:
    if not entry.startswith(b"LUNA_RUN_DIR="):
        return False
    if entry == want:
        return True
    try:  # the same dir spelt another way (a symlink, a trailing slash)
        return os.fsencode(f"LUNA_RUN_DIR={Path(os.fsdecode(entry[13:])).resolve()}") == want
    except OSError:
        return False


def orphans(run_dir: Path, supervisor: int | None) -> dict[int, str]:
    """This install's services that the live supervisord (``supervisor``, or none) does not own."""
    return {pid: name for pid, name in services(run_dir).items() if supervisor is None or _ppid(pid) != supervisor}


def stop(pids: dict[int, str], grace: float = 10.0) -> list[int]:
    """SIGTERM each (they publish ``stopping`` and close the bus), SIGKILL what is left after ``grace``."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    left = list(pids)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if _alive(p)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def _alive(pid: int) -> bool:
    stat = _read(pid, "stat")
    if not stat:
        return False
    return stat.rsplit(b")", 1)[-1].split()[:1] != [b"Z"]  # a zombie has exited already


def describe(pids: dict[int, str]) -> str:
    return ", ".join(f"{name} ({pid})" for pid, name in sorted(pids.items(), key=lambda kv: PROGRAMS.index(kv[1])))


def line(event: str, pids: dict[int, str], lang: str = "pt") -> str:
    """The one line the person reads, in their language (shared/i18n): ``found`` (status) or ``stopped`` (up/down)."""
    from luna.i18n import t

    return t(f"orphans.{event}", lang, n=len(pids), names=describe(pids))
