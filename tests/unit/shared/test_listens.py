"""Each service subscribes only to the events it acts on; none is deaf to one it handles."""

from __future__ import annotations

import asyncio
import importlib
import re
from pathlib import Path

import pytest

from shared import epochs
from shared.bus import Bus
from shared.messages import CATALOGUE, EVENT
from shared.service import LIFE_EVENTS, event_topics

ROOT = Path(__file__).resolve().parents[3]
SERVICES = {"brain": "BrainService", "capture": "CaptureService", "playback": "PlaybackService",
            "stt": "SttService", "tts": "TtsService", "watchdog": "WatchdogService"}


def _handled(service: str) -> set[str]:
    """Event types the service's code compares ``f.type`` with (stream types are not events)."""
    text = (ROOT / "services" / service / "service.py").read_text()
    names = set(re.findall(r'f\.type [!=]= "([a-z-]+)"', text))
    if "EpochWindow(" in text:
        names |= set(epochs.EVENTS)
    return {n for n in names if CATALOGUE[n].kind == EVENT}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_listens_to_every_event_it_handles_and_no_more_than_declared(service: str) -> None:
    cls = getattr(importlib.import_module(f"services.{service}.service"), SERVICES[service])
    assert cls.listens is not None, f"{service} must declare listens"
    topics = event_topics(cls.listens)
    heard = {t.decode()[3:] for t in topics}
    assert _handled(service) <= heard, _handled(service) - heard
    assert set(LIFE_EVENTS) <= heard
    assert "token" not in heard  # the busiest event reaches only the UI and the tap


def test_a_typo_in_listens_fails_at_start() -> None:
    with pytest.raises(ValueError, match="trasncript"):
        event_topics(("trasncript",))
    with pytest.raises(ValueError, match="audio"):
        event_topics(("audio",))  # a stream, not an event


def test_no_declaration_hears_everything() -> None:
    assert event_topics(None) == [b"ev."]


async def test_a_listening_bus_gets_its_topics_and_the_tap_still_sees_everything(bus_env) -> None:
    brain, capture, tap = Bus("brain"), Bus("capture"), Bus(None)
    capture.subscribe(event_topics(("command", "speaking", "idle")))
    tap.subscribe([b""])
    await asyncio.sleep(0.3)  # ZeroMQ slow joiner
    brain.publish("token", turn_id="t1", text="olá", epoch=1)
    brain.publish("command", name="mute")
    f = await asyncio.wait_for(capture.recv_event(), 5)
    assert (f.type, f["name"]) == ("command", "mute")  # the token never reached capture
    seen = [(await asyncio.wait_for(tap.recv_event(), 5)).type for _ in range(2)]
    assert seen == ["token", "command"]
    for b in (brain, capture, tap):
        b.close()
