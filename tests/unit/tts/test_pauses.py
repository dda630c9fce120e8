"""Kokoro's inner silences are cut to MAX_PAUSE_S; words, edges and short pauses are untouched."""

from __future__ import annotations

import numpy as np

from services.tts.pauses import MAX_PAUSE_S, cap_pauses

RATE = 24000


def _tone(s: float) -> np.ndarray:
    t = np.arange(int(s * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _gap(s: float) -> np.ndarray:
    return np.full(int(s * RATE), 0.001, np.float32)  # below SILENT_PEAK: room noise, not a word


def test_a_long_inner_silence_is_cut_to_the_cap_and_the_words_are_kept() -> None:
    a = np.concatenate([_gap(0.3), _tone(0.5), _gap(0.6), _tone(0.7), _gap(0.4)])
    out = cap_pauses(a, RATE)
    assert abs(len(a) - len(out) - int((0.6 - MAX_PAUSE_S) * RATE)) <= RATE // 100  # 350 ms gone, within a frame
    loud = np.abs(out) > 0.01
    assert int(loud.sum()) == int((np.abs(a) > 0.01).sum())  # every voiced sample is still there
    assert np.array_equal(out[: int(0.3 * RATE)], a[: int(0.3 * RATE)])  # the leading silence is the caller's
    assert np.array_equal(out[-int(0.4 * RATE):], a[-int(0.4 * RATE):])  # and so is the trailing one


def test_a_comma_pause_and_a_piece_without_pauses_stay_as_they_are() -> None:
    a = np.concatenate([_tone(0.4), _gap(0.2), _tone(0.4)])
    assert np.array_equal(cap_pauses(a, RATE), a)
    b = _tone(1.0)
    assert np.array_equal(cap_pauses(b, RATE), b)
    assert len(cap_pauses(np.zeros(10, np.float32), RATE)) == 10  # shorter than three frames


def _inner_silences_s(a: np.ndarray) -> list[float]:
    """Lengths of the silent runs between voiced 10 ms frames."""
    frame = RATE // 100
    silent = np.abs(a[: len(a) // frame * frame]).reshape(-1, frame).max(axis=1) < 0.01
    runs, n, voiced = [], 0, False
    for s in silent:
        if s:
            n += 1
            continue
        if voiced and n:
            runs.append(n / 100)
        n, voiced = 0, True
    return runs


def test_every_long_pause_is_capped_not_only_the_first() -> None:
    a = np.concatenate([_tone(0.3), _gap(0.7), _tone(0.3), _gap(0.5), _tone(0.3)])
    assert _inner_silences_s(a) == [0.7, 0.5]
    runs = _inner_silences_s(cap_pauses(a, RATE))
    assert len(runs) == 2 and all(abs(r - MAX_PAUSE_S) <= 0.011 for r in runs), runs
