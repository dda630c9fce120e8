"""The embedded brain's llama.cpp build: started in the background by ``make``, waited for by ``make install``, watched by the brain.

Why its own job: llama-cpp-python compiles from source, about 7 minutes on an idle
2-core machine and much longer on a busy one, so ``make up`` does not wait for it. The
UI starts as soon as the other packages are in; the brain says "preparing the local
model (llama.cpp 78/140)", keeps what the user says, and answers it once the build has
installed. ``make install`` (and so ``make test``) still waits for the whole build.

One owner of the build's files, all beside the venv (``sys.prefix``), so the Makefile's wait,
the banner and a second ``make`` read the same state: ``llama-build.log`` (pip's verbose
output, with ninja's ``[n/m]`` steps), ``.pid`` (the build while it runs) and ``.rc`` (its
exit status, written once the wheel is built *and* installed). A second start while one
runs does nothing, and a start with the wheel already built only installs it.
Stdlib only: it runs before pip has installed anything (``python -m shared.llama_build``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from shared import i18n

LOG = "llama-build.log"
#: Portable (no -march=native) and without llama.cpp's multimodal library: Luna's vision goes to Ollama or Gemini.
CMAKE_ARGS = "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
#: The main pip step (Makefile) touches this when the rest is installed; the build installs its wheel only after it.
DEPS_DONE = ".install-stamp"
DEPS_FAILED = ".deps-failed"
#: How long a built wheel waits for the main pip step before it gives up (a make stopped midway).
DEPS_WAIT_S = 3 * 3600
_STEP = re.compile(rb"\[(\d+)/(\d+)\]")

BUILDING, FAILED, DONE, ABSENT = "building", "failed", "done", "absent"


@dataclass(frozen=True)
class Build:
    """What the build is doing now; ``step`` is ninja's last ``n/m`` ("" before compiling starts)."""

    state: str
    step: str = ""
    log: str = ""

    @property
    def building(self) -> bool:
        return self.state == BUILDING


def pin(root: Path | None = None) -> str:
    """``llama-cpp-python==X`` as pyproject.toml names it (one place for the version; a regex, not
    tomllib, so it runs on Python 3.10)."""
    root = root or Path(__file__).resolve().parents[1]
    found = re.search(r'"(llama-cpp-python==[0-9][0-9.]*)"', (root / "pyproject.toml").read_text())
    if found is None:
        raise ValueError("pyproject.toml pins no llama-cpp-python==X")
    return found.group(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that number: not ours
        return False
    return True


def last_step(log: Path) -> str:
    """Ninja's last ``[n/m]`` in the log, read from its tail (the log grows to megabytes)."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 65536))
            steps = _STEP.findall(f.read())
    except OSError:
        return ""
    return f"{int(steps[-1][0])}/{int(steps[-1][1])}" if steps else ""


def build_dir() -> Path:
    """Where the build's files are: this venv, or ``LUNA_LLAMA_BUILD_DIR`` (the tests stage a build there)."""
    return Path(os.environ.get("LUNA_LLAMA_BUILD_DIR") or sys.prefix)


def state(venv: Path | None = None) -> Build:
    """The build's state from its files: finished (``.rc``), running (a live ``.pid``) or neither."""
    venv = Path(venv or build_dir())
    log = venv / LOG
    rc = Path(f"{log}.rc")
    if rc.exists():
        code = rc.read_text().strip()
        return Build(DONE if code == "0" else FAILED, last_step(log), str(log))
    try:
        pid = int(Path(f"{log}.pid").read_text().strip())
    except (OSError, ValueError):
        return Build(ABSENT, "", str(log))
    return Build(BUILDING if _alive(pid) else ABSENT, last_step(log), str(log))


def installed() -> bool:
    """Is llama-cpp-python importable by this interpreter (the Makefile runs it as the venv's python), without importing it?"""
    import importlib.util

    importlib.invalidate_caches()
    return importlib.util.find_spec("llama_cpp") is not None


def start(venv: Path, python: str, lang: str = "pt", out=print) -> str:
    """Start the build in the background unless one runs; returns the state it left (BUILDING or what it found)."""
    now = state(venv)
    if now.building:
        out(i18n.say("install.llama-running", lang, log=now.log))
        return BUILDING
    log = venv / LOG
    for suffix in (".rc", ".pid"):
        Path(f"{log}{suffix}").unlink(missing_ok=True)
    with log.open("wb") as f:
        p = subprocess.Popen([python, "-m", "shared.llama_build", "run", str(venv)], stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True, cwd=Path(__file__).resolve().parents[1])
    Path(f"{log}.pid").write_text(str(p.pid))
    out(i18n.say("install.llama-started", lang, log=log))
    return BUILDING


def run(venv: Path) -> int:
    """The build itself (in the background): compile the wheel unless it is kept, wait for the main pip step,
    install the ``embedded`` extra from the kept wheel, and write the exit status."""
    wheels = venv / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    req = pin()
    version = req.split("==", 1)[-1]
    pip = [sys.executable, "-m", "pip"]
    rc = 0
    if not any(wheels.glob(f"llama_cpp_python-{version}-*.whl")):
        env = {**os.environ, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS") or CMAKE_ARGS}
        rc = subprocess.call([*pip, "wheel", "-v", "--no-deps", "-w", str(wheels), req], env=env)
    if rc == 0:
        rc = _after_deps(venv) or subprocess.call([*pip, "install", "--progress-bar", "off", "--find-links",
                                                   str(wheels), "-e", ".[dev,embedded]"])
    Path(f"{venv / LOG}.rc").write_text(f"{rc}\n")
    return rc


def _after_deps(venv: Path) -> int:
    """Wait until the main pip step is done (two pips in one venv at once can break it); 0 when it is."""
    started = (venv / ".install-start").stat().st_mtime if (venv / ".install-start").exists() else 0.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < DEPS_WAIT_S:
        stamp = venv / DEPS_DONE
        if stamp.exists() and stamp.stat().st_mtime >= started:
            return 0
        if (venv / DEPS_FAILED).exists():
            print("the main pip step failed: llama-cpp-python is not installed", flush=True)
            return 3
        time.sleep(2)
    print("gave up waiting for the main pip step", flush=True)
    return 4


def wait(venv: Path, python: str, lang: str = "pt", poll_s: float = 10.0, out=print) -> int:
    """Block until the build has installed, printing each new step; start it if none runs and it is missing."""
    now = state(venv)
    if not now.building and not (now.state == DONE and installed()):  # never started, stopped, or failed: (re)start
        start(venv, python, lang, out)
    shown = None
    while (now := state(venv)).building:
        if now.step != shown:
            out(f"  llama.cpp {now.step or '...'}")
            shown = now.step
        time.sleep(poll_s)
    if now.state == DONE:
        return 0
    out(_tail(Path(now.log)))
    out(i18n.say("install.llama-failed", lang, log=now.log))
    return 1


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cmd = args.pop(0) if args else "state"
    venv = Path(args[0]) if args else build_dir()
    lang = os.environ.get("LANGUAGE", "pt")
    if cmd == "run":
        return run(venv)
    if cmd == "start":
        start(venv, sys.executable, lang)
        return 0
    if cmd == "start-if-missing":  # make up: a build stopped midway (or never run) starts again
        if not installed() and not state(venv).building:
            start(venv, sys.executable, lang)
        return 0
    if cmd == "wait":
        return wait(venv, sys.executable, lang)
    b = state(venv)
    print(b.state, b.step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
