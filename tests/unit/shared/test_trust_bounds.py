"""Hostile but well-formed values: bounded in the catalogue, rejected with a reason, never applied.

Issue 13 (3): one ``flush`` or ``command cancel`` with ``epoch = 2**62`` muted Luna
until tts and playback restarted. These tests play the attacker against the pure
parts (the catalogue and the epoch window); tests/system/test_trust_stack.py does it
against the running services.
"""

from __future__ import annotations

import pytest

from shared.epochs import MAX_AHEAD, EpochWindow
from shared.messages import MAX_EPOCH, MAX_USER_TEXT_BYTES, FrameError, decode_event, encode_event, make


def _reason(type_: str, **data) -> str:
    with pytest.raises(FrameError) as err:
        make(type_, **data)
    return err.value.reason


@pytest.mark.parametrize("type_, data, reason", [
    ("flush", {"epoch": 2**62}, "out-of-bounds"),
    ("flush", {"epoch": -1}, "out-of-bounds"),
    ("sentence", {"text": "oi", "epoch": MAX_EPOCH + 1}, "out-of-bounds"),
    ("sentence", {"text": "oi", "epoch": 3, "held": "yes"}, "bad-field"),
    ("release", {"epoch": 2**62}, "out-of-bounds"),
    ("speech-start", {"epoch": 2**62}, "out-of-bounds"),
    ("command", {"name": "cancel", "args": {"epoch": 2**62}}, "bad-arg"),
    ("command", {"name": "cancel", "args": {"epoch": "3"}}, "bad-arg"),
    ("command", {"name": "rm -rf /"}, "unknown-command"),
    ("command", {"name": "cancel", "args": {"shell": "x"}}, "bad-arg"),
    ("command", {"name": "config-set", "args": {"function": "chat", "model": "../../../etc/passwd"}}, "bad-arg"),
    ("command", {"name": "config-set", "args": {"function": "chat", "model": "/root/.ssh/id_rsa"}}, "bad-arg"),
    ("command", {"name": "config-set", "args": {"function": "chat", "provider": "../x"}}, "bad-arg"),
    ("command", {"name": "history-open", "args": {"id": "../../history"}}, "bad-arg"),
    ("command", {"name": "history-list", "args": {"limit": 10**9}}, "bad-arg"),
    ("user-text", {"text": "x" * (MAX_USER_TEXT_BYTES + 1)}, "out-of-bounds"),
    ("notice", {"service": "s" * 1000, "level": "info", "text": "t"}, "out-of-bounds"),
    ("history", {"conversations": [{}] * 5000}, "out-of-bounds"),
    ("audio", {"rate": 2**40, "channels": 1}, "out-of-bounds"),
])
def test_hostile_values_are_rejected_with_a_reason(type_: str, data: dict, reason: str) -> None:
    payload = {"payload": b"\0\0"} if type_ == "audio" else {}
    if payload:
        with pytest.raises(FrameError) as err:
            make(type_, **payload, **data)
        assert err.value.reason == reason
    else:
        assert _reason(type_, **data) == reason


def test_a_receiver_rejects_what_a_sender_could_not_build() -> None:
    """Bounds are checked on decode too: a rogue that skips make() is still refused."""
    f = make("flush", epoch=3)
    f.data["epoch"] = 2**62
    f.type = "command"
    f.data = {"name": "cancel", "args": {"epoch": 2**62}}
    with pytest.raises(FrameError, match="bad-arg"):
        decode_event(encode_event(f))


def test_legitimate_values_still_pass() -> None:
    make("command", name="config-set", args={"function": "chat", "provider": "ollama",
                                             "model": "hf.co/bartowski/Qwen2.5-7B-GGUF:Q4_K_M"})
    make("command", name="config-set", args={"function": "code", "provider": "", "model": "qwen2.5-coder:7b"})
    make("command", name="cancel", args={"epoch": 12})
    make("command", name="history-open", args={"id": "3f2a9c01bb7e"})
    make("user-text", text="á" * 1000, conversation_id="abc123")
    make("reply-end", ok=True, text="x" * 100_000, epoch=MAX_EPOCH)


def _start(epoch: int):
    return make("reply-start", intent="chat", provider="p", model="m", epoch=epoch)


def _brain_hb(epoch: int):
    return make("heartbeat", service="brain", state="ready", counters={}, info={"epoch": epoch}, source="brain")


def test_a_cut_for_an_epoch_that_never_started_is_ignored_and_counted() -> None:
    counters: dict = {}
    w = EpochWindow(counters)
    w.observe(_brain_hb(4), "aec")
    w.observe(_start(5), "aec")
    assert w.observe(make("command", name="cancel", args={"epoch": MAX_EPOCH}), "aec") is None
    assert w.cut_to(5 + 2) is None  # a flush names at most the newest + 1
    assert counters["epoch_rejected"] == 2
    assert not w.stale(6)  # the next reply is heard
    assert w.observe(make("command", name="cancel"), "aec") == 5  # Esc still cuts the reply in progress
    assert w.stale(5) and not w.stale(6)


def test_a_far_jump_is_refused_once_the_brain_is_known() -> None:
    counters: dict = {}
    w = EpochWindow(counters)
    w.observe(_brain_hb(10), "aec")
    assert not w.start(10 + MAX_AHEAD + 1)
    assert w.start(11) and w.latest == 11
    assert counters["epoch_rejected"] == 1


def test_a_poisoned_window_is_pulled_back_by_the_brain_heartbeat() -> None:
    """A run of hostile starts and a cut at the top: one brain heartbeat later the next reply plays."""
    w = EpochWindow()
    w.observe(_brain_hb(3), "aec")
    for _ in range(50):
        w.start(w.latest + MAX_AHEAD)
    w.observe(make("command", name="cancel"), "aec")
    assert w.stale(4)  # muted for now...
    w.observe(_brain_hb(3), "aec")
    assert not w.stale(4) and w.latest == 3  # ...until the authority speaks


def test_a_restarted_brain_counting_from_zero_is_heard() -> None:
    w = EpochWindow()
    w.observe(_brain_hb(40), "aec")
    w.observe(_start(41), "aec")
    w.observe(make("command", name="cancel"), "aec")
    assert w.stale(41)
    w.observe(_brain_hb(0), "aec")  # a new brain process
    w.observe(_start(1), "aec")
    assert not w.stale(1)


def test_a_fresh_service_accepts_the_brain_where_it_is() -> None:
    """tts restarted while the brain is at epoch 500: the first sentence is not refused."""
    w = EpochWindow()
    assert w.start(500) and not w.stale(500)


async def test_an_event_over_16_mb_does_not_cut_its_publisher_off(bus_env) -> None:
    """Issue 13 (4): ZMQ_MAXMSGSIZE used to disconnect the publisher for good; now Luna rejects the frame."""
    import asyncio

    from shared.bus import Bus
    from tests.conftest import wait_for

    pub = Bus("ui")
    sub = Bus(None)
    sub.subscribe()
    got: list = []

    async def pump() -> None:
        while True:
            got.append(await sub.recv_event())

    task = asyncio.create_task(pump())
    try:
        await wait_for(lambda: (pub.publish("token", text="hello") and False) or got, 10)
        huge = make("token", text="x")
        parts = encode_event(huge)
        parts[1] = b"\x81" + b"\0" * (17 * 1024 * 1024)  # one 17 MB envelope
        pub.pub_socket.send_multipart(parts)
        pub.publish("token", text="still here")
        await wait_for(lambda: any(f["text"] == "still here" for f in got), 20)
        assert sub.rejects.counts["oversized"] == 1
        late = Bus(None)  # a subscriber started afterwards (a new UI) hears the same publisher
        late.subscribe()
        await asyncio.sleep(0.3)
        pub.publish("token", text="for the new one")
        f = await asyncio.wait_for(late.recv_event(), 10)
        assert f["text"] == "for the new one"
        late.close()
    finally:
        task.cancel()
        pub.close()
        sub.close()


def test_a_service_clips_its_own_over_long_text_instead_of_failing() -> None:
    from shared.messages import clip_strings

    data = clip_strings("reply-end", {"ok": False, "error": "e" * 100_000, "epoch": 3})
    f = make("reply-end", **data)
    assert len(f["error"]) == 16_384 and f["error"].endswith("…") and f["epoch"] == 3
