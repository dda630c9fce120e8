"""Helpers to run the whole stack under the real supervisord and drive it as the UI would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from shared.bus import Bus
from tests.conftest import ROOT, wait_for

SUPERVISED = ("capture", "stt", "brain", "tts", "playback")


class Stack:
    """supervisord -n with the five services (and the watchdog) on a private bus under ``tmp``."""

    def __init__(self, tmp: Path, ollama_url: str, **extra_env: str) -> None:
        self.tmp = tmp
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "LUNA_RUN_DIR": str(tmp / "run"), "LUNA_LOG_DIR": str(tmp / "logs"),
            "LUNA_ENV_FILE": str(tmp / "none.env"), "LUNA_PYTHON": sys.executable,
            "XDG_CONFIG_HOME": str(tmp / "config"), "XDG_DATA_HOME": str(tmp / "data"),
            "XDG_STATE_HOME": str(tmp / "state"), "HF_HUB_OFFLINE": "1",
            "OLLAMA_HOST": ollama_url, "FIRST_TOKEN_TIMEOUT": "4", "OLLAMA_TIMEOUT": "20",
            "STT_LANGUAGE": "en", **extra_env,
        }
        (tmp / "logs").mkdir(parents=True, exist_ok=True)
        (tmp / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-n", "-c",
                                      str(ROOT / "supervisord.conf")], env=self.env, cwd=ROOT,
                                     stdout=(tmp / "supervisord.out").open("wb"), stderr=subprocess.STDOUT)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "luna.cli", *args], env=self.env, cwd=ROOT, text=True,
                              capture_output=True, timeout=timeout)

    def pid(self, service: str) -> int:
        out = self.cli("status").stdout
        for line in out.splitlines():
            if line.startswith(service) and "pid" in line:
                return int(line.split("pid", 1)[1].split(",")[0])
        raise AssertionError(f"no pid for {service} in: {out}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted((self.tmp / "logs").glob("*.out.log")))


class Client:
    """Plays the UI: publishes user-text and collects every event."""

    def __init__(self) -> None:
        self.bus = Bus("ui")
        self.bus.subscribe()
        self.frames: list = []
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            self.frames.append(await self.bus.recv_event())

    async def turn(self, text: str, timeout: float = 60) -> list:
        tid = uuid.uuid4().hex
        self.bus.publish("user-text", turn_id=tid, text=text)
        await wait_for(lambda: any(f.type == "reply-end" and f.turn_id == tid for f in self.frames), timeout)
        return [f for f in self.frames if f.turn_id == tid]

    def latest(self, service: str):
        hbs = [f for f in self.frames if f.type == "heartbeat" and f["service"] == service]
        return hbs[-1] if hbs else None

    def close(self) -> None:
        self.task.cancel()
        self.bus.close()


async def client() -> Client:
    c = Client()
    await asyncio.sleep(1.2)  # subscriptions reach every publisher; a heartbeat from each arrives
    return c


def start_stack(tmp: Path, ollama_url: str, timeout: float = 240, **extra_env: str) -> Stack:
    """Start a stack and wait until every service is ready; raise with the logs if not."""
    os.environ["LUNA_RUN_DIR"] = str(tmp / "run")  # for the Bus objects the test creates
    st = Stack(tmp, ollama_url, **extra_env)
    r = st.cli("wait", "--timeout", str(timeout), timeout=timeout + 20)
    if r.returncode != 0:
        st.stop()
        raise AssertionError(f"stack not ready:\n{r.stdout}\n{r.stderr}\n{st.logs()}")
    return st
