"""Services left running without supervisord are found, named and stopped (issue 13, kill -9 of supervisord).

The "services" here are sleeping interpreters whose command line ends in
``-m services.<name>`` (what :mod:`luna.orphans` reads in /proc) started with a
runtime dir of their own, so no real stack is needed; the full story (kill -9,
``luna up``, one process per service, chat and history intact) is in
tests/system/test_trust_stack.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from luna import orphans
from tests.conftest import ROOT

SLEEP = "import time; time.sleep(120)"


def fake_service(name: str, run: Path, tmp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LUNA_RUN_DIR": str(run)}
    return subprocess.Popen([sys.executable, "-c", SLEEP, "-m", f"services.{name}"], env=env, cwd=tmp)


@pytest.fixture
def procs(tmp_path: Path):
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        p.kill()
        p.wait(5)


def cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_") and k != "LANGUAGE"}
    env.update({"PYTHONPATH": str(ROOT), "LUNA_RUN_DIR": str(tmp / "run"), "LUNA_LOG_DIR": str(tmp / "logs"),
                "LUNA_ENV_FILE": str(tmp / "none.env"), "XDG_CONFIG_HOME": str(tmp / "config"),
                "XDG_STATE_HOME": str(tmp / "state"), "XDG_DATA_HOME": str(tmp / "data")})
    return subprocess.run([sys.executable, "-m", "luna", *args], env=env, cwd=ROOT, text=True,
                          capture_output=True, timeout=60)


def test_finds_only_this_installs_services_and_stops_them(tmp_path: Path, procs) -> None:
    run, other = tmp_path / "run", tmp_path / "other-run"
    run.mkdir(mode=0o700)
    other.mkdir(mode=0o700)
    mine = [fake_service(n, run, tmp_path) for n in ("brain", "tts", "watchdog")]
    theirs = fake_service("brain", other, tmp_path)  # another stack (a test's, a second checkout): never touched
    procs.extend([*mine, theirs])
    time.sleep(0.5)
    found = orphans.orphans(run, None)
    assert found == {p.pid: n for p, n in zip(mine, ("brain", "tts", "watchdog"), strict=True)}
    assert orphans.orphans(run, os.getpid()) == {}  # their live parent (here: this test) owns them all
    assert orphans.orphans(run, os.getppid()) == found  # a live supervisord that is not their parent owns none
    assert orphans.stop(found, grace=5) == []  # SIGTERM was enough
    for p in mine:
        assert p.wait(5) is not None
    assert theirs.poll() is None
    assert orphans.orphans(run, None) == {}
    line = orphans.line("stopped", found)
    assert line.startswith("o supervisord tinha parado: encerrei 3 serviço(s)") and "brain (" in line


def test_status_names_the_orphans_and_down_stops_them(tmp_path: Path, procs) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    procs.extend(fake_service(n, tmp_path / "run", tmp_path) for n in ("stt", "brain"))
    time.sleep(0.5)
    r = cli(tmp_path, "status")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("o supervisord não está rodando, mas 2 serviço(s) do Luna"), r
    assert "stt (" in lines[0] and "brain (" in lines[0] and "`luna up`" in lines[0]
    assert r.returncode == 1
    r = cli(tmp_path, "down")
    assert "encerrei 2 serviço(s)" in r.stdout, r
    for p in procs:
        assert p.wait(10) is not None
    r = cli(tmp_path, "status")
    assert r.stdout.strip() == "o Luna não está rodando (inicie com `make up`)", r
