"""The catalogue: every type round-trips; malformed frames are rejected with a reason."""

from __future__ import annotations

import msgpack
import pytest

from shared import messages as m

SAMPLES = {
    str: "olá ✨", int: 7, bool: True, dict: {"a": 1}, list: [1, 2],
}


def _value(typ):
    typ = typ if isinstance(typ, tuple) else (typ,)
    for t in typ:
        if t in SAMPLES:
            return SAMPLES[t]
    return 1.5


def sample_frame(spec: m.Spec) -> m.Frame:
    data = {k: _value(t) for k, t in spec.fields.items()}
    data.update({k: _value(t) for k, t in spec.optional.items()})
    for name, decl in spec.shapes.items():  # nested values use keys the catalogue declares (tests run strict)
        if "service" in spec.fields:
            data["service"] = "brain"
        shape = decl.shape("brain") if hasattr(decl, "shapes") else decl
        key, typ = next(iter(shape.keys.items()))
        item = {key: _value(typ)}
        data[name] = [item] if isinstance(data[name], list) else item
    if spec.name == "command":  # commands are a closed set with typed arguments (see messages.COMMANDS)
        data.update(name="cancel", args={"epoch": 7})
    payload = b"\x01\x02" * 320 if spec.payload else None
    return m.make(spec.name, source="test", seq=3, turn_id="abc", payload=payload, **data)


@pytest.mark.parametrize("name", sorted(m.CATALOGUE))
def test_every_type_round_trips(name: str) -> None:
    spec = m.CATALOGUE[name]
    f = sample_frame(spec)
    if spec.kind == m.EVENT:
        g = m.decode_event(m.encode_event(f))
    else:
        g = m.decode_stream(m.encode_stream(f))
    assert (g.type, g.v, g.seq, g.turn_id, g.source, g.data, g.ts) == (f.type, f.v, 3, "abc", "test", f.data, f.ts)
    assert (bytes(g.payload) if g.payload is not None else None) == f.payload


def test_payload_is_a_separate_part_not_inside_msgpack() -> None:
    f = m.make("audio", rate=16000, channels=1, payload=b"\x00" * 640)
    parts = m.encode_stream(f)
    assert len(parts) == 2 and parts[1] == b"\x00" * 640
    assert len(parts[0]) < 200  # the envelope does not carry the PCM


def test_stream_summary_carries_size_not_payload() -> None:
    f = m.make("pcm", rate=22050, epoch=2, payload=b"\x00" * 4410)
    g = m.decode_event(m.encode_summary(f))
    assert g.type == "pcm" and g.data["_bytes"] == 4410 and g.payload is None


def _env(**over):
    env = {"type": "token", "v": 1, "ts": 1, "turn_id": "", "seq": 1, "source": "x", "data": {"text": "a"}}
    env.update(over)
    return msgpack.packb(env)


@pytest.mark.parametrize("parts,reason", [
    ([b"ev.token", b"\xc1\xff garbage"], "bad-msgpack"),
    ([b"ev.token", msgpack.packb([1, 2])], "bad-envelope"),
    ([b"ev.nope", _env(type="nope")], "unknown-type"),
    ([b"ev.token", _env(v=9)], "bad-version"),
    ([b"ev.token", _env(data={})], "missing-field"),
    ([b"ev.token", _env(data={"text": 5})], "bad-field"),
    ([b"ev.token", _env(seq="x")], "bad-envelope"),
    ([b"ev.token"], "bad-parts"),
    ([b"zz.token", _env()], "bad-topic"),
    ([b"ev.heartbeat", _env()], "bad-topic"),
    ([b"ev.token", b"\x00" * (m.MAX_ENVELOPE_BYTES + 1)], "oversized"),
    ([b"ev.audio", _env(type="audio", data={"rate": 1, "channels": 1}), b"x"], "wrong-transport"),
])
def test_malformed_events_are_rejected_with_a_reason(parts, reason) -> None:
    with pytest.raises(m.FrameError) as exc:
        m.decode_event(parts)
    assert exc.value.reason == reason


def test_malformed_streams_are_rejected() -> None:
    env = msgpack.packb({"type": "audio", "v": 1, "ts": 1, "turn_id": "", "seq": 1, "source": "x",
                         "data": {"rate": 16000, "channels": 1}})
    with pytest.raises(m.FrameError) as exc:
        m.decode_stream([env])
    assert exc.value.reason == "missing-payload"
    with pytest.raises(m.FrameError) as exc:
        m.decode_stream([env, b"x", b"y"])
    assert exc.value.reason == "bad-parts"
    with pytest.raises(m.FrameError) as exc:
        m.decode_stream([_env()])
    assert exc.value.reason == "wrong-transport"


def test_make_validates_fields() -> None:
    with pytest.raises(m.FrameError):
        m.make("token")
    with pytest.raises(m.FrameError):
        m.make("no-such-type")
    with pytest.raises(m.FrameError):
        m.make("audio", rate=16000, channels=1)  # no payload


def test_describe_lists_every_type() -> None:
    text = m.describe()
    for name in m.CATALOGUE:
        assert name in text
