"""Shared fixtures: a private bus per test, and helpers to start services as real processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every test runs the bus strictly: a frame carrying a field or nested key that shared/messages/
# and shared/catalogue.py do not declare is rejected, so an undeclared key fails the test that sends it.
os.environ.setdefault("LUNA_STRICT_CATALOGUE", "1")


@pytest.fixture(scope="session")
def models_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per session for the packaged models joined from their PyPI parts (hundreds of MB):
    every brain and stt a test starts would otherwise join them again in its own XDG_DATA_HOME."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def bus_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_cache: Path) -> dict[str, str]:
    """Point the bus, logs and config at a fresh private directory for this test.

    Returns the environment to hand to child processes.
    """
    run = tmp_path / "run"
    env = {
        "LUNA_MODELS_DIR": str(models_cache),
        "LUNA_RUN_DIR": str(run),
        "LUNA_LOG_DIR": str(tmp_path / "logs"),
        "LUNA_ENV_FILE": str(tmp_path / "nonexistent.env"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return full


class Proc:
    """A service started as ``python -m services.<name>`` with its output kept in a file."""

    def __init__(self, name: str, env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.out = logdir / f"{name}.out"
        self.p = subprocess.Popen([sys.executable, "-m", f"services.{name}"], cwd=ROOT, env=env,
                                  stdout=self.out.open("wb"), stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 10) -> int:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    def output(self) -> str:
        return self.out.read_text(errors="replace")


@pytest.fixture
def start_service(bus_env: dict[str, str], tmp_path: Path) -> Iterator:
    """Start services as real processes; all are stopped at the end of the test."""
    procs: list[Proc] = []

    def start(name: str, **extra_env: str) -> Proc:
        p = Proc(name, {**bus_env, **extra_env}, tmp_path)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop()


async def wait_for(pred, timeout: float = 30.0, every: float = 0.05):
    """Poll ``pred`` (sync or async) until truthy; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        res = pred()
        if asyncio.iscoroutine(res):
            res = await res
        if res:
            return res
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(every)
