"""Bus hop cost: Luna's bus code vs raw pyzmq with the same pattern, measured in the same run.

Patterns: 20 ms audio frames (640 B PCM) over push/pull, and token events over
pub/sub. Each is sent from this process to a receiver in another process (as
between two services), flood (as fast as the socket takes them) and paced at
50 Hz. The raw baseline uses the same socket types, the same multipart shape (a small
header part plus the 640 B PCM part for audio; topic plus body for events), the
same asyncio receive loop, but no envelope, no msgpack, no validation.
One-way latency uses CLOCK_MONOTONIC, which is shared by all processes.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import struct
import tempfile
import time
from typing import Any

FLOOD_N = 30_000
PACED_N = 250
PCM = b"\x01\x00" * 320


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


# -- receiver (child process) -------------------------------------------------------------
def _receiver(mode: str, pattern: str, n: int, ready: Any, out: Any) -> None:
    asyncio.run(_receive(mode, pattern, n, ready, out))


async def _receive(mode: str, pattern: str, n: int, ready: Any, out: Any) -> None:
    import zmq
    import zmq.asyncio

    from shared import endpoints
    from shared.bus import Bus

    lat: list[float] = []
    got = 0
    t_first = t_last = 0.0
    if mode == "luna":
        bus = Bus("ui" if pattern == "event" else None)
        if pattern == "event":
            bus.subscribe([b"ev.token"], publishers=["brain"])

            async def recv() -> int:
                return (await bus.recv_event()).ts
        else:
            bus.consume("audio", hwm=1000)

            async def recv() -> int:
                return (await bus.recv_stream("audio")).ts
    else:
        ctx = zmq.asyncio.Context.instance()
        if pattern == "event":
            sock = ctx.socket(zmq.SUB)
            sock.connect(endpoints.event_endpoint("brain"))
            sock.setsockopt(zmq.SUBSCRIBE, b"ev.token")
        else:
            sock = ctx.socket(zmq.PULL)
            sock.setsockopt(zmq.RCVHWM, 1000)
            sock.bind(endpoints.stream_endpoint("audio"))

        async def recv() -> int:
            parts = await sock.recv_multipart()
            buf = parts[0] if pattern == "stream" else parts[-1]
            return struct.unpack_from("<q", buf, len(buf) - 8)[0]

    ready.set()
    while got < n:
        try:
            ts = await asyncio.wait_for(recv(), timeout=3.0)
        except asyncio.TimeoutError:
            break
        now = time.monotonic_ns()
        if got == 0:
            t_first = now
        t_last = now
        lat.append((now - ts) / 1e6)
        got += 1
    out.put({"got": got, "secs": (t_last - t_first) / 1e9, "lat": lat})


# -- sender (this process) --------------------------------------------------------------
async def _send(mode: str, pattern: str, n: int, hz: float | None) -> None:
    import zmq

    from shared import endpoints
    from shared.bus import Bus

    period = 1.0 / hz if hz else 0.0
    if mode == "luna":
        bus = Bus("brain" if pattern == "event" else "capture")
        if pattern == "stream":
            bus.produce("audio", hwm=1000)
        await asyncio.sleep(0.5)

        def send() -> bool:
            if pattern == "event":
                bus.publish("token", text="palavra ", epoch=1)
                return True
            return bus.push("audio", "audio", rate=16000, channels=1, payload=PCM)
    else:
        ctx = zmq.Context.instance()
        if pattern == "event":
            sock = ctx.socket(zmq.PUB)
            sock.setsockopt(zmq.SNDHWM, 10_000)
            sock.bind(endpoints.event_endpoint("brain"))
        else:
            sock = ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.SNDHWM, 1000)
            sock.setsockopt(zmq.IMMEDIATE, 1)
            sock.connect(endpoints.stream_endpoint("audio"))
        await asyncio.sleep(0.5)
        body = b"palavra "

        def send() -> bool:
            ts = struct.pack("<q", time.monotonic_ns())
            try:
                if pattern == "event":
                    sock.send_multipart([b"ev.token", body + ts], flags=zmq.NOBLOCK)
                else:
                    sock.send_multipart([ts, PCM], flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return False
            return True

    sent = 0
    t0 = time.monotonic()
    while sent < n:
        if send():
            sent += 1
        else:
            await asyncio.sleep(0)  # consumer full: yield, as a service would
            continue
        if period:
            await asyncio.sleep(max(0.0, t0 + sent * period - time.monotonic()))
        elif pattern == "event" and sent % 500 == 0:
            await asyncio.sleep(0.002)  # PUB never blocks; keep under the HWM so we measure delivery, not drops


def run_case(mode: str, pattern: str, n: int, hz: float | None) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, out = ctx.Event(), ctx.Queue()
    p = ctx.Process(target=_receiver, args=(mode, pattern, n, ready, out))
    p.start()
    ready.wait(30)
    time.sleep(0.3)
    asyncio.run(_send(mode, pattern, n, hz))
    res = out.get(timeout=120)
    p.join(10)
    lat = res["lat"]
    return {"got": res["got"], "rate": res["got"] / res["secs"] if res["secs"] > 0 else 0.0,
            "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99),
            "mean_ms": statistics.fmean(lat) if lat else float("nan")}


def main() -> dict[str, float]:
    os.environ["LUNA_RUN_DIR"] = tempfile.mkdtemp(prefix="luna-bench-")
    rows = {}
    for pattern in ("stream", "event"):
        for mode in ("raw", "luna"):
            rows[(pattern, mode, "flood")] = run_case(mode, pattern, FLOOD_N, None)
            rows[(pattern, mode, "50hz")] = run_case(mode, pattern, PACED_N, 50.0)
    print(f"{'pattern':<8} {'code':<5} {'load':<6} {'msgs/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'recv':>7}")
    for (pattern, mode, load), r in rows.items():
        print(f"{pattern:<8} {mode:<5} {load:<6} {r['rate']:>10.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['got']:>7}")
    ratio_stream = rows[("stream", "luna", "flood")]["rate"] / rows[("stream", "raw", "flood")]["rate"]
    ratio_event = rows[("event", "luna", "flood")]["rate"] / rows[("event", "raw", "flood")]["rate"]
    results = {
        "bus_throughput_ratio": round(min(ratio_stream, ratio_event), 3),
        "bus_throughput_ratio_audio": round(ratio_stream, 3),
        "bus_throughput_ratio_events": round(ratio_event, 3),
        "bus_audio_msgs_per_s": round(rows[("stream", "luna", "flood")]["rate"]),
        "bus_raw_audio_msgs_per_s": round(rows[("stream", "raw", "flood")]["rate"]),
        "bus_p99_ms_50hz": round(max(rows[("stream", "luna", "50hz")]["p99_ms"],
                                     rows[("event", "luna", "50hz")]["p99_ms"]), 3),
        "bus_raw_p99_ms_50hz": round(max(rows[("stream", "raw", "50hz")]["p99_ms"],
                                         rows[("event", "raw", "50hz")]["p99_ms"]), 3),
    }
    print(f"throughput ratio luna/raw: audio {ratio_stream:.2f}, events {ratio_event:.2f} (target >= 0.80); "
          f"p99 at 50 Hz: {results['bus_p99_ms_50hz']:.3f} ms (target <= 1 ms)")
    return results


if __name__ == "__main__":
    from bench import write_results

    write_results(main())
