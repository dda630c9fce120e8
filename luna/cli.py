"""``luna``: the command line around the services.

``luna up`` (start supervisord, wait for every service, open the UI), ``down``,
``status``, ``restart SERVICE``, ``logs``, ``wait``, ``check`` (validate .env),
``tap`` (watch the bus live), ``send`` (one chat turn from a script), ``route``
(which model would answer), ``catalogue`` (every frame type).

Why in Python rather than the Makefile: the same code finds the private runtime
directory, the log directory and the interpreter for every command, so ``make``
and ``luna`` can never disagree about where the bus lives.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

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


def supervisord_running() -> bool:
    env = stack_env()
    pidfile = Path(env["LUNA_RUN_DIR"]) / "supervisord.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def start_supervisord(foreground: bool = False) -> subprocess.Popen[bytes] | None:
    env = stack_env()
    cmd = [sys.executable, "-m", "supervisor.supervisord", "-c", str(CONF)]
    if foreground:
        return subprocess.Popen([*cmd, "-n"], env=env, cwd=ROOT)
    subprocess.run(cmd, env=env, cwd=ROOT, check=True)
    return None


# -- waiting for readiness ---------------------------------------------------------------
async def wait_ready(services: list[str], timeout: float, quiet: bool = False) -> dict[str, str]:
    """Listen to heartbeats until every service is ready; print one progress line per change."""
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
                    if not quiet:
                        detail = peers.info.get(s, {}).get("problems")
                        extra = f"  ({'; '.join(detail)})" if detail else ""
                        print(f"  {s:<9} {st}{extra}", flush=True)
            if all(peers.is_ready(s) for s in services):
                return shown
            left = deadline - time.monotonic()
            if left <= 0:
                return shown
            with contextlib.suppress(asyncio.TimeoutError):
                peers.update(await asyncio.wait_for(bus.recv_event(), timeout=min(left, 0.5)))
    finally:
        bus.close()


# -- tap --------------------------------------------------------------------------------
class Rate:
    """Frames per second per (source, type) over the last two seconds, for stream summaries."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], deque[float]] = defaultdict(lambda: deque(maxlen=200))

    def tick(self, key: tuple[str, str]) -> float:
        now = time.monotonic()
        q = self.times[key]
        q.append(now)
        while q and now - q[0] > 2.0:
            q.popleft()
        span = now - q[0] if len(q) > 1 else 0
        return (len(q) - 1) / span if span > 0 else 0.0


def format_frame(f: Any, summary: bool, rate: float = 0.0) -> str:
    t = time.strftime("%H:%M:%S")
    head = f"{t} {f.source or '?':<8} {f.type:<18} #{f.seq:<6}"
    if f.turn_id:
        head += f" turn={f.turn_id[:8]}"
    if summary:
        d = dict(f.data)
        nbytes = d.pop("_bytes", 0)
        fields = " ".join(f"{k}={_short(v)}" for k, v in d.items())
        return f"{head} [stream] {nbytes}B {rate:.1f}/s {fields}"
    return f"{head} {json.dumps(f.data, ensure_ascii=False, default=str)[:400]}"


def _short(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 60 else s[:57] + "..."


async def tap(services: set[str], types: set[str], record: Path | None, count: int | None,
              heartbeats: bool = False) -> int:
    """Print the bus live. Heartbeats (several a second) are printed only when a service first
    shows up or its state changes, unless ``heartbeats`` (``--heartbeats``) or ``-t heartbeat``:
    otherwise they drown every other frame. The recording keeps them all."""
    from shared import logs
    from shared.bus import Bus
    from shared.messages import STREAM

    bus = Bus(None)
    bus.subscribe([b""])
    rate = Rate()
    from shared.private import open_private

    out: Any = open_private(record) if record else None  # the recording holds the conversation: 0600
    n = 0
    beat_state: dict[str, str] = {}
    show_beats = heartbeats or "heartbeat" in types
    print("luna tap: listening on the bus (Ctrl+C to stop)"
          + ("" if show_beats else "; heartbeats only on a change (--heartbeats shows all)"),
          file=sys.stderr, flush=True)
    try:
        while count is None or n < count:
            f = await bus.recv_event()
            if services and f.source not in services:
                continue
            if types and f.type not in types:
                continue
            summary = f.spec.kind == STREAM
            r = rate.tick((f.source, f.type)) if summary else 0.0
            quiet = False
            if f.type == "heartbeat" and not show_beats:
                who, state = str(f.get("service") or f.source), str(f.get("state") or "")
                quiet = beat_state.get(who) == state
                beat_state[who] = state
            if not quiet:
                print(logs.redact(format_frame(f, summary, r)), flush=True)
            if out:
                out.write(logs.redact(json.dumps({"type": f.type, "v": f.v, "ts": f.ts, "turn_id": f.turn_id,
                                                   "seq": f.seq, "source": f.source, "data": f.data},
                                                  ensure_ascii=False, default=str)) + "\n")
                out.flush()
            n += 1
    finally:
        bus.close()
        if out:
            out.close()
    return 0


# -- send -------------------------------------------------------------------------------
_CTL_LOCKS: list[int] = []  # the slot locks this process holds (released by the kernel at exit)


def ctl_bus() -> Any:
    """A publisher of its own for this process (issue 13, 7).

    Why: with one fixed ``ctl`` identity every ``luna send`` bound the same socket, and
    each bind unlinked the previous one's: of five parallel sends one was answered.
    Each process now holds one of ``endpoints.CTL_SLOTS``; its frames still say
    ``source="ctl"`` (the UI shows "via luna send").
    """
    import zmq

    from shared import endpoints
    from shared.bus import Bus

    slot, fd = endpoints.claim_ctl()
    _CTL_LOCKS.append(fd)
    bus = Bus(slot)
    bus.name = "ctl"
    if bus.pub_socket is not None:
        bus.pub_socket.setsockopt(zmq.XPUB_VERBOSE, 1)  # see every subscriber arrive (wait_subscribers)
    return bus


async def wait_subscribers(bus: Any, least: float = 0.3, most: float = 3.0) -> int:
    """Wait until subscribers reached this new endpoint (ZeroMQ slow joiner), at most ``most`` seconds."""
    import zmq

    t0 = time.monotonic()
    seen = 0
    while time.monotonic() - t0 < most:
        with contextlib.suppress(zmq.Again):
            while True:
                msg = bus.pub_socket.recv(flags=zmq.NOBLOCK)
                if msg[:1] == b"\x01" and msg[1:4] == b"ev.":
                    seen += 1
        if seen and time.monotonic() - t0 >= least:
            return seen
        await asyncio.sleep(0.02)
    return seen


async def send(text: str, image: str | None, timeout: float) -> int:
    """Publish one user-text from this process's own endpoint and stream the reply to stdout."""
    from shared import config
    from shared.messages import text_too_long

    if text == "-":  # a long text comes on stdin (one argv string stops at 128 KiB on Linux)
        text = sys.stdin.read()
    refused = text_too_long(text, config.load_lenient()[0].LANGUAGE)
    if refused:
        print(f"luna send: {refused}", file=sys.stderr)
        return 2
    bus = ctl_bus()
    bus.subscribe([b"ev.reply-start", b"ev.token", b"ev.reply-end"])
    await wait_subscribers(bus)
    tid = uuid.uuid4().hex
    kw: dict[str, Any] = {"text": text, "queue": True}  # a script waits its turn, never cuts another reply
    if image:
        kw["image"] = image
    bus.publish("user-text", turn_id=tid, **kw)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                f = await asyncio.wait_for(bus.recv_event(), timeout=deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            if f.turn_id != tid:
                continue
            if f.type == "token":
                print(f["text"], end="", flush=True)
            elif f.type == "reply-end":
                print()
                if not f["ok"]:
                    why = "cancelled (Esc or a newer message)" if f.get("cancelled") else f.get("error")
                    print(f"error: {why}", file=sys.stderr)
                    return 1
                return 0
        print("\nerror: no reply within timeout (is the brain running? `make status`)", file=sys.stderr)
        return 2
    finally:
        bus.close()


# -- replay -----------------------------------------------------------------------------
#: What a replay re-publishes by default: what came from the person, so the stack answers again.
REPLAY_INPUTS = {"user-text", "command", "transcript", "speech-start", "speech-end"}
NEVER_REPLAY = {"heartbeat", "ready", "stopping"}  # would fake the health of live services


async def replay(path: Path, speed: float, everything: bool) -> int:
    """Publish a ``tap --record`` file back onto the bus as ``ctl``, keeping its timing."""
    from shared.messages import CATALOGUE, EVENT, FrameError, make

    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    bus = ctl_bus()
    await wait_subscribers(bus)
    sent = skipped = 0
    t0 = rows[0]["ts"] if rows else 0
    start = time.monotonic()
    for row in rows:
        t = row.get("type")
        spec = CATALOGUE.get(t)
        if spec is None or spec.kind != EVENT or t in NEVER_REPLAY or (not everything and t not in REPLAY_INPUTS):
            skipped += 1
            continue
        due = start + (row["ts"] - t0) / 1e9 / max(speed, 1e-6)
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        try:
            bus.publish_frame(make(t, source="ctl", turn_id=row.get("turn_id", ""), **row.get("data", {})))
            sent += 1
        except FrameError as err:
            print(f"skipped a frame: {err}", file=sys.stderr)
            skipped += 1
    await asyncio.sleep(0.3)
    bus.close()
    print(f"replayed {sent} frames ({skipped} skipped)")
    return 0


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
    if not supervisord_running():
        print("starting services (supervisord)...", flush=True)
        start_supervisord()
    else:
        print("services already running; waiting for them...", flush=True)
    from shared.endpoints import SUPERVISED

    shown = asyncio.run(wait_ready(list(SUPERVISED), args.timeout))
    not_ready = [s for s, st in shown.items() if st not in ("ready", "degraded", "no-device")]
    if not_ready:
        print(f"not ready after {args.timeout:.0f}s: {', '.join(not_ready)} (see `make logs`)", flush=True)
    else:
        print("all services ready", flush=True)
    if args.no_ui:
        return 0 if not not_ready else 1
    os.execv(sys.executable, [sys.executable, "-m", "services.ui"])
    return 0


def cmd_down(_: argparse.Namespace) -> int:
    if not supervisord_running():
        print("not running")
        return 0
    r = supervisorctl("shutdown")
    print(r.stdout.strip() or r.stderr.strip())
    env = stack_env()
    pidfile = Path(env["LUNA_RUN_DIR"]) / "supervisord.pid"
    for _ in range(150):
        if not pidfile.exists():
            break
        time.sleep(0.1)
    return 0


def cmd_ctl(*words: str) -> int:
    if not supervisord_running():
        print("Luna is not running (start it with `make up`)")
        return 1
    r = supervisorctl(*words)
    print((r.stdout + r.stderr).strip())
    return 0 if r.returncode in (0, 3) else r.returncode


def cmd_logs(args: argparse.Namespace) -> int:
    logdir = Path(stack_env()["LUNA_LOG_DIR"])
    files = sorted(logdir.glob(f"{args.service or '*'}.out.log"))
    if not files:
        print(f"no logs in {logdir}")
        return 1
    cmd = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + [str(f) for f in files]
    with contextlib.suppress(KeyboardInterrupt):
        return subprocess.call(cmd)
    return 0


def warn_env_readable() -> None:
    """One line (stdout, so `check`'s stderr stays the error channel) if .env holds a key others can read."""
    from shared import config, private

    lang = (os.environ.get("LANGUAGE") or config.load_lenient()[0].LANGUAGE or "pt")
    line = private.env_warning(config.env_file(), lang)
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
    print("config ok")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    """``luna keys [show|add NAME KEY|revoke NAME]``: this install's CURVE key and the admitted ones."""
    from shared import curve

    try:
        if args.action == "add":
            if not args.name or not args.key:
                print("usage: luna keys add NAME PUBLIC_KEY", file=sys.stderr)
                return 2
            print(f"admitted {args.name}: {curve.add(args.name, args.key)}")
            return 0
        if args.action == "revoke":
            if not args.name:
                print("usage: luna keys revoke NAME", file=sys.stderr)
                return 2
            if not curve.revoke(args.name):
                print(f"no admitted key named {args.name!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.name} (new connections with it are refused)")
            return 0
        pub = curve.public_key().decode()
        print(f"this install: {pub}  ({curve.keys_dir()})")
        for name, key in curve.authorized().items():
            if name != curve.NAME:
                print(f"admitted     {key.decode()}  {name}")
        return 0
    except curve.KeyError_ as err:
        print(f"luna keys: {err}", file=sys.stderr)
        return 2


def cmd_route(args: argparse.Namespace) -> int:
    from services.brain.router import route_main  # the brain owns routing; this is only a front door

    return route_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="luna", description="Luna: local-first voice and terminal assistant")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the services and open the UI")
    up.add_argument("--no-ui", action="store_true", help="start and wait, but do not open the UI")
    up.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for readiness")
    up.add_argument("--offline", action="store_true", help="do not fetch missing models first (LUNA_OFFLINE=1)")
    sub.add_parser("models", help="download the configured models (Whisper, Piper voice, Ollama models)")
    sub.add_parser("down", help="stop every service")
    sub.add_parser("status", help="state of each service")
    r = sub.add_parser("restart", help="restart one service; the others keep running")
    r.add_argument("service")
    lg = sub.add_parser("logs", help="show service logs")
    lg.add_argument("service", nargs="?")
    lg.add_argument("-n", "--lines", type=int, default=40)
    lg.add_argument("-f", "--follow", action="store_true")
    w = sub.add_parser("wait", help="wait until services are ready")
    w.add_argument("services", nargs="*")
    w.add_argument("--timeout", type=float, default=600.0)
    sub.add_parser("check", help="validate .env")
    k = sub.add_parser("keys", help="CURVE keys of the tcp bus: show (default), add NAME KEY, revoke NAME")
    k.add_argument("action", nargs="?", default="show", choices=("show", "add", "revoke"))
    k.add_argument("name", nargs="?")
    k.add_argument("key", nargs="?", help="a public key (40 z85 characters) or a .key file")
    t = sub.add_parser("tap", help="watch every frame on the bus")
    t.add_argument("-s", "--service", action="append", default=[], help="only frames from this service")
    t.add_argument("-t", "--type", action="append", default=[], help="only frames of this type")
    t.add_argument("--record", type=Path, help="also append decoded frames to this JSON-lines file")
    t.add_argument("-n", "--count", type=int, help="stop after N frames")
    t.add_argument("--heartbeats", action="store_true", help="print every heartbeat (default: only changes)")
    s = sub.add_parser("send", help="send one message and print the streamed reply")
    s.add_argument("text", help="the message, or - to read it from stdin")
    s.add_argument("--image")
    s.add_argument("--timeout", type=float, default=120.0)
    ro = sub.add_parser("route", help="print which intent (chat/code/vision/system) a text gets")
    ro.add_argument("rest", nargs=argparse.REMAINDER)
    sub.add_parser("catalogue", help="list every frame type on the bus")
    rp = sub.add_parser("replay", help="publish a `tap --record` file back into a running stack")
    rp.add_argument("file", type=Path)
    rp.add_argument("--speed", type=float, default=1.0)
    rp.add_argument("--all", action="store_true", help="every recorded event, not only the person's input")
    dg = sub.add_parser("diagnose", help="report slow operations, overflows, errors from logs or recordings")
    dg.add_argument("files", nargs="*", type=Path)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from shared import private

    private.secure_process()  # recordings, logs and keys this command makes are 0600 in 0700 dirs
    try:
        if args.cmd == "up":
            return cmd_up(args)
        if args.cmd == "down":
            return cmd_down(args)
        if args.cmd == "status":
            return cmd_ctl("status")
        if args.cmd == "restart":
            return cmd_ctl("restart", args.service)
        if args.cmd == "logs":
            return cmd_logs(args)
        if args.cmd == "wait":
            from shared.endpoints import SUPERVISED

            svcs = args.services or list(SUPERVISED)
            shown = asyncio.run(wait_ready(svcs, args.timeout))
            return 0 if all(st in ("ready", "degraded", "no-device") for st in shown.values()) else 1
        if args.cmd == "check":
            return cmd_check(args)
        if args.cmd == "keys":
            return cmd_keys(args)
        if args.cmd == "models":
            from luna.models import fetch_all
            from shared import config

            return 0 if fetch_all(config.load()) else 1
        if args.cmd == "tap":
            return asyncio.run(tap(set(args.service), set(args.type), args.record, args.count, args.heartbeats))
        if args.cmd == "send":
            return asyncio.run(send(args.text, args.image, args.timeout))
        if args.cmd == "route":
            return cmd_route(args)
        if args.cmd == "replay":
            return asyncio.run(replay(args.file, args.speed, args.all))
        if args.cmd == "diagnose":
            from luna.diagnose import default_logs, diagnose

            files = args.files or default_logs()
            if not files:
                print("no logs found (start Luna first, or pass files)")
                return 1
            print(diagnose(files))
            return 0
        if args.cmd == "catalogue":
            from shared.messages import describe

            print(describe())
            return 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `luna tap | head`: the reader left, which is fine
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except Exception as exc:  # one clear line, never a traceback at the user
        print(f"luna {args.cmd}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
