"""The bus on real ZeroMQ sockets: events, streams, the tap, and garbage that must not crash a receiver."""

from __future__ import annotations

import asyncio
import os
import random

import zmq

from shared import endpoints
from shared.bus import Bus
from shared.messages import encode_event, make
from shared.service import Service
from tests.conftest import wait_for


async def _settle() -> None:
    await asyncio.sleep(0.3)  # ZeroMQ slow joiner: let subscriptions propagate


async def test_events_reach_every_subscriber(bus_env) -> None:
    brain, ui, tap = Bus("brain"), Bus("ui"), Bus(None)
    ui.subscribe()
    tap.subscribe([b""])
    await _settle()
    brain.publish("token", turn_id="t1", text="olá", epoch=1)
    for b in (ui, tap):
        f = await asyncio.wait_for(b.recv_event(), 5)
        assert (f.type, f.source, f.turn_id, f["text"], f.seq) == ("token", "brain", "t1", "olá", 1)
    for b in (brain, ui, tap):
        b.close()


async def test_streams_are_point_to_point_and_tap_sees_summaries(bus_env) -> None:
    tts, brain, tap = Bus("tts"), Bus("brain"), Bus(None)
    tts.consume("sentence")
    brain.produce("sentence")
    tap.subscribe([b""])
    await _settle()
    brain.poll_subscriptions()
    assert brain.push("sentence", "sentence", text="Oi.", epoch=1)
    f = await asyncio.wait_for(tts.recv_stream("sentence"), 5)
    assert f["text"] == "Oi."
    s = await asyncio.wait_for(tap.recv_event(), 5)
    assert s.type == "sentence" and s.data["_bytes"] == 0 and s.source == "brain"
    for b in (tts, brain, tap):
        b.close()


async def test_no_summaries_built_without_a_tap(bus_env) -> None:
    brain, tts = Bus("brain"), Bus("tts")
    tts.consume("sentence")
    brain.produce("sentence")
    await _settle()
    brain.poll_subscriptions()
    assert brain._summaries.subscribers == 0
    brain.close()
    tts.close()


async def test_push_to_absent_consumer_never_blocks_and_counts(bus_env) -> None:
    cap = Bus("capture")
    cap.produce("audio")
    results = [cap.push("audio", "audio", rate=16000, channels=1, payload=b"\0" * 640) for _ in range(50)]
    assert not any(results) and cap.dropped["audio"] == 50
    cap.close()


async def test_full_consumer_is_bounded_by_hwm(bus_env) -> None:
    stt, cap = Bus("stt"), Bus("capture")
    stt.consume("audio", hwm=10)
    cap.produce("audio", hwm=10)
    await _settle()
    sent = sum(cap.push("audio", "audio", rate=16000, channels=1, payload=b"\0" * 640) for _ in range(5000))
    assert 0 < sent < 5000 and cap.dropped["audio"] == 5000 - sent
    stt.close()
    cap.close()


def _garbage(rng: random.Random) -> list[bytes]:
    kind = rng.randrange(6)
    if kind == 0:
        return [b"ev.token", rng.randbytes(rng.randrange(1, 64))]
    if kind == 1:
        return [b"ev.token"]
    if kind == 2:
        import msgpack
        return [b"ev.nope", msgpack.packb({"type": "nope", "v": 1, "ts": 0, "turn_id": "", "seq": 0,
                                           "source": "x", "data": {}})]
    if kind == 3:
        return [b"ev.token", b"\x00" * 300_000]
    if kind == 4:
        return [rng.randbytes(5), rng.randbytes(5), rng.randbytes(5), rng.randbytes(5)]
    import msgpack
    return [b"ev.token", msgpack.packb({"type": "token", "v": 99, "ts": 0, "turn_id": "", "seq": 0,
                                        "source": "x", "data": {"text": "a"}})]


async def test_malformed_frames_are_counted_and_the_receiver_survives(bus_env) -> None:
    ui = Bus("ui")
    ui.subscribe([b""])
    evil = zmq.Context.instance().socket(zmq.PUB)  # a hostile publisher at the brain's address
    evil.bind(endpoints.event_endpoint("brain"))

    def valid(text: str) -> list:
        return encode_event(make("token", source="brain", text=text))

    # wait until the subscriber is connected to the hostile publisher
    while True:
        evil.send_multipart(valid("probe"))
        try:
            await asyncio.wait_for(ui.recv_event(), 0.1)
            break
        except asyncio.TimeoutError:
            pass
    base = ui.rejects.total
    rng = random.Random(1)
    for _ in range(500):
        evil.send_multipart(_garbage(rng))
    evil.send_multipart(valid("still alive"))
    while True:  # frames from one publisher arrive in order: every garbage frame is judged before this
        f = await asyncio.wait_for(ui.recv_event(), 10)
        if f["text"] == "still alive":
            break
    assert ui.rejects.total - base == 500
    assert set(ui.rejects.counts) >= {"bad-msgpack", "bad-parts", "unknown-type", "oversized", "bad-version"}
    evil.close(0)
    ui.close()


class Echo(Service):
    """A minimal service: ready after a slow 'model load', echoes sentences as tokens."""

    name = "tts"
    consumes = ("sentence",)

    async def setup(self) -> None:
        await asyncio.sleep(1.5)
        self.info["model"] = "echo"

    async def on_stream(self, stream, f) -> None:
        self.publish("token", text=f["text"], epoch=f["epoch"])


async def test_service_base_heartbeats_ready_and_stops(bus_env) -> None:
    svc = Echo()
    watcher = Bus("ui")
    watcher.subscribe()
    task = asyncio.create_task(svc._run())
    seen: list = []

    async def collect():
        while True:
            seen.append(await watcher.recv_event())

    col = asyncio.create_task(collect())
    await wait_for(lambda: any(f.type == "heartbeat" and f["state"] == "starting" for f in seen), 10)
    await wait_for(lambda: any(f.type == "ready" for f in seen), 10)
    hb = [f for f in seen if f.type == "heartbeat"][-1]
    assert {"frames_out", "drops", "queue", "rejected"} <= set(hb["counters"]) and hb["pid"] == os.getpid()
    brain = Bus("brain")
    brain.produce("sentence")
    await _settle()
    brain.push("sentence", "sentence", text="eco", epoch=1)
    await wait_for(lambda: any(f.type == "token" and f["text"] == "eco" for f in seen), 10)
    svc.stopping.set()
    await asyncio.wait_for(task, 10)
    await wait_for(lambda: any(f.type == "stopping" for f in seen), 5)
    col.cancel()
    watcher.close()
    brain.close()
