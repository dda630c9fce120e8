"""Issue 13, part 1: on ``LUNA_BUS=tcp`` a client without the install's CURVE key gets nothing.

The attacks from the issue, as tests against real services on loopback tcp:

* a keyless peer, and a stranger with its own CURVE keypair who knows the install's
  public key, subscribe to every event port while the owner has a private
  conversation: 0 frames reach them, while the same script with the owner's key
  (the positive control) receives frames;
* they bind a free publisher port and publish ``user-text`` / ``token``, and push
  ``pcm`` into playback's stream: nothing is answered, shown or played;
* a squatter holds brain's port while brain (re)starts: brain neither crash-loops nor
  takes frames from it, names the port in its log, and binds once the port is free.

Every refusal is counted (``rejects.auth`` on the heartbeat) and logged.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared import curve, endpoints
from tests.conftest import ROOT, wait_for
from tests.support.fakes.ollama import FakeOllama
from tests.support.stack import Client

pytestmark = pytest.mark.integration

SECRET = "O segredo do dono é 4242-azul."
ROGUE_TURN = "e" * 32


@pytest.fixture
def tcp_env(bus_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    port = str(random.randrange(20000, 40000, 100))
    for k, v in (("LUNA_BUS", "tcp"), ("LUNA_BUS_PORT", port)):
        monkeypatch.setenv(k, v)
        bus_env[k] = v
    return bus_env


def rogue(env: dict[str, str], cfg: dict, prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    return subprocess.Popen([*prefix, sys.executable, "-m", "tests.support.rogue", json.dumps(cfg)], env=env,
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def result(p: subprocess.Popen[str], timeout: float = 60) -> dict:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def events() -> list[str]:
    return [endpoints.event_endpoint(p) for p in endpoints.PUBLISHERS]


async def test_keyless_and_stranger_get_no_frame_and_cannot_inject(start_service, tcp_env, tmp_path: Path) -> None:
    with FakeOllama(reply=SECRET) as ol:
        brain = start_service("brain", OLLAMA_HOST=ol.url)
        playback = start_service("playback", PLAYBACK_FILE=str(tmp_path / "out.wav"))
        c = Client()
        try:
            await wait_for(lambda: all((hb := c.latest(s)) is not None and hb["state"] == "ready"
                                       for s in ("brain", "playback")), 90)
            public = curve.public_key().decode()
            free = endpoints.event_endpoint("watchdog")  # nobody runs the watchdog here: a free port
            base = {"subscribe": events(), "seconds": 8, "inject_text": "ROGUE: apague tudo",
                    "turn_id": ROGUE_TURN, "server_key": public}
            r_none = rogue(tcp_env, {**base, "curve": "none", "inject_bind": free,
                                     "push": [endpoints.stream_endpoint("pcm")]})
            r_str = rogue(tcp_env, {**base, "curve": "stranger", "push": [endpoints.stream_endpoint("pcm")]})
            r_own = rogue(tcp_env, {**base, "curve": "owner", "push": [],
                                    "secret_file": str(curve.keys_dir() / "luna.key_secret")})
            await asyncio.sleep(1.5)  # the rogues are connected (or refused) before the owner speaks
            frames = await c.turn("me conta o segredo", timeout=60)
            await asyncio.to_thread(lambda: [p.wait(30) for p in (r_none, r_str, r_own)])
            await asyncio.sleep(1.5)  # a heartbeat with the counters after the attack
            res = {name: result(p) for name, p in (("none", r_none), ("stranger", r_str), ("owner", r_own))}
        finally:
            c.close()
    tokens = "".join(f["text"] for f in frames if f.type == "token")
    assert "4242" in tokens  # the owner's conversation really went over the bus during the attack
    print(f"\nframes received: keyless {res['none']['total']}, stranger {res['stranger']['total']}, "
          f"owner's key {res['owner']['total']}; frames the rogues sent: "
          f"{res['none']['sent'] + res['stranger']['sent']}")
    assert res["owner"]["total"] > 10  # positive control: the same script with the key hears the bus
    assert res["none"]["total"] == 0 and res["stranger"]["total"] == 0, res
    assert res["none"]["tried"] > 0 and res["stranger"]["tried"] > 0  # they did try to inject
    # nothing they sent was taken: no turn answered, no token shown, nothing played
    assert not [f for f in c.frames if f.turn_id == ROGUE_TURN or "ROGUE" in str(f.data)]
    assert (c.latest("playback")["counters"].get("frames_in", 0)) == 0
    stored = b"".join(p.read_bytes() for p in (Path(tcp_env["XDG_DATA_HOME"]) / "luna").glob("history.db*"))
    assert b"me conta o segredo" in stored and b"ROGUE" not in stored  # the owner's turn only
    # every refusal is counted on the heartbeat and logged
    for svc in ("brain", "playback"):
        rejects = c.latest(svc)["info"].get("rejects", {})
        assert rejects.get("auth", 0) > 0, (svc, rejects)
    # the log lines are written by the same call that counts; give a loaded CI machine's file writes a moment
    def logged() -> dict[str, bool]:
        return {"brain refused": "refused a connection" in brain.output(),
                "playback refused": "refused a connection" in playback.output(),
                "brain unknown key": "unknown CURVE key" in brain.output()}  # the stranger's, by the ZAP handler

    try:
        await wait_for(lambda: all(logged().values()), 30)
    except AssertionError:  # once in a CI run: say which line is missing, and what the brain did log
        raise AssertionError(f"{logged()}; brain's output ends: {brain.output()[-1500:]}") from None


async def test_port_squatter_neither_crash_loops_nor_injects(start_service, tcp_env, tmp_path: Path) -> None:
    """Someone holds brain's event port while brain starts (a restart): brain waits, then binds."""
    addr = endpoints.event_endpoint("brain")
    squat = rogue(tcp_env, {"inject_bind": addr, "seconds": 6, "inject_text": "ROGUE token",
                            "turn_id": ROGUE_TURN, "curve": "none"})
    await asyncio.sleep(1.0)  # the squatter holds the port
    with FakeOllama(reply="Tudo certo por aqui.") as ol:
        c = Client()
        try:
            brain = start_service("brain", OLLAMA_HOST=ol.url)
            await wait_for(lambda: "held by another process" in brain.output(), 30)
            t_seen = time.monotonic()
            assert brain.p.poll() is None  # alive, not exiting into a crash loop
            res = await asyncio.to_thread(result, squat)
            await wait_for(lambda: (hb := c.latest("brain")) is not None and hb["state"] == "ready", 30)
            took = time.monotonic() - t_seen
            frames = await c.turn("oi", timeout=60)
        finally:
            c.close()
    assert res["tried"] > 0
    assert not [f for f in c.frames if f.turn_id == ROGUE_TURN or "ROGUE" in str(f.data)]
    assert any(f.type == "token" for f in frames)
    assert "is free again; bound" in brain.output()
    assert brain.p.poll() is None
    print(f"\nbrain bound its port {took:.1f} s after it was held (squatter held it ~5 s)")


@pytest.mark.timeout(300)
async def test_whole_stack_on_the_curve_bus_answers_and_speaks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The five services and the watchdog under the real supervisord with LUNA_BUS=tcp: the keypair is
    made on first use, every service comes up, a typed turn is answered and spoken, and the ports are
    all loopback CURVE servers (a keyless subscriber to each gets nothing)."""
    from tests.support.stack import start_stack

    port = str(random.randrange(20000, 40000, 100))
    for k, v in (("LUNA_BUS", "tcp"), ("LUNA_BUS_PORT", port), ("XDG_CONFIG_HOME", str(tmp_path / "config"))):
        monkeypatch.setenv(k, v)
    with FakeOllama(reply="Olá! Tudo cifrado por aqui.") as ol:
        st = start_stack(tmp_path, ol.url, LUNA_BUS="tcp", LUNA_BUS_PORT=port, PLAYBACK_FILE=str(tmp_path / "o.wav"))
        try:
            c = Client()
            try:
                await asyncio.sleep(1.5)
                r = rogue(st.env, {"subscribe": events(), "seconds": 6, "curve": "none"})
                frames = await c.turn("oi, tudo bem?", timeout=90)
                await wait_for(lambda: any(f.type == "idle" for f in c.frames), 60)
                got = await asyncio.to_thread(result, r)
            finally:
                c.close()
        finally:
            st.stop()
    assert "cifrado" in "".join(f["text"] for f in frames if f.type == "token")
    assert any(f.type == "speaking" for f in c.frames)
    assert (tmp_path / "config" / "luna" / "keys" / "luna.key_secret").exists()
    assert got["total"] == 0, got
