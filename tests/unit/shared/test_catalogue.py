"""The catalogue is the whole bus contract: nested keys and commands are declared, and strict runs enforce it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared import catalogue as cat
from shared import messages as m

ROOT = Path(__file__).resolve().parents[3]


def test_tests_run_strict() -> None:
    assert m.STRICT, "tests/conftest.py sets LUNA_STRICT_CATALOGUE=1 before shared.messages is imported"


@pytest.mark.parametrize("type_, data, where", [
    ("heartbeat", {"service": "capture", "state": "ready", "counters": {"captured": 1, "bogus": 2}}, "bogus"),
    ("heartbeat", {"service": "stt", "state": "ready", "counters": {}, "info": {"secret_sauce": 1}}, "secret_sauce"),
    ("status", {"service": "stt", "data": {"listening": True, "volume": 3}}, "volume"),
    ("transcript", {"text": "oi", "timings": {"made_up_ns": 1}}, "made_up_ns"),
    ("turn-metrics", {"stages": {"magic_s": 0.1}}, "magic_s"),
    ("token", {"text": "oi", "colour": "red"}, "colour"),
    ("history", {"conversations": [{"id": "a", "owner": "x"}]}, "owner"),
])
def test_strict_rejects_an_undeclared_key(type_: str, data: dict, where: str) -> None:
    with pytest.raises(m.FrameError) as err:
        m.make(type_, **data)
    assert err.value.reason == "undeclared-key" and where in err.value.detail


def test_a_declared_frame_passes_strictly() -> None:
    f = m.make("heartbeat", service="brain", state="ready", counters={"turns_ok": 1, "early_retracted": 2,
                                                                     "replies_cut_loop": 1, "queue": 0},
               info={"epoch": 3, "ollama": "down", "problems": []})
    assert f["counters"]["early_retracted"] == 2


def test_a_service_without_a_declared_shape_is_rejected() -> None:
    with pytest.raises(m.FrameError, match="no shape"):
        m.make("heartbeat", service="stranger", state="ready", counters={"x": 1})


def test_readers_spell_keys_through_the_declaration() -> None:
    assert cat.CAPTURE_COUNTERS.captured == "captured"
    with pytest.raises(AttributeError):
        _ = cat.CAPTURE_COUNTERS.capturd  # a typo fails at import time of the reader, not silently at run time


def _literals(service: str, pattern: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "services" / service).rglob("*.py"):
        found |= set(re.findall(pattern, path.read_text()))
    return found


@pytest.mark.parametrize("service", ["capture", "playback", "stt", "tts", "brain", "watchdog"])
def test_every_counter_and_info_key_a_service_writes_is_declared(service: str) -> None:
    """Catches keys on code paths the service tests do not reach (a device error, a fallback)."""
    counters = m.CATALOGUE["heartbeat"].shapes["counters"].shape(service)
    info = m.CATALOGUE["heartbeat"].shapes["info"].shape(service)
    written = {k for sub in _literals(service, r"counters\[([^\]]+)\]")
               for k in re.findall(r'(?<![f[])"([a-z_]+)"', sub)}  # also both names of `"a" if x else "b"`
    assert written, service
    assert {k for k in written if not counters.allows(k)} == set()
    info_keys = _literals(service, r'info\["([a-z_]+)"\]')
    for call in _literals(service, r"info\.update\(([^)]*)\)"):
        info_keys |= set(re.findall(r"\b([a-z_]+)=", call))
    assert {k for k in info_keys if not info.allows(k)} == set()


def test_luna_catalogue_lists_every_field_nested_key_and_command() -> None:
    text = m.describe()
    for spec in m.CATALOGUE.values():
        assert spec.name in text
        for name in (*spec.fields, *spec.optional):
            assert name in text, f"{spec.name}.{name}"
    for key in (*cat.CAPTURE_COUNTERS.keys, *cat.STT_INFO.keys, *cat.STAGES.keys, *cat.BRAIN_STATUS.keys):
        assert key in text
    for name, args in m.COMMANDS.items():
        assert re.search(rf"^  {re.escape(name)}\s+->", text, re.M), name
        for arg in args:
            assert f"{arg}:" in text


def test_typed_access_is_generated_from_the_spec() -> None:
    cls = m.TYPES["user-text"]
    f = cls(text="oi", spoken=True).frame(turn_id="t1")
    assert (f.type, f.turn_id, f.data) == ("user-text", "t1", {"text": "oi", "spoken": True})
    back = cls.of(m.decode_event(m.encode_event(f)))
    assert (back.text, back.spoken, back.image) == ("oi", True, None)
    with pytest.raises(m.FrameError):
        m.TYPES["token"](text=5).frame()  # still validated
