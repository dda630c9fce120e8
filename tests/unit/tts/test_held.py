"""services/tts/held.py: what tts parks for a preemptive reply, and every way it is let go."""

from __future__ import annotations

from collections import Counter

from services.tts.held import HeldSpeech


def chunk(epoch: int, seconds: float = 0.15, rate: int = 24000, text: str = "oi") -> dict:
    return {"epoch": epoch, "rate": rate, "text": text, "payload": b"\0\0" * int(rate * seconds)}


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_parked_chunks_come_back_in_order_on_release_and_only_once():
    c = Counter()
    h = HeldSpeech(c)
    h.hold(5)
    items = [chunk(5, text=str(i)) for i in range(3)]
    for it in items:
        h.park(it)
    assert h.holds(5) and not h.holds(4)
    assert h.release(5) == items
    assert not h.holds(5) and h.release(5) == []
    assert c == Counter(held_released=1)


def test_a_newer_held_reply_a_cut_or_a_flush_drops_what_was_parked():
    c = Counter()
    h = HeldSpeech(c)
    h.hold(1)
    h.park(chunk(1))
    h.hold(2)  # the brain speculates on one pause at a time: the older guess is gone
    assert not h.holds(1) and h.release(1) == []
    h.drop_through(1)  # a cut below it leaves it alone
    assert h.holds(2)
    h.drop_through(2)  # flush epoch=3, or barge-in up to 2
    assert not h.holds(2)
    assert c["held_dropped"] == 2 and c["held_released"] == 0


def test_parked_audio_is_bounded_in_length_and_in_age():
    c, clock = Counter(), Clock()
    h = HeldSpeech(c, max_s=1.0, max_age_s=5.0, clock=clock)
    h.hold(7)
    for _ in range(10):  # 1.5 s of audio against a 1 s cap
        h.park(chunk(7, 0.15))
    assert len(h.release(7)) == 6 and c["held_dropped"] == 4
    h.hold(8)
    h.park(chunk(8))
    clock.t += 5.1  # never released: forgotten
    assert h.release(8) == [] and not h.holds(8)
    assert c["held_dropped"] == 5
