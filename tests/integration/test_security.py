"""Security: a bad .env fails at startup with one line, the bus is private, API keys never leak.

* ``luna check`` / ``luna up --no-ui`` with a bad ``.env`` exit non-zero with exactly
  one stderr line naming the key.
* ipc endpoints live in a 0700 directory: another user (``nobody``) cannot connect
  to a service's socket (EACCES), while the owner can.
* ``LUNA_BUS=tcp`` binds 127.0.0.1 only: the services run inside a network namespace
  we create, joined by a veth pair (10.x addresses only inside our namespaces) to a
  second namespace; from there the bus ports are refused while a control listener
  on the same address answers.
* a canary ``GEMINI_API_KEY`` that the (fake) provider echoes back in its 401 never
  shows up in a log file, the tap output or a ``tap --record`` recording.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared import config
from tests.conftest import ROOT, wait_for
from tests.support.fakes.gemini import FakeGemini
from tests.support.fakes.ollama import FakeOllama
from tests.support.procnet import listening_tcp
from tests.support.stack import Client

SYS_PY = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The test's environment without any Luna setting (config keys would override the .env)."""
    keys = {k.name for k in config.KEYS} if hasattr(config, "KEYS") else set()
    env = {k: v for k, v in os.environ.items()
           if k not in keys and not k.endswith("_API_KEY") and not k.startswith("LUNA_")
           and not k.endswith("_PROVIDER")}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "LUNA_RUN_DIR": str(tmp / "run"),
                "LUNA_LOG_DIR": str(tmp / "logs"), "XDG_CONFIG_HOME": str(tmp / "config"),
                "XDG_DATA_HOME": str(tmp / "data"), "XDG_STATE_HOME": str(tmp / "state"),
                "LUNA_PYTHON": sys.executable, **extra})
    return env


# -- 1. a bad .env -------------------------------------------------------------------------------
BAD_ENVS = [
    pytest.param("CHAT_PROVIDER=claude\n", "CHAT_PROVIDER", id="unknown-provider"),
    pytest.param("CHAT_TEMPERATURE=quente\n", "CHAT_TEMPERATURE", id="temperature-not-a-number"),
    pytest.param("CHAT_PROVIDER=gemini\n", "GEMINI_API_KEY", id="paid-provider-without-key"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cmd", [["check"], ["up", "--no-ui", "--timeout", "5"]], ids=["check", "up"])
@pytest.mark.parametrize(("content", "key"), BAD_ENVS)
def test_bad_env_is_one_line_naming_the_key(tmp_path: Path, cmd: list[str], content: str, key: str) -> None:
    envfile = tmp_path / "bad.env"
    envfile.write_text(content)
    env = clean_env(tmp_path, LUNA_ENV_FILE=str(envfile))
    r = subprocess.run([sys.executable, "-m", "luna.cli", *cmd], env=env, cwd=ROOT, text=True,
                       capture_output=True, timeout=50)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert len(lines) == 1 and key in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    # ``up`` refused before starting anything
    assert not (tmp_path / "logs" / "supervisor.sock").exists()


@pytest.mark.timeout(60)
def test_good_env_passes_check(tmp_path: Path) -> None:
    envfile = tmp_path / "good.env"
    envfile.write_text("CHAT_PROVIDER=gemini\nGEMINI_API_KEY=gm-some-key-123\nCHAT_TEMPERATURE=0.7\n")
    r = subprocess.run([sys.executable, "-m", "luna.cli", "check"], cwd=ROOT, text=True, capture_output=True,
                       env=clean_env(tmp_path, LUNA_ENV_FILE=str(envfile)), timeout=50)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


# -- 2. the ipc bus is private to its user -------------------------------------------------------
CONNECT_UNIX = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(type(e).__name__, e.errno); sys.exit(3)
print("connected")
"""


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_ipc_endpoints_refuse_another_user(start_service, bus_env, tmp_path: Path) -> None:
    if os.getuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv (util-linux) to act as another user")
    start_service("brain", OLLAMA_HOST="http://127.0.0.1:9", LLM_GGUF=str(tmp_path / "none.gguf"))
    run = Path(bus_env["LUNA_RUN_DIR"])
    sock = run / "ev-brain.sock"
    await wait_for(sock.exists, 60)
    st = run.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()

    def connect(*prefix: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*prefix, SYS_PY, "-c", CONNECT_UNIX, str(sock)], text=True, capture_output=True,
                              timeout=20, cwd="/")

    own = connect()
    assert own.returncode == 0 and "connected" in own.stdout, own  # the socket is live for its owner
    other = connect("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    assert other.returncode == 3 and "PermissionError 13" in other.stdout, (other.stdout, other.stderr)


# -- 3. LUNA_BUS=tcp: loopback only, unreachable from another network namespace -------------------
def _ns(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], text=True, capture_output=True, check=check, timeout=20)


CONNECT_TCP = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
except OSError as e:
    print(type(e).__name__); sys.exit(3)
print("connected")
"""

LISTEN_ANY = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8); print("listening", flush=True)
while True:
    c, _ = s.accept(); c.close()
"""


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_tcp_bus_is_loopback_only_and_refused_from_another_namespace(tmp_path: Path) -> None:
    if os.getuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and iproute2 to create network namespaces")
    tag = uuid.uuid4().hex[:6]
    ns_a, ns_b = f"luna-a-{tag}", f"luna-b-{tag}"
    veth_a, veth_b = f"lva{tag}", f"lvb{tag}"
    net = random.randint(0, 250)
    addr_a, addr_b = f"10.213.{net}.1", f"10.213.{net}.2"
    base = random.randrange(40000, 60000, 100)
    procs: list[subprocess.Popen[bytes]] = []
    created: list[str] = []
    try:
        try:
            for ns in (ns_a, ns_b):
                _ns("netns", "add", ns)
                created.append(ns)
                _ns("-n", ns, "link", "set", "lo", "up")
            _ns("link", "add", veth_a, "netns", ns_a, "type", "veth", "peer", "name", veth_b, "netns", ns_b)
            _ns("-n", ns_a, "addr", "add", f"{addr_a}/30", "dev", veth_a)
            _ns("-n", ns_b, "addr", "add", f"{addr_b}/30", "dev", veth_b)
            _ns("-n", ns_a, "link", "set", veth_a, "up")
            _ns("-n", ns_b, "link", "set", veth_b, "up")
        except subprocess.CalledProcessError as err:
            pytest.skip(f"cannot create network namespaces/veth here: {err.stderr.strip()}")

        env = clean_env(tmp_path, LUNA_BUS="tcp", LUNA_BUS_PORT=str(base), LUNA_ENV_FILE=str(tmp_path / "none.env"),
                        OLLAMA_HOST="http://127.0.0.1:9", LLM_GGUF=str(tmp_path / "none.gguf"),
                        PLAYBACK_FILE=str(tmp_path / "out.wav"), HF_HUB_OFFLINE="1")
        for svc in ("brain", "playback"):
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns_a, sys.executable, "-m", f"services.{svc}"],
                                          env=env, cwd=ROOT, stdout=(tmp_path / f"{svc}.out").open("wb"),
                                          stderr=subprocess.STDOUT))
        from shared import endpoints
        ports = {"brain": base + endpoints._TCP_OFFSETS["ev-brain"],
                 "playback": base + endpoints._TCP_OFFSETS["ev-playback"],
                 "pcm": base + endpoints._TCP_OFFSETS["st-pcm"]}

        def bound() -> list[tuple[str, int]]:
            return [x for p in procs for x in listening_tcp(p.pid)]

        deadline = time.monotonic() + 90
        while {p for _, p in bound()} < set(ports.values()):
            assert all(p.poll() is None for p in procs), [(tmp_path / f"{s}.out").read_text() for s in
                                                          ("brain", "playback")]
            assert time.monotonic() < deadline, f"bus ports never listened: {bound()}"
            time.sleep(0.2)
        held = bound()
        print("listening:", held)
        assert held and all(a == "127.0.0.1" for a, _ in held), held

        def connect(ns: str, host: str, port: int) -> str:
            r = subprocess.run(["ip", "netns", "exec", ns, SYS_PY, "-c", CONNECT_TCP, host, str(port)],
                               text=True, capture_output=True, timeout=20)
            return r.stdout.strip()

        # positive controls: loopback inside the services' namespace reaches the bus, and the
        # veth path works (a listener on 0.0.0.0 in ns_a answers ns_b)
        assert connect(ns_a, "127.0.0.1", ports["brain"]) == "connected"
        ctl = subprocess.Popen(["ip", "netns", "exec", ns_a, SYS_PY, "-c", LISTEN_ANY, str(base + 99)],
                               stdout=subprocess.PIPE, text=True)
        procs.append(ctl)  # type: ignore[arg-type]
        assert ctl.stdout is not None and ctl.stdout.readline().strip() == "listening"
        assert connect(ns_b, addr_a, base + 99) == "connected"
        for name, port in ports.items():
            assert connect(ns_b, addr_a, port) == "ConnectionRefusedError", name
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in created:
            _ns("netns", "del", ns, check=False)


# -- 4. a canary API key never leaks ---------------------------------------------------------------
CANARY = "AIzaCANARY-" + uuid.uuid4().hex


class EchoingGemini(FakeGemini):
    """A Gemini that answers 401 and, like some real APIs, echoes the key it got in the error."""

    def handle(self, h: Any, method: str, path: str, body: Any) -> None:
        key = h.headers.get("x-goog-api-key") or ""
        self.send_json(h, {"error": {"code": 401, "message": f"API key not valid: {key!r} was rejected",
                                     "status": "UNAUTHENTICATED", "details": [{"key": key}]}}, 401)


@pytest.mark.integration
@pytest.mark.timeout(180)
async def test_canary_key_never_reaches_logs_tap_or_recording(start_service, bus_env, tmp_path: Path) -> None:
    rec = tmp_path / "bus.jsonl"
    with EchoingGemini() as gem, FakeOllama(reply="Sem Gemini hoje, respondo eu.") as ol:
        start_service("brain", GEMINI_API_KEY=CANARY, CHAT_PROVIDER="gemini", GEMINI_BASE_URL=gem.url,
                      OLLAMA_HOST=ol.url, LOG_LEVEL="DEBUG", FIRST_TOKEN_TIMEOUT="10")
        # the tap runs without the key in its environment: it shows the bus as it is, unredacted
        tap_env = {k: v for k, v in bus_env.items() if k != "GEMINI_API_KEY"}
        tap = subprocess.Popen([sys.executable, "-m", "luna.cli", "tap", "--record", str(rec)], env=tap_env,
                               cwd=ROOT, stdout=(tmp_path / "tap.out").open("wb"), stderr=subprocess.STDOUT)
        c = Client()
        try:
            await wait_for(lambda: (hb := c.latest("brain")) is not None and hb["state"] == "ready", 90)
            await asyncio.sleep(1.0)
            frames = await c.turn("oi, quem responde?", timeout=90)
            end = next(f for f in frames if f.type == "reply-end")
            await asyncio.sleep(1.5)
        finally:
            c.close()
            tap.send_signal(signal.SIGINT)
            try:
                tap.wait(10)
            except subprocess.TimeoutExpired:
                tap.kill()
    # the key really went out and came back in the error (the leak had a chance to happen)
    assert any(r["headers"].get("x-goog-api-key") == CANARY for r in gem.requests), gem.requests[:1]
    assert end["ok"] and end["provider"] == "ollama", end.data  # fallback answered
    start = next(f for f in frames if f.type == "reply-start")
    assert "GEMINI_API_KEY" in (start.get("notice") or ""), start.data  # the person is told why
    assert rec.exists() and rec.stat().st_size > 0 and "reply-end" in rec.read_text()
    assert "reply-end" in (tmp_path / "tap.out").read_text()
    checked = []
    for p in tmp_path.rglob("*"):
        if p.is_file():
            checked.append(p.name)
            assert CANARY.encode() not in p.read_bytes(), f"canary key leaked into {p}"
    assert {"brain.jsonl", "brain.out", "tap.out", "bus.jsonl"} <= set(checked), checked
