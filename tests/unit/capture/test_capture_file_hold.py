"""CAPTURE_FILE is read on purpose: while stt is on its way the file waits, whole, and capture says
``ready`` (the file named, ``waiting_for`` stt), not ``degraded`` (issue 15). With no stt anywhere
it plays like a microphone and ``degraded`` says nobody takes the audio (a real fault).

stt is played by the test (heartbeats, the audio stream drained): no Whisper is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from tests.support.audio import silence, write_wav
from tests.support.voicekit import Driver

pytestmark = pytest.mark.integration


def _beats(d: Driver) -> list:
    return [f for f in d.events if f.type == "heartbeat" and f["service"] == "capture"]


async def _fake_stt(d: Driver, loaded: asyncio.Event, got: list[int]) -> None:
    """stt loading (``starting`` heartbeats) until ``loaded`` is set, then ready and draining the audio."""
    async def drain() -> None:
        while True:
            await d.bus.recv_stream("audio")
            got.append(1)

    drain_task = None
    try:
        while True:
            state = "ready" if loaded.is_set() else "starting"
            if state == "ready" and drain_task is None:
                drain_task = asyncio.create_task(drain())
            d.bus.publish("heartbeat", service="stt", state=state, counters={}, info={}, pid=os.getpid())
            await asyncio.sleep(0.25)
    finally:
        if drain_task:
            drain_task.cancel()
            with contextlib.suppress(BaseException):
                await drain_task


async def test_file_waits_for_a_starting_stt_and_is_ready(start_service, tmp_path) -> None:
    wav = write_wav(tmp_path / "pergunta.wav", silence(1.0), 16000, 1)  # 50 frames + the 1 s tail
    got: list[int] = []
    async with Driver("stt") as d:
        d.bus.consume("audio")
        loaded = asyncio.Event()
        stt = asyncio.create_task(_fake_stt(d, loaded, got))
        try:
            await asyncio.sleep(0.6)  # capture hears stt starting
            start_service("capture", CAPTURE_FILE=str(wav), CAPTURE_RING_S="0.5")
            # stt loads for 4 heartbeats of capture's: longer than the 0.5 s ring and the 2 s grace
            await d.wait(lambda: sum(1 for b in _beats(d) if b["info"].get("waiting_for") == "stt") >= 4, 30,
                         "capture holds")
            loaded.set()
            held = [b for b in _beats(d) if b["info"].get("waiting_for")]
            assert {b["state"] for b in held} == {"ready"}, [(b["state"], b["info"]) for b in held]
            assert all(b["counters"].get("captured", 0) == 0 for b in held)  # the file waits, unread
            assert held[-1]["info"]["source"] == "file" and held[-1]["info"]["device"] == "file:pergunta.wav"
            await d.wait(lambda: _beats(d)[-1]["info"].get("ended") == "file", 15, "the file read to its end")
            await asyncio.sleep(1.2)
        finally:
            stt.cancel()
            with contextlib.suppress(BaseException):
                await stt
    assert {b["state"] for b in _beats(d)} == {"ready"}
    last = _beats(d)[-1]["counters"]
    assert last["drops"] == 0 and last["audio_out"] == len(got) >= 95, (last, len(got))  # 2 s of 20 ms frames


async def test_file_without_any_stt_plays_and_says_degraded(start_service, tmp_path) -> None:
    wav = write_wav(tmp_path / "q.wav", silence(1.0), 16000, 1)
    async with Driver() as d:
        start_service("capture", CAPTURE_FILE=str(wav), CAPTURE_RING_S="0.5")
        await d.wait(lambda: (b := _beats(d)) and b[-1]["info"].get("ended") == "file", 15, "the file plays")
        hb = _beats(d)[-1]
        assert hb["state"] == "degraded" and hb["info"]["waiting_for"] == "stt" and hb["counters"]["drops"] > 0
