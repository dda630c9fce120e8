"""``luna up/down/status/restart/logs/wait/check``: the supervised stack and its environment.

Why in Python rather than the Makefile: the same code finds the private runtime
directory, the log directory and the interpreter for every command, so ``make``
and ``luna`` can never disagree about where the bus lives.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "supervisord.conf"


# -- environment shared with supervisord -----------------------------------------------
def stack_env() -> dict[str, str]:
    """Environment for supervisord and its children: where the bus, logs and python are."""
    from shared import endpoints, logs

    run = endpoints.runtime_dir()
    logdir = logs.state_dir()
    logdir.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "LUNA_RUN_DIR": str(run), "LUNA_LOG_DIR": str(logdir),
            "LUNA_PYTHON": os.environ.get("LUNA_PYTHON", sys.executable), "PYTHONUNBUFFERED": "1"}


def supervisorctl(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(CONF), *args],
                          env=stack_env(), text=True, capture_output=True, check=check)


def supervisord_pidfile() -> Path:
    """In the private state dir, not the runtime dir: it must survive the runtime dir's deletion (supervisord.conf)."""
    return Path(stack_env()["LUNA_LOG_DIR"]) / "supervisord.pid"


def supervisord_running() -> bool:
    from luna import orphans

    return orphans.supervisord_pid(supervisord_pidfile()) is not None


def _lang() -> str:
    from luna import i18n

    return i18n.lang()


def strays() -> dict[int, str]:
    """This install's services that no live supervisord owns (left by a kill -9 of supervisord)."""
    from luna import orphans

    return orphans.orphans(Path(stack_env()["LUNA_RUN_DIR"]), orphans.supervisord_pid(supervisord_pidfile()))


def stop_strays() -> None:
    """Stop the unsupervised services so a fresh supervisord never runs a second set beside them."""
    from luna import orphans

    found = strays()
    if found:
        orphans.stop(found)
        print(orphans.line("stopped", found, _lang()), flush=True)


def not_running_line() -> str:
    from luna.i18n import t

    return t("not_running")


def start_supervisord(foreground: bool = False) -> subprocess.Popen[bytes] | None:
    env = stack_env()
    cmd = [sys.executable, "-m", "supervisor.supervisord", "-c", str(CONF)]
    if foreground:
        return subprocess.Popen([*cmd, "-n"], env=env, cwd=ROOT)
    subprocess.run(cmd, env=env, cwd=ROOT, check=True)
    return None


# -- waiting for readiness ---------------------------------------------------------------
async def wait_ready(services: list[str], timeout: float, quiet: bool = False,
                     details: dict[str, str] | None = None) -> dict[str, str]:
    """Listen to heartbeats until every service is ready; print one progress line per change
    (in the user's language, shared/i18n). ``details`` gets each service's last problems line."""
    from luna import i18n
    from shared.bus import Bus
    from shared.service import Peers

    bus = Bus(None)
    bus.subscribe([b"ev.heartbeat", b"ev.ready", b"ev.stopping"])
    peers = Peers()
    shown: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    try:
        while True:
            for s in services:
                st = peers.status(s)
                if shown.get(s) != st:
                    shown[s] = st
                    detail = peers.info.get(s, {}).get("problems")
                    if details is not None:
                        details[s] = "; ".join(detail) if detail else ""
                    if not quiet:
                        extra = f"  ({'; '.join(detail)})" if detail else ""
                        print(i18n.t("up.service", None, service=s, state=i18n.state(st), extra=extra), flush=True)
            if all(peers.is_ready(s) for s in services):
                return shown
            left = deadline - time.monotonic()
            if left <= 0:
                return shown
            with contextlib.suppress(asyncio.TimeoutError):
                peers.update(await asyncio.wait_for(bus.recv_event(), timeout=min(left, 0.5)))
    finally:
        bus.close()



# -- commands ---------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    from shared import config

    try:
        config.load()
    except config.ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    if not args.offline and os.environ.get("LUNA_OFFLINE") != "1":
        from luna.models import fetch_all

        fetch_all(config.load())  # the one step that may use the network; services never do
    warn_env_readable()
    from shared import curve

    curve.ensure_keypair()  # this install's CURVE keypair, made on the first `make up`
    stop_strays()  # after a kill -9 of supervisord its services still run: never start a second set
    from luna.i18n import t

    if not supervisord_running():
        print(t("up.starting"), flush=True)
        start_supervisord()
    else:
        print(t("up.already"), flush=True)
    from shared.endpoints import SUPERVISED

    details: dict[str, str] = {}
    shown = asyncio.run(wait_ready(list(SUPERVISED), args.timeout, details=details))
    lines = up_summary(shown, details, args.timeout)
    print(lines[0], flush=True)
    not_ready = [s for s, st in shown.items() if st not in ("ready", "degraded", "no-device")]
    if args.no_ui:
        return 0 if not not_ready else 1
    os.environ[SUMMARY_ENV] = str(write_summary(lines))  # the UI shows it on start: the progress lines vanish
    os.execv(sys.executable, [sys.executable, "-m", "services.ui"])
    return 0


#: The UI reads the file this names and shows its lines as the chat's first entry (services/ui/app.py).
SUMMARY_ENV = "LUNA_UP_SUMMARY"


def up_summary(shown: dict[str, str], details: dict[str, str], timeout: float) -> list[str]:
    """What ``luna up`` found, short: the verdict line, then one line per service not plainly ready.

    Why: the progress lines scroll away when the UI takes the terminal; a service that came up
    degraded or without a device is the one thing the person must still be able to read.
    """
    from luna import i18n

    not_ready = [s for s, st in shown.items() if st not in ("ready", "degraded", "no-device")]
    odd = [s for s, st in shown.items() if st != "ready"]
    rows = [i18n.t("up.service", None, service=s, state=i18n.state(shown[s]),
                   extra=f"  ({details[s]})" if details.get(s) else "").strip() for s in odd]
    if not_ready:
        head = i18n.t("up.not_ready", None, s=timeout, names=", ".join(not_ready))
    else:
        head = i18n.t("up.all_ready")
    return [head, *rows]


def write_summary(lines: list[str]) -> Path:
    """``luna up``'s summary in the private log dir (0600 like every file there), for the UI."""
    path = Path(stack_env()["LUNA_LOG_DIR"]) / "up-summary.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cmd_down(_: argparse.Namespace) -> int:
    if not supervisord_running():
        if strays():
            stop_strays()
        else:
            print(not_running_line())
        return 0
    r = supervisorctl("shutdown")
    print(r.stdout.strip() or r.stderr.strip())
    pidfile = supervisord_pidfile()
    for _ in range(150):
        if not pidfile.exists():
            break
        time.sleep(0.1)
    stop_strays()  # a set left by an earlier supervisord's kill -9 goes down too
    return 0


def cmd_ctl(*words: str) -> int:
    if not supervisord_running():
        from luna import orphans

        found = strays()
        print(orphans.line("found", found, _lang()) if found else not_running_line())
        return 1
    r = supervisorctl(*words)
    print((r.stdout + r.stderr).strip())
    return 0 if r.returncode in (0, 3) else r.returncode


def cmd_logs(args: argparse.Namespace) -> int:
    logdir = Path(stack_env()["LUNA_LOG_DIR"])
    files = sorted(logdir.glob(f"{args.service or '*'}.out.log"))
    if not files:
        from luna.i18n import t

        print(t("logs.none", None, dir=logdir))
        return 1
    cmd = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + [str(f) for f in files]
    with contextlib.suppress(KeyboardInterrupt):
        return subprocess.call(cmd)
    return 0


def warn_env_readable() -> None:
    """One line (stdout, so `check`'s stderr stays the error channel) if .env holds a key others can read."""
    from shared import config, private

    line = private.env_warning(config.env_file(), _lang())
    if line:
        print(line, flush=True)


def cmd_check(_: argparse.Namespace) -> int:
    from shared import config

    try:
        config.load()
    except config.ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    warn_env_readable()
    from luna.i18n import t

    print(t("check.ok"))
    return 0
