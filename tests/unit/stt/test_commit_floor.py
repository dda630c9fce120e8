"""The segmenter's commit floor: a complete verdict ends the turn only after TURN_COMMIT_MIN_MS of silence.

No processes: the real Segmenter fed synthetic 32 ms chunks with a loudness VAD.
"""

from __future__ import annotations

import numpy as np

from services.stt.vad import CHUNK, RATE, Segmenter

CHUNK_NS = CHUNK * 1_000_000_000 // RATE


class LoudIsSpeech:
    def prob(self, chunk: np.ndarray) -> float:
        return 0.95 if float(np.abs(chunk).max()) * 32768 > 1000 else 0.02


def _seg() -> Segmenter:
    return Segmenter(LoudIsSpeech(), min_silence_ms=500, min_speech_ms=100, eot_ms=64, commit_ms=300)


def _feed(seg: Segmenter, chunks: int, loud: bool, t: list[int]) -> list:
    out = []
    for _ in range(chunks):
        pcm = (np.full(CHUNK, 8000) if loud else np.zeros(CHUNK)).astype(np.int16)
        out += seg.feed(pcm, t[0])
        t[0] += CHUNK_NS
    return out


def test_a_commit_inside_a_short_breath_waits_for_the_floor():
    seg, t = _seg(), [0]
    _feed(seg, 30, True, t)  # ~1 s of voice
    _feed(seg, 3, False, t)  # 96 ms of silence: the model is asked, says complete
    assert seg.commit() == []  # too soon: a breath sounds finished too
    ends = [e for e in _feed(seg, 4, False, t) if e.kind == "end"]  # 224 ms
    assert not ends
    ends = [e for e in _feed(seg, 4, False, t) if e.kind == "end"]  # past 300 ms, well before 500
    assert len(ends) == 1


def test_voice_coming_back_before_the_floor_cancels_the_commit():
    seg, t = _seg(), [0]
    _feed(seg, 30, True, t)
    _feed(seg, 3, False, t)
    seg.commit()
    kinds = [e.kind for e in _feed(seg, 10, True, t)]  # "Obrigado, Luna, | por hoje é só isso"
    assert "end" not in kinds and "resume" in kinds
    ends = [e for e in _feed(seg, 12, False, t) if e.kind == "end"]  # 384 ms: the usual 500 ms window runs
    assert not ends
    assert [e.kind for e in _feed(seg, 5, False, t)] == ["end"]


def test_a_commit_after_the_floor_ends_at_once():
    seg, t = _seg(), [0]
    _feed(seg, 30, True, t)
    _feed(seg, 10, False, t)  # 320 ms
    assert [e.kind for e in seg.commit()] == ["end"]
