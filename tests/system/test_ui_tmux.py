"""The UI in a real terminal (tmux): keys arrive as bytes, the screen is read back with capture-pane.

The UI runs as ``python -m services.ui`` (what ``make up`` execs) against the fake brain on the bus.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import ROOT, wait_for
from tests.support.fakes_ui import FakeBrain

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]


class Tmux:
    def __init__(self, env: dict[str, str]) -> None:
        self.name = f"luna-ui-{uuid.uuid4().hex[:8]}"
        self.sock = f"luna-test-{uuid.uuid4().hex[:8]}"
        envs = [a for k, v in env.items() if k.startswith(("LUNA_", "XDG_", "PYTHON")) for a in ("-e", f"{k}={v}")]
        self.run("new-session", "-d", "-s", self.name, "-x", "110", "-y", "32", *envs,
                 # COLUMNS/LINES from pytest's environment would override the pane's real size
                 f"cd {ROOT} && env -u COLUMNS -u LINES TERM=xterm-256color {sys.executable} -m services.ui; "
                 "sleep 30")

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=10).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def kill(self) -> None:
        self.run("kill-server")


async def test_ui_in_tmux_streams_reply_and_keys_work(bus_env) -> None:
    async with FakeBrain(token_delay=0.005) as brain:
        tmux = Tmux(bus_env)
        try:
            await wait_for(lambda: "Escreva para a Luna" in tmux.screen(), 30)
            await wait_for(brain.seen_ui.is_set, 10)
            await wait_for(lambda: "●brain" in tmux.screen(), 10)
            tmux.keys("oi Luna", literal=True)
            tmux.keys("Enter")
            await wait_for(lambda: "Pronto." in tmux.screen(), 15)
            screen = tmux.screen()
            assert "oi Luna" in screen and "print('oi')" in screen
            assert [f["text"] for f in brain.received] == ["oi Luna"]
            tmux.keys("C-c")  # copies (nothing selected): must not quit
            await asyncio.sleep(0.5)
            assert "Escreva para a Luna" in tmux.screen()
            tmux.keys("F2")
            await wait_for(lambda: "Primeira conversa" in tmux.screen(), 10)
            tmux.keys("Escape")
            await wait_for(lambda: "Primeira conversa" not in tmux.screen(), 5)
            tmux.keys("C-q")
            t0 = time.monotonic()
            await wait_for(lambda: "Escreva para a Luna" not in tmux.screen(), 10)
            assert time.monotonic() - t0 < 10
        finally:
            tmux.kill()


async def test_tmux_replies_stay_in_view_and_keys_reach_the_input(bus_env) -> None:
    """Several long turns: the last reply's end is on the screen; Esc from F3, then typing reaches the input."""
    long = "\n\n".join(f"Parágrafo {i} de uma resposta comprida, que ocupa a linha inteira." for i in range(25))
    async with FakeBrain(token_delay=0.001) as brain:
        tmux = Tmux(bus_env)
        try:
            await wait_for(lambda: "Escreva para a Luna" in tmux.screen(), 30)
            await wait_for(brain.seen_ui.is_set, 10)
            await wait_for(lambda: "●brain" in tmux.screen(), 10)
            for n in (1, 2, 3):
                brain.reply = f"{long}\n\n```python\nprint('fim {n}')\n```\n\nFIM-DA-RESPOSTA-{n}"
                tmux.keys(f"pergunta {n}", literal=True)
                tmux.keys("Enter")
                await wait_for(lambda n=n: f"FIM-DA-RESPOSTA-{n}" in tmux.screen(), 30)
            tmux.keys("F3")
            await wait_for(lambda: "Modo código —" in tmux.screen(), 10)
            assert "print('fim 3')" in tmux.screen()
            tmux.keys("Escape")
            await wait_for(lambda: "Modo código —" not in tmux.screen(), 10)
            tmux.keys("/historico", literal=True)
            await wait_for(lambda: "│ /historico" in tmux.screen(), 10)  # inside the input box
            tmux.keys("Enter")
            await wait_for(lambda: "Primeira conversa" in tmux.screen(), 10)
            tmux.keys("Escape")
            await wait_for(lambda: "Primeira conversa" not in tmux.screen(), 10)
            tmux.keys("linha um", literal=True)
            tmux.keys("C-j")
            tmux.keys("linha dois", literal=True)
            await wait_for(lambda: "│ linha dois" in tmux.screen(), 10)
            assert "│ linha um" in tmux.screen()
            tmux.keys("C-q")
        finally:
            tmux.kill()
