"""stt asks smart-turn and starts Whisper on the same pause at once (issue 14), in one process, no bus peers.

The service's own code runs (segmenter, speculation, utterance) on a fake voice: a VAD
that hears "speech" in loud chunks, a Whisper and a smart-turn that take a known time.
What is checked is what the person gets: the turn ends as soon as both the verdict and
the words are in, a thinking pause publishes nothing and keeps listening, and a model
over its budget leaves the pause to the silence rule (the words go out as a partial).
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from services.stt.engines import Result
from services.stt.vad import CHUNK, Segmenter

CHUNK_S = CHUNK / 16000


class LoudIsSpeech:
    """A VAD for a synthetic voice: a chunk with samples above 1000 is speech."""

    def prob(self, chunk: np.ndarray) -> float:
        return 0.95 if float(np.abs(chunk).max()) * 32768 > 1000 else 0.02


class SlowWhisper:
    model = "fake-whisper"

    def __init__(self, s: float, text: str) -> None:
        self.s, self.text, self.calls = s, text, []

    def transcribe(self, audio: np.ndarray) -> Result:
        self.calls.append(time.monotonic())
        time.sleep(self.s)
        return Result(self.text, "en")


class SlowTurn:
    def __init__(self, s: float, prob: float) -> None:
        self.s, self.p, self.calls, self.done = s, prob, [], threading.Event()

    def timed(self, audio: np.ndarray) -> tuple[float, float]:
        self.calls.append(time.monotonic())
        time.sleep(self.s)
        self.done.set()
        return self.p, self.s * 1000


@pytest.fixture
def stt(bus_env, monkeypatch):
    monkeypatch.setenv("TURN_BUDGET_MS", "300")
    from services.stt.service import SttService

    svc = SttService()
    svc.sent = []
    svc.publish = lambda type_, **kw: svc.sent.append((type_, kw))
    svc.notice = lambda *a, **k: None
    svc.segmenter = Segmenter(LoudIsSpeech(), min_silence_ms=500, spec_ms=64, eot_ms=64, max_silence_ms=1600,
                              pending_ms=300)
    yield svc
    svc.pool.shutdown(wait=False, cancel_futures=True)
    svc.eot_pool.shutdown(wait=False, cancel_futures=True)
    svc.bus.close()


async def _feed(svc, seconds: float, loud: bool, t: list[int]) -> None:
    """Feed ``seconds`` of voice or silence in real time (the silence window is audio time)."""
    rng = np.random.default_rng(0)
    for _ in range(int(seconds / CHUNK_S)):
        pcm = (rng.normal(0, 8000, CHUNK) if loud else np.zeros(CHUNK)).astype(np.int16)
        for ev in svc.segmenter.feed(pcm, t[0]):
            svc._on_vad(ev)
        t[0] += CHUNK * 62_500
        await asyncio.sleep(CHUNK_S)


def _of(svc, kind: str) -> list[dict]:
    return [kw for k, kw in svc.sent if k == kind]


async def _until(cond, s: float = 2.0) -> None:
    for _ in range(int(s / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)


async def test_a_complete_pause_ends_the_turn_when_both_halves_are_in(stt):
    stt.engine, stt.turn = SlowWhisper(0.4, "Will it rain tomorrow?"), SlowTurn(0.2, 0.9)
    t = [time.monotonic_ns()]
    # 1.2 s of voice: a whole question, longer than MIN_COMMIT_SPEECH_MS
    await _feed(stt, 1.2, True, t)
    await _feed(stt, 0.1, False, t)  # past TURN_PAUSE_MS: the pause is asked about, then no more audio
    await _until(lambda: _of(stt, "transcript"))
    assert stt.engine.calls and stt.turn.calls
    # Whisper started before the model answered (together, not one after the other)
    assert stt.engine.calls[0] < stt.turn.calls[0] + stt.turn.s
    tr = _of(stt, "transcript")
    assert len(tr) == 1 and tr[0]["text"] == "Will it rain tomorrow?"
    assert "eot_commit_ns" in tr[0]["timings"] and tr[0]["timings"]["speculative"] == 1
    assert len(stt.engine.calls) == 1  # the pause's pass is the final transcript
    assert len(_of(stt, "transcript-partial")) == 1 and len(_of(stt, "speech-end")) == 1
    assert stt.counters["eot_complete"] == 1 and stt.counters["eot_late"] == 0


async def test_a_thinking_pause_publishes_nothing_and_keeps_its_words_for_the_end(stt):
    stt.engine, stt.turn = SlowWhisper(0.1, "Can you tell me"), SlowTurn(0.05, 0.1)
    t = [time.monotonic_ns()]
    await _feed(stt, 0.6, True, t)
    await _feed(stt, 1.0, False, t)  # longer than the 500 ms window: held, not cut
    assert stt.segmenter.hold and stt.segmenter.in_speech
    assert not _of(stt, "transcript-partial") and not _of(stt, "speech-end")
    await _feed(stt, 0.8, False, t)  # past TURN_MAX_SILENCE_MS: the turn ends on the kept words
    await _until(lambda: _of(stt, "transcript"))
    assert [x["text"] for x in _of(stt, "transcript")] == ["Can you tell me"]
    assert len(stt.engine.calls) == 1 and stt.counters["speculative_used"] == 1
    assert stt.counters["eot_incomplete"] == 1


async def test_a_model_over_its_budget_leaves_the_pause_to_the_silence_rule(stt):
    stt.engine, stt.turn = SlowWhisper(0.05, "Will it rain tomorrow?"), SlowTurn(0.6, 0.9)
    t = [time.monotonic_ns()]
    await _feed(stt, 0.6, True, t)
    await _feed(stt, 0.45, False, t)  # the 300 ms budget runs out inside the 500 ms silence window
    await _until(lambda: _of(stt, "transcript-partial"))
    assert stt.counters["eot_late"] == 1
    assert [x["text"] for x in _of(stt, "transcript-partial")] == ["Will it rain tomorrow?"]
    assert not _of(stt, "transcript")  # not committed by the model: the silence window decides
    await _feed(stt, 0.2, False, t)
    await _until(lambda: _of(stt, "transcript"))
    tr = _of(stt, "transcript")
    assert len(tr) == 1 and "eot_commit_ns" not in tr[0]["timings"]
    stt.turn.done.wait(2)  # its answer, when it comes, changes nothing
    await asyncio.sleep(0.05)
    assert stt.counters["eot_complete"] == 0 and len(_of(stt, "transcript")) == 1
