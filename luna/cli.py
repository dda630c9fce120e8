"""``luna``: the command line around the services.

``luna up`` (start supervisord, wait for every service, open the UI), ``down``,
``status``, ``restart SERVICE``, ``logs``, ``wait``, ``check`` (validate .env),
``keys``, ``models``, ``tap`` (watch the bus live), ``send`` (one chat turn from a
script), ``replay``, ``route`` (which model would answer), ``catalogue`` (every frame,
field and command), ``diagnose``. This module is only the parser: each command lives in
a small module of its own (:mod:`luna.stack`, :mod:`luna.bustools`, :mod:`luna.keys`,
:mod:`luna.models`, :mod:`luna.diagnose`). The ``luna`` tool may import services (the
router); ``shared/`` never does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from luna import bustools, keys, stack


def cmd_route(args: argparse.Namespace) -> int:
    from services.brain.router import route_main  # the brain owns routing; this is only a front door

    return route_main(args.rest)


def cmd_wait(args: argparse.Namespace) -> int:
    from shared.endpoints import SUPERVISED

    svcs = args.services or list(SUPERVISED)
    shown = asyncio.run(stack.wait_ready(svcs, args.timeout))
    return 0 if all(st in ("ready", "degraded", "no-device") for st in shown.values()) else 1


def cmd_models(_: argparse.Namespace) -> int:
    from luna.models import fetch_all
    from shared import config

    return 0 if fetch_all(config.load()) else 1


def cmd_diagnose(args: argparse.Namespace) -> int:
    from luna.diagnose import default_logs, diagnose

    files = args.files or default_logs()
    if not files:
        from luna.i18n import t

        print(t("diag.none"))
        return 1
    print(diagnose(files))
    return 0


def cmd_catalogue(_: argparse.Namespace) -> int:
    from shared.messages import describe

    print(describe())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """One sub-parser per command; ``set_defaults(func=...)`` names the function that runs it."""
    p = argparse.ArgumentParser(prog="luna", description="Luna: local-first voice and terminal assistant")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the services and open the UI")
    up.add_argument("--no-ui", action="store_true", help="start and wait, but do not open the UI")
    up.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for readiness")
    up.add_argument("--offline", action="store_true", help="do not fetch missing models first (LUNA_OFFLINE=1)")
    up.set_defaults(func=stack.cmd_up)
    sub.add_parser("models", help="download the configured models (Whisper, Piper voice, Ollama models)"
                   ).set_defaults(func=cmd_models)
    sub.add_parser("down", help="stop every service").set_defaults(func=stack.cmd_down)
    sub.add_parser("status", help="state of each service").set_defaults(func=lambda _: stack.cmd_ctl("status"))
    r = sub.add_parser("restart", help="restart one service; the others keep running")
    r.add_argument("service")
    r.set_defaults(func=lambda a: stack.cmd_ctl("restart", a.service))
    lg = sub.add_parser("logs", help="show service logs")
    lg.add_argument("service", nargs="?")
    lg.add_argument("-n", "--lines", type=int, default=40)
    lg.add_argument("-f", "--follow", action="store_true")
    lg.set_defaults(func=stack.cmd_logs)
    w = sub.add_parser("wait", help="wait until services are ready")
    w.add_argument("services", nargs="*")
    w.add_argument("--timeout", type=float, default=600.0)
    w.set_defaults(func=cmd_wait)
    sub.add_parser("check", help="validate .env").set_defaults(func=stack.cmd_check)
    k = sub.add_parser("keys", help="CURVE keys of the tcp bus: show (default), add NAME KEY, revoke NAME")
    k.add_argument("action", nargs="?", default="show", choices=("show", "add", "revoke"))
    k.add_argument("name", nargs="?")
    k.add_argument("key", nargs="?", help="a public key (40 z85 characters) or a .key file")
    k.set_defaults(func=keys.cmd_keys)
    t = sub.add_parser("tap", help="watch every frame on the bus")
    t.add_argument("-s", "--service", action="append", default=[], help="only frames from this service")
    t.add_argument("-t", "--type", action="append", default=[], help="only frames of this type")
    t.add_argument("--record", type=Path, help="also append decoded frames to this JSON-lines file")
    t.add_argument("-n", "--count", type=int, help="stop after N frames")
    t.add_argument("--heartbeats", action="store_true", help="print every heartbeat (default: only changes)")
    t.set_defaults(func=lambda a: asyncio.run(bustools.tap(set(a.service), set(a.type), a.record, a.count,
                                                           a.heartbeats)))
    s = sub.add_parser("send", help="send one message and print the streamed reply")
    s.add_argument("text", help="the message, or - to read it from stdin")
    s.add_argument("--image")
    s.add_argument("--timeout", type=float, default=120.0)
    s.set_defaults(func=lambda a: asyncio.run(bustools.send(a.text, a.image, a.timeout)))
    ro = sub.add_parser("route", help="print which intent (chat/code/vision/system) a text gets")
    ro.add_argument("rest", nargs=argparse.REMAINDER)
    ro.set_defaults(func=cmd_route)
    sub.add_parser("catalogue", help="list every frame type, field, nested key and command on the bus"
                   ).set_defaults(func=cmd_catalogue)
    rp = sub.add_parser("replay", help="publish a `tap --record` file back into a running stack")
    rp.add_argument("file", type=Path)
    rp.add_argument("--speed", type=float, default=1.0)
    rp.add_argument("--all", action="store_true", help="every recorded event, not only the person's input")
    rp.set_defaults(func=lambda a: asyncio.run(bustools.replay(a.file, a.speed, a.all)))
    dg = sub.add_parser("diagnose", help="report slow operations, overflows, errors from logs or recordings")
    dg.add_argument("files", nargs="*", type=Path)
    dg.set_defaults(func=cmd_diagnose)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from shared import private

    private.secure_process()  # recordings, logs and keys this command makes are 0600 in 0700 dirs
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `luna tap | head`: the reader left, which is fine
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except Exception as exc:  # one clear line, never a traceback at the user
        print(f"luna {args.cmd}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
