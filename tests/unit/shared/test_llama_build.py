"""shared/llama_build.py: the background build's state as make, the brain and the banner read it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shared import llama_build as lb


def stage(venv: Path, log: str = "", pid: int | None = None, rc: str | None = None) -> None:
    venv.mkdir(parents=True, exist_ok=True)
    (venv / lb.LOG).write_text(log)
    if pid is not None:
        Path(f"{venv / lb.LOG}.pid").write_text(str(pid))
    if rc is not None:
        Path(f"{venv / lb.LOG}.rc").write_text(rc)


@pytest.fixture
def sleeper():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield p
    p.kill()
    p.wait()


def test_state_reads_running_finished_failed_and_absent(tmp_path: Path, sleeper) -> None:
    v = tmp_path / "venv"
    assert lb.state(v).state == lb.ABSENT  # never started
    stage(v, "[1/140] Building C object\n...\n[78/140] Building CXX object llama.cpp\n", pid=sleeper.pid)
    b = lb.state(v)
    assert b.building and b.step == "78/140" and b.log == str(v / lb.LOG)
    sleeper.kill()
    sleeper.wait()
    assert lb.state(v).state == lb.ABSENT  # its process is gone and it wrote no status: stopped midway
    stage(v, "[140/140] Linking\n", pid=sleeper.pid, rc="0\n")
    assert lb.state(v) == lb.Build(lb.DONE, "140/140", str(v / lb.LOG))
    stage(v, "error: ninja failed\n", rc="1\n")
    assert lb.state(v).state == lb.FAILED


def test_the_step_is_read_from_the_tail_of_a_long_log(tmp_path: Path) -> None:
    v = tmp_path / "venv"
    stage(v, "[3/140] x\n" + "cmake noise line\n" * 20000 + "[139/140] Linking CXX shared library\n",
          pid=os.getpid())
    assert lb.state(v).step == "139/140"


def test_a_second_start_while_one_runs_starts_nothing(tmp_path: Path, sleeper) -> None:
    v = tmp_path / "venv"
    stage(v, "[5/140] x\n", pid=sleeper.pid)
    said: list[str] = []
    assert lb.start(v, sys.executable, "pt", said.append) == lb.BUILDING
    assert Path(f"{v / lb.LOG}.pid").read_text() == str(sleeper.pid)  # the running build, untouched
    assert said == [f"o llama.cpp já está compilando em segundo plano, log: {v / lb.LOG}"]


def test_wait_shows_each_new_step_and_ends_with_the_build(tmp_path: Path, sleeper) -> None:
    v = tmp_path / "venv"
    stage(v, "[2/140] a\n", pid=sleeper.pid)

    def build() -> None:
        time.sleep(0.3)
        (v / lb.LOG).write_text("[2/140] a\n[90/140] b\n")
        time.sleep(0.3)
        Path(f"{v / lb.LOG}.rc").write_text("0\n")

    said: list[str] = []
    t = threading.Thread(target=build)
    t.start()
    rc = lb.wait(v, sys.executable, "en", poll_s=0.05, out=said.append)
    t.join()
    assert rc == 0 and said == ["  llama.cpp 2/140", "  llama.cpp 90/140"]


def test_wait_on_a_failed_build_shows_its_log_and_says_so(tmp_path: Path, sleeper) -> None:
    v = tmp_path / "venv"
    stage(v, "[2/140] a\nFAILED: ggml.c\nninja: build stopped\n", pid=sleeper.pid)
    threading.Timer(0.2, lambda: Path(f"{v / lb.LOG}.rc").write_text("1\n")).start()
    said: list[str] = []
    assert lb.wait(v, sys.executable, "en", poll_s=0.05, out=said.append) == 1
    assert "ninja: build stopped" in said[-2]
    assert said[-1] == f"llama.cpp did not compile (the lines above); run `make install` again. The whole log: {v / lb.LOG}"


def test_the_wheel_is_installed_only_after_the_main_pip_step(tmp_path: Path) -> None:
    v = tmp_path / "venv"
    v.mkdir()
    (v / ".install-start").write_text("0")
    old = v / lb.DEPS_DONE
    old.touch()
    os.utime(old, (time.time() - 3600, time.time() - 3600))  # the stamp of an earlier install
    os.utime(v / ".install-start", None)
    done: list[int] = []
    t = threading.Thread(target=lambda: done.append(lb._after_deps(v)))
    t.start()
    time.sleep(0.5)
    assert not done  # still waiting: two pips in one venv at once can break it
    old.touch()  # the main pip step ended
    t.join(5)
    assert done == [0]
    (v / lb.DEPS_FAILED).touch()
    os.utime(old, (0, 0))
    assert lb._after_deps(v) == 3  # it failed: give up at once, never hang


def test_the_pin_is_the_one_pyproject_names() -> None:
    assert lb.pin().startswith("llama-cpp-python==") and lb.pin().split("==")[1][0].isdigit()
