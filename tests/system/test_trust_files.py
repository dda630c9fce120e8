"""Issue 13, parts 2 and 3: another local user reads nothing of Luna's and drives nothing.

* History, logs, keys and recordings are created 0600 in 0700 directories, and
  directories an older Luna left 0755 (with 0644 files) are tightened at start.
* ``luna check`` warns in one line, in the user's language, when ``.env`` holds an
  API key and others can read it; not when it is 0600 or holds no key.
* A second local account (created here with ``useradd``, removed after; the test
  is skipped if we are not root) tries every data file and, in ipc and tcp mode,
  every socket while the owner has a private conversation: every file read is
  refused (a 0644 control file beside them is readable, so the refusal is Luna's
  modes and not the path), every ipc socket refuses to connect, and on tcp its
  keyless client receives 0 frames and its injected frames are never taken.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared import endpoints
from tests.conftest import ROOT, wait_for
from tests.support.fakes.ollama import FakeOllama
from tests.support.stack import Client

pytestmark = pytest.mark.integration

SECRET = "Minha senha do banco é 7731, não conte a ninguém."
ROGUE_TURN = "d" * 32


def luna_env(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_") and not k.endswith("_API_KEY")}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "LUNA_RUN_DIR": str(base / "run"),
                "LUNA_ENV_FILE": str(base / "none.env"), "XDG_CONFIG_HOME": str(base / "config"),
                "XDG_DATA_HOME": str(base / "data"), "XDG_STATE_HOME": str(base / "state"), **extra})
    return env


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


# -- files are private -------------------------------------------------------------------------------
async def test_files_are_private_and_old_ones_tightened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "home"
    old_dir = base / "data" / "luna"
    old_dir.mkdir(parents=True)
    os.chmod(old_dir, 0o755)
    (old_dir / "notes.txt").write_text("de uma versão antiga")
    os.chmod(old_dir / "notes.txt", 0o644)
    (base / "state" / "luna" / "logs").mkdir(parents=True)
    os.chmod(base / "state" / "luna" / "logs", 0o755)
    env = luna_env(base)
    for k in ("LUNA_RUN_DIR", "LUNA_ENV_FILE", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(k, env[k])
    os.umask(0o022)  # the test process's own files are not what is checked
    with FakeOllama(reply=SECRET) as ol:
        brain = subprocess.Popen([sys.executable, "-m", "services.brain"], env={**env, "OLLAMA_HOST": ol.url},
                                 cwd=ROOT, stdout=(tmp_path / "brain.out").open("wb"), stderr=subprocess.STDOUT)
        c = Client()
        try:
            await wait_for(lambda: (hb := c.latest("brain")) is not None and hb["state"] == "ready", 90)
            await c.turn("guarde isto")
            rec = base / "recordings" / "bus.jsonl"
            tap = subprocess.run([sys.executable, "-m", "luna.cli", "tap", "-n", "2", "--record", str(rec)],
                                 env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
            keys = subprocess.run([sys.executable, "-m", "luna.cli", "keys"], env=env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
        finally:
            c.close()
            brain.terminate()
            brain.wait(20)
    assert tap.returncode == 0 and rec.stat().st_size > 0, tap.stderr
    assert keys.returncode == 0 and "this install:" in keys.stdout, keys.stderr
    made = {
        "history": base / "data" / "luna" / "history.db",
        "log": base / "state" / "luna" / "logs" / "brain.jsonl",
        "secret key": base / "config" / "luna" / "keys" / "luna.key_secret",
        "public key": base / "config" / "luna" / "keys" / "luna.key",
        "recording": rec,
        "old file": old_dir / "notes.txt",
    }
    bad = {name: oct(mode(p)) for name, p in made.items() if mode(p) != 0o600}
    assert not bad, bad
    dirs = [old_dir, base / "state" / "luna" / "logs", base / "config" / "luna" / "keys",
            base / "config" / "luna" / "keys" / "authorized", rec.parent]
    bad_dirs = {str(d): oct(mode(d)) for d in dirs if mode(d) != 0o700}
    assert not bad_dirs, bad_dirs
    for p in (base / "data" / "luna").glob("history.db*"):  # the WAL and shared-memory files too
        assert mode(p) & 0o077 == 0, (p, oct(mode(p)))


@pytest.mark.parametrize(("lang", "word"), [("pt", "aviso:"), ("en", "warning:")])
def test_check_warns_once_when_env_with_a_key_is_readable(tmp_path: Path, lang: str, word: str) -> None:
    envfile = tmp_path / ".env"

    def check(content: str, perm: int) -> list[str]:
        envfile.write_text(content)
        os.chmod(envfile, perm)
        env = luna_env(tmp_path, LUNA_ENV_FILE=str(envfile), LANGUAGE=lang)
        r = subprocess.run([sys.executable, "-m", "luna.cli", "check"], env=env, cwd=ROOT, text=True,
                           capture_output=True, timeout=60)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        return [ln for ln in r.stdout.splitlines() if ln.startswith(word)]

    key = "CHAT_PROVIDER=gemini\nGEMINI_API_KEY=gm-a-real-looking-key\n"
    warned = check(key, 0o644)
    assert len(warned) == 1 and str(envfile) in warned[0] and "chmod 600" in warned[0], warned
    assert "gm-a-real-looking-key" not in warned[0]
    assert check(key, 0o600) == []  # private: no warning
    assert check("CHAT_PROVIDER=local\nGEMINI_API_KEY=\n", 0o644) == []  # no key in it: nothing to protect


# -- a second local user -------------------------------------------------------------------------------
READ_ALL = """
import json, os, socket, sys
out = {}
for p in json.loads(sys.argv[1]):
    try:
        if p.endswith(".sock"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(p); s.close(); out[p] = "connected"
        else:
            with open(p, "rb") as f:
                out[p] = "read %d bytes" % len(f.read())
    except OSError as e:
        out[p] = type(e).__name__
for d in json.loads(sys.argv[2]):
    try:
        out[d] = "listed %d" % len(os.listdir(d))
    except OSError as e:
        out[d] = type(e).__name__
print(json.dumps(out))
"""


@pytest.fixture
def other_user():
    if os.getuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        pytest.skip("needs root, useradd and setpriv to act as a second local user")
    name = f"lunarogue{uuid.uuid4().hex[:6]}"
    r = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"useradd failed: {r.stderr.strip()}")
    import pwd

    pw = pwd.getpwnam(name)
    try:
        yield ("setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups")
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("transport", ["ipc", "tcp"])
async def test_second_local_user_gets_nothing(other_user, transport: str, monkeypatch: pytest.MonkeyPatch) -> None:
    base = Path(f"/tmp/luna-trust-{uuid.uuid4().hex[:8]}")  # a 0755 "home": only Luna's own modes protect
    base.mkdir(mode=0o755)
    os.chmod(base, 0o755)
    control = base / "public.txt"
    control.write_text("anyone may read this")
    os.chmod(control, 0o644)
    extra = {"LUNA_BUS": transport, "LUNA_BUS_PORT": str(random.randrange(20000, 40000, 100))}
    env = luna_env(base, **extra)
    for k in ("LUNA_RUN_DIR", "LUNA_ENV_FILE", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", *extra):
        monkeypatch.setenv(k, env[k])
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with FakeOllama(reply=SECRET) as ol:
            for svc, more in (("brain", {"OLLAMA_HOST": ol.url}), ("playback", {"PLAYBACK_FILE": str(base / "o.wav")})):
                procs.append(subprocess.Popen([sys.executable, "-m", f"services.{svc}"], env={**env, **more},
                                              cwd=ROOT, stdout=(base / f"{svc}.out").open("wb"),
                                              stderr=subprocess.STDOUT))
            c = Client()
            try:
                await wait_for(lambda: all((hb := c.latest(s)) is not None and hb["state"] == "ready"
                                           for s in ("brain", "playback")), 90)
                rogue = None
                if transport == "tcp":
                    cfg = {"subscribe": [endpoints.event_endpoint(p) for p in endpoints.PUBLISHERS], "seconds": 7,
                           "curve": "none", "inject_bind": endpoints.event_endpoint("watchdog"),
                           "push": [endpoints.stream_endpoint("pcm")], "inject_text": "ROGUE user",
                           "turn_id": ROGUE_TURN}
                    rogue = subprocess.Popen([*other_user, sys.executable, "-m", "tests.support.rogue",
                                              json.dumps(cfg)], env={**env, "HOME": "/"}, cwd=ROOT, text=True,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    await asyncio.sleep(1.5)
                frames = await c.turn("lembre da minha senha", timeout=60)
                if rogue is not None:
                    out, err = await asyncio.to_thread(rogue.communicate, None, 60)
                    assert rogue.returncode == 0, err
                    got = json.loads(out.strip().splitlines()[-1])
                    await asyncio.sleep(1.2)
            finally:
                c.close()
        assert "7731" in "".join(f["text"] for f in frames if f.type == "token")
        files = [str(p) for p in base.rglob("*") if p.is_file() or p.is_socket()]
        files = [f for f in files if not f.endswith((".out", "public.txt"))] + [str(control)]
        dirs = [str(p) for p in base.rglob("*") if p.is_dir()]
        r = subprocess.run([*other_user, sys.executable, "-c", READ_ALL, json.dumps(files), json.dumps(dirs)],
                           capture_output=True, text=True, timeout=60, cwd="/", env={**env, "HOME": "/"})
        assert r.returncode == 0, r.stderr
        seen = json.loads(r.stdout)
        assert seen.pop(str(control)).startswith("read")  # positive control: the path is traversable
        assert any("history.db" in p for p in seen) and any(p.endswith(".jsonl") for p in seen), seen
        if transport == "ipc":
            assert any(p.endswith(".sock") for p in seen), seen
        else:
            assert any("luna.key_secret" in p for p in seen), seen
        leaked = {p: v for p, v in seen.items() if v != "PermissionError"}
        assert not leaked, leaked
        print(f"\n{transport}: the second user was refused {len(seen)} files, sockets and directories")
        if transport == "tcp":
            assert got["total"] == 0 and got["tried"] > 0, got
            assert not [f for f in c.frames if f.turn_id == ROGUE_TURN or "ROGUE" in str(f.data)]
            assert c.latest("playback")["counters"].get("frames_in", 0) == 0
            print(f"tcp: the second user's keyless client received {got['total']} frames")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(base, ignore_errors=True)
