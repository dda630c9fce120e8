"""What a satellite costs: time to first audio with the microphone and speaker on another host.

The satellite pair of tests/support/netpair.py: two network namespaces joined by a
veth pair (10.77.0.1/30 - 10.77.0.2/30, made for the run and removed after),
capture and playback in one, stt, brain (a fake Ollama, so the LLM's speed is not
measured) and tts in the other, every socket CURVE-encrypted. The baseline, in the
same run, is the same WAV (one question in Piper's voice) with every service
in one namespace on the default ipc bus. Runs alternate baseline and satellite
(``ROUNDS`` each) so a load change on the machine hits both. The figure per turn
is the brain's ``time_to_first_audio_s`` (end of the user's voice on capture's clock
to the first reply sample handed to the satellite's output); both stamps are taken
on the satellite.

On a shared, loaded machine that end-to-end figure moves by hundreds of
milliseconds from turn to turn (Whisper and Piper compete for 2 cores), far more
than the link can add, so the link's own cost is also measured directly: a frame's
round trip between the two hosts (``brain`` on main publishes, ``playback`` on the
satellite answers) over CURVE, against the same round trip on one host over ipc.
A spoken turn crosses the link twice (the microphone's audio in, the reply's PCM
out), so the round trip's extra time is the latency the satellite adds to a turn:
``satellite_ttfa_delta_ms``. The end-to-end figures are ``satellite_e2e_*``.

Needs root (``ip netns``); prints "not available" otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PINGS = 300
TURNS = 1  # one spoken turn per start: each run's turn is alike (the same question, a fresh stack)
ROUNDS = 3


def main() -> dict[str, float]:
    if os.getuid() != 0:
        print("bench_satellite: not available (needs root for network namespaces)")
        return {}
    from tests.support.netpair import NetnsUnavailable, Pair, question_wav, spoken_turn

    with tempfile.TemporaryDirectory(prefix="luna-sat-bench-") as td:
        tmp = Path(td)
        try:
            pair = Pair(tmp)
        except NetnsUnavailable as err:
            print(f"bench_satellite: not available ({err})")
            return {}
        ttfa: dict[str, list[float]] = {"one_host": [], "satellite": []}
        try:
            rtt: dict[str, list[float]] = {"one_host": [], "satellite": []}
            for _ in range(ROUNDS):  # alternating blocks, so a change in the machine's load hits both
                for kind in ("one_host", "satellite"):
                    rtt[kind] += round_trips(pair, kind == "satellite")
            wav = question_wav(tmp / "questions.wav", TURNS)
            for r in range(ROUNDS):
                for kind in ("one_host", "satellite"):
                    run = spoken_turn(pair, wav, split=kind == "satellite", tag=f"{kind}{r}", turns=TURNS)
                    got = [m["stages"]["time_to_first_audio_s"] * 1000 for m in run["all_metrics"]]
                    print(f"  round {r + 1} {kind:<9} ttfa ms: {', '.join(f'{x:.0f}' for x in got)}"
                          f"  (load {os.getloadavg()[0]:.1f})", flush=True)
                    ttfa[kind] += got
        finally:
            pair.close()
    one, sat = statistics.median(ttfa["one_host"]), statistics.median(ttfa["satellite"])
    print(f"time to first audio, median of {len(ttfa['satellite'])} turns: satellite over CURVE {sat:.0f} ms, "
          f"one host (ipc) {one:.0f} ms: {sat - one:+.0f} ms ({sat / one:.2f}x the one-host baseline)")
    r_one, r_sat = (statistics.median(rtt[k]) for k in ("one_host", "satellite"))
    p90 = {k: statistics.quantiles(v, n=10)[-1] for k, v in rtt.items()}
    print(f"frame round trip, median of {len(rtt['satellite'])}: satellite over CURVE {r_sat:.2f} ms (p90 {p90['satellite']:.2f}), "
          f"one host (ipc) {r_one:.2f} ms (p90 {p90['one_host']:.2f}): the link adds {r_sat - r_one:+.2f} ms "
          f"to a turn ({r_sat / r_one:.2f}x the one-host round trip)")
    # the headline: what the link adds to a turn (two crossings = one round trip); the end-to-end
    # difference is kept beside it, but on a loaded machine its noise is far larger than the link
    return {"satellite_ttfa_delta_ms": round(r_sat - r_one, 3),
            "satellite_rtt_ms": round(r_sat, 3), "satellite_one_host_rtt_ms": round(r_one, 3),
            "satellite_e2e_ttfa_ms": round(sat, 1), "satellite_e2e_one_host_ttfa_ms": round(one, 1),
            "satellite_e2e_ttfa_delta_ms": round(sat - one, 1), "satellite_e2e_ttfa_ratio": round(sat / one, 3)}


def round_trips(pair: object, split: bool) -> list[float]:
    """Round-trip times (ms) of PINGS events between main's ``brain`` and the satellite's ``playback``."""
    penv = pair.env("main", split)  # type: ignore[attr-defined]
    senv = pair.env("sat", split) if split else penv  # type: ignore[attr-defined]
    echo = pair.start("sat" if split else "main", [sys.executable, "-m", "bench.bench_satellite", "echo"],  # type: ignore[attr-defined]
                      senv, f"echo-{split}", track=False)
    try:
        r = pair.start("main", [sys.executable, "-m", "bench.bench_satellite", "ping"], penv,  # type: ignore[attr-defined]
                       f"ping-{split}", track=False, stdout=subprocess.PIPE, text=True)
        out, err = r.communicate(timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"ping failed: {err[-800:]}")
        return json.loads(out.strip().splitlines()[-1])
    finally:
        echo.terminate()
        echo.wait(10)


async def _echo() -> None:
    from shared.bus import Bus

    bus = Bus("playback")
    bus.subscribe([b"ev.notice"], publishers=["brain"])
    while True:
        f = await bus.recv_event()
        if f.get("code") == "ping":
            bus.publish("notice", service="playback", level="info", text=f["text"], code="pong")


async def _ping() -> list[float]:
    from shared.bus import Bus

    bus = Bus("brain")
    bus.subscribe([b"ev.notice"], publishers=["playback"])

    async def answer(tag: str, wait: float) -> bool:
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            try:
                f = await asyncio.wait_for(bus.recv_event(), left)
            except asyncio.TimeoutError:
                return False
            if f.get("code") == "pong" and f["text"] == tag:
                return True
        return False

    for i in range(600):  # until both subscriptions are up (ZeroMQ's slow joiner, the CURVE handshakes)
        bus.publish("notice", service="brain", level="info", text=f"warm{i}", code="ping")
        if await answer(f"warm{i}", 0.1):
            break
    out = []
    for i in range(PINGS):
        t0 = time.perf_counter()
        bus.publish("notice", service="brain", level="info", text=f"p{i}", code="ping")
        if await answer(f"p{i}", 2.0):
            out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.005)
    bus.close()
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["echo"]:
        asyncio.run(_echo())
    elif sys.argv[1:] == ["ping"]:
        print(json.dumps(asyncio.run(_ping())), flush=True)
    else:
        main()
