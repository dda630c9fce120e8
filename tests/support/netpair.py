"""A satellite pair in network namespaces: the main host, the satellite, and an outsider.

Three namespaces made for the run and removed after: ``main`` (10.77.0.1/30) and
``sat`` (10.77.0.2/30) joined by one veth pair, and ``rogue`` (10.77.0.6/30) joined
to ``main`` (10.77.0.5/30) by a second one. Only these addresses, inside these
namespaces, are ever used. Each host has its own config dir, so its own CURVE
keypair; each admits the other's public key with ``luna keys add``.

:func:`spoken_turn` runs one spoken turn: stt, brain (against a fake Ollama in
the main namespace) and tts on ``main``, capture (``CAPTURE_FILE``) and playback
(``PLAYBACK_FILE``) on ``sat``, and ``luna tap --record`` on ``main`` as the
observer; with ``split=False`` everything runs on ``main`` over ipc, the one-host
baseline the satellite's latency is compared with.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
MAIN_IP, SAT_IP, MAIN_R_IP, ROGUE_IP = "10.77.0.1", "10.77.0.2", "10.77.0.5", "10.77.0.6"
QUESTION = "What is the capital of France?"
REPLY = "The capital of France is Paris. It is a lovely city."
FAKE_OLLAMA = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.support.fakes.ollama import FakeOllama
f = FakeOllama(reply=sys.argv[2]); f.__enter__(); print(f.url, flush=True)
while True:
    time.sleep(3600)
"""


class NetnsUnavailable(RuntimeError):
    pass


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], text=True, capture_output=True, check=check, timeout=20)


class Pair:
    def __init__(self, tmp: Path) -> None:
        tag = uuid.uuid4().hex[:6]
        self.tmp = tmp
        self.ns = {"main": f"luna-m-{tag}", "sat": f"luna-s-{tag}", "rogue": f"luna-r-{tag}"}
        self.created: list[str] = []
        self.procs: list[subprocess.Popen[Any]] = []
        self.every: list[subprocess.Popen[Any]] = []
        self.port = random.randrange(20000, 40000, 100)
        try:
            for ns in self.ns.values():
                ip("netns", "add", ns)
                self.created.append(ns)
                ip("-n", ns, "link", "set", "lo", "up")
            m, s, r = self.ns["main"], self.ns["sat"], self.ns["rogue"]
            ip("link", "add", f"lm{tag}", "netns", m, "type", "veth", "peer", "name", f"ls{tag}", "netns", s)
            ip("link", "add", f"lx{tag}", "netns", m, "type", "veth", "peer", "name", f"lr{tag}", "netns", r)
            for ns, dev, addr in ((m, f"lm{tag}", MAIN_IP), (s, f"ls{tag}", SAT_IP), (m, f"lx{tag}", MAIN_R_IP),
                                  (r, f"lr{tag}", ROGUE_IP)):
                ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
                ip("-n", ns, "link", "set", dev, "up")
            ip("-n", r, "route", "add", f"{MAIN_IP}/32", "via", MAIN_R_IP)
        except (subprocess.CalledProcessError, FileNotFoundError) as err:
            self.close()
            raise NetnsUnavailable(getattr(err, "stderr", "") or str(err)) from err
        self.keys = {h: self.tmp / h / "config" for h in ("main", "sat")}
        for h in self.keys:
            (self.tmp / h).mkdir(parents=True, exist_ok=True)
        self.public = {h: self.luna(h, "keys").stdout.split()[2] for h in ("main", "sat")}
        assert self.luna("main", "keys", "add", "satellite", "--", self.public["sat"]).returncode == 0
        assert self.luna("sat", "keys", "add", "main", "--", self.public["main"]).returncode == 0

    # -- environments --------------------------------------------------------------------------
    def env(self, host: str, split: bool = True, **extra: str) -> dict[str, str]:
        d = self.tmp / host
        env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_") and not k.endswith("_API_KEY")}
        env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "LUNA_RUN_DIR": str(d / "run"),
                    "LUNA_LOG_DIR": str(d / "logs"), "LUNA_ENV_FILE": str(d / "none.env"),
                    "XDG_CONFIG_HOME": str(d / "config"), "XDG_DATA_HOME": str(d / "data"),
                    "XDG_STATE_HOME": str(d / "state"), "HF_HUB_OFFLINE": "1", "STT_LOCAL": "tiny.en",
                    "STT_LANGUAGE": "en", "FIRST_TOKEN_TIMEOUT": "10"})
        if split:
            me, peer = (MAIN_IP, SAT_IP) if host == "main" else (SAT_IP, MAIN_IP)
            env.update({"LUNA_BUS": "tcp", "LUNA_BUS_HOST": me, "LUNA_BUS_ALLOW_REMOTE": "1",
                        "LUNA_BUS_PORT": str(self.port), "LUNA_PEER_KEY": self.public["sat" if host == "main" else
                                                                                       "main"],
                        ("LUNA_SATELLITE_HOST" if host == "main" else "LUNA_SATELLITE_OF"): peer})
        env.update(extra)
        return env

    def luna(self, host: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "luna.cli", *args], env=self.env(host, split=False),
                              cwd=ROOT, text=True, capture_output=True, timeout=60)

    def start(self, ns: str, args: list[str], env: dict[str, str], log: str, track: bool = True,
              **kw: Any) -> subprocess.Popen[Any]:
        """Run ``args`` in namespace ``ns``; tracked processes are stopped by :meth:`stop_all`."""
        out = kw.pop("stdout", None) or (self.tmp / f"{log}.out").open("wb")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[ns], *args], env=env, cwd=ROOT, stdout=out,
                             stderr=subprocess.STDOUT if out is not subprocess.PIPE else subprocess.PIPE, **kw)
        if track:
            self.procs.append(p)
        self.every.append(p)
        return p

    def service(self, ns: str, name: str, env: dict[str, str], tag: str) -> subprocess.Popen[Any]:
        return self.start(ns, [sys.executable, "-m", f"services.{name}"], env, f"{tag}-{name}")

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def close(self) -> None:
        self.procs = [p for p in self.every if p.poll() is None]
        self.stop_all()
        for ns in self.created:
            ip("netns", "del", ns, check=False)
        self.created.clear()

    def main_ports(self) -> list[str]:
        from shared import endpoints

        return [f"tcp://{MAIN_IP}:{self.port + endpoints._TCP_OFFSETS[f'ev-{p}']}"
                for p in endpoints.PUBLISHERS if p not in endpoints.SATELLITE_SERVICES]


def read_recording(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def wait_rows(path: Path, pred: Callable[[list[dict[str, Any]]], Any], timeout: float, what: str,
              alive: Callable[[], str | None] = lambda: None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        rows = read_recording(path)
        res = pred(rows)
        if res:
            return res
        dead = alive()
        if dead or time.monotonic() > deadline:
            seen = sorted({(r["source"], r["type"]) for r in rows})
            raise AssertionError(f"{what} not seen within {timeout}s ({dead or 'timeout'}); seen: {seen}")
        time.sleep(0.25)


def ready(rows: list[dict[str, Any]], svc: str) -> bool:
    return any(r["type"] == "heartbeat" and r["data"].get("service") == svc
               and r["data"].get("state") in ("ready", "degraded", "no-device") for r in rows)


def spoken_turn(pair: Pair, wav: Path, split: bool, tag: str,
                during: Callable[[], None] | None = None, turns: int = 1) -> dict[str, Any]:
    """``turns`` spoken turns (one per question in ``wav``); returns the recording's rows, every
    turn's metrics (``metrics``: the first, ``all_metrics``: each) and the playback file."""
    sat_ns = "sat" if split else "main"
    out_wav = pair.tmp / f"{tag}-reply.wav"
    rec = pair.tmp / f"{tag}-bus.jsonl"
    menv = pair.env("main", split)
    senv = pair.env("sat", split) if split else menv
    ol = pair.start("main", [sys.executable, "-c", FAKE_OLLAMA, str(ROOT), REPLY], menv, f"{tag}-ollama",
                    stdout=subprocess.PIPE, text=True)
    url = ol.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    tap = pair.start("main", [sys.executable, "-m", "luna.cli", "tap", "--record", str(rec)], menv, f"{tag}-tap")
    for name in ("stt", "brain", "tts"):
        pair.service("main", name, {**menv, "OLLAMA_HOST": url}, tag)
    pair.service(sat_ns, "playback", {**senv, "PLAYBACK_FILE": str(out_wav)}, tag)

    def alive() -> str | None:
        dead = [p.args for p in pair.procs if p.poll() is not None]
        return f"exited: {dead}" if dead else None

    try:
        wait_rows(rec, lambda rows: all(ready(rows, s) for s in ("stt", "brain", "tts", "playback")), 180,
                  "stt, brain, tts and playback ready", alive)
        pair.service(sat_ns, "capture", {**senv, "CAPTURE_FILE": str(wav)}, tag)
        wait_rows(rec, lambda rows: ready(rows, "capture"), 60, "capture ready", alive)
        if during:
            during()
        def done(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            got = [r for r in rows if r["type"] == "turn-metrics"
                   and "time_to_first_audio_s" in (r["data"].get("stages") or {})]
            return got if len(got) >= turns else []

        metrics = wait_rows(rec, done, 60 + 60 * turns, f"{turns} spoken turns' turn-metrics", alive)
        wait_rows(rec, lambda rows: [r for r in rows if r["type"] == "idle" and r["ts"] > metrics[-1]["ts"]]
                  or len([r for r in rows if r["type"] == "idle"]) >= turns, 60, "playback idle", alive)
        time.sleep(1.5)
    finally:
        pair.stop_all()
        del tap
    rows = read_recording(rec)
    return {"rows": rows, "metrics": metrics[0]["data"], "all_metrics": [m["data"] for m in metrics],
            "reply_wav": out_wav,
            "logs": {p.name: p.read_text(errors="replace")[-2000:] for p in pair.tmp.glob(f"{tag}-*.out")}}


def question_wav(path: Path, times: int = 1) -> Path:
    """``QUESTION`` in Piper's voice ``times`` times, each followed by room for the spoken reply."""
    import numpy as np

    from tests.support.audio import piper_speech, silence, to_16k, write_wav

    q = to_16k(*piper_speech(QUESTION))
    audio = np.concatenate([silence(1.0)] + [np.concatenate([q, silence(7.0 if times > 1 else 4.0)])
                                             for _ in range(times)])
    return write_wav(path, audio, 16000)
