"""playback's audio-thread core: speaking/idle per sentence, cuts, stale epochs."""

from __future__ import annotations

import numpy as np

from services.playback.player import Player


def _player():
    events = []
    return Player(lambda kind, d: events.append((kind, d))), events


def _tone(n, v=1000):
    return np.full(n, v, np.int16)


def test_speaking_then_idle_per_sentence():
    p, ev = _player()
    p.add(1, 0, "one", "t", _tone(300), True, False)
    p.add(1, 0, "one", "t", None, False, True)
    p.add(1, 1, "two", "t", _tone(100, 2000), True, True)
    out = np.zeros(256, np.int16)
    assert p.fill(out) == 256 and ev == [("speaking", ev[0][1])] and ev[0][1]["text"] == "one"
    assert p.fill(out) == 144
    assert out[:44].tolist() == [1000] * 44 and out[44:144].tolist() == [2000] * 100 and not out[144:].any()
    kinds = [(k, d["text"], d.get("played")) for k, d in ev]
    assert kinds == [("speaking", "one", None), ("idle", "one", True), ("speaking", "two", None),
                     ("idle", "two", True)]
    assert not p.busy


def test_underrun_waits_for_rest_of_sentence():
    p, ev = _player()
    p.add(1, 0, "one", "t", _tone(100), True, False)
    out = np.zeros(256, np.int16)
    assert p.fill(out) == 100 and p.underruns == 1  # ran dry inside the block
    assert p.fill(out) == 0  # no idle: the sentence is not over
    assert [k for k, _ in ev] == ["speaking"]
    p.add(1, 0, "one", "t", _tone(10), False, True)
    p.fill(out)
    assert [k for k, _ in ev] == ["speaking", "idle"]


def test_cancel_cuts_at_next_block_and_drops_stale():
    p, ev = _player()
    p.add(1, 0, "old", "t", _tone(16000), True, True)
    p.add(1, 1, "old2", "t", _tone(16000), True, True)
    out = np.zeros(320, np.int16)
    p.fill(out)
    p.cancel(1)
    assert ev[-1][0] == "idle" and ev[-1][1]["played"] is False and ev[-1][1]["text"] == "old"
    assert p.fill(out) == 0 and not out.any()  # not one more sample of the cut sentence
    assert not p.add(1, 2, "late", "t", _tone(100), True, True)  # stale epoch never queued
    assert p.add(2, 0, "new", "t", _tone(100), True, True)
    assert p.fill(out) == 100 and ev[-2][1]["text"] == "new"
