"""stt's pieces on real speech: silero VAD (ONNX, no torch), the segmenter, Whisper, the echo filter."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from services.stt.echo import EchoFilter
from services.stt.engines import load_local, wav_bytes
from services.stt.vad import CHUNK, Segmenter, SileroVAD
from tests.support.audio import espeak_speech, piper_speech, silence, to_16k, wer

Q1 = "Please open the terminal and show me the files in my home folder."  # Piper voice
Q2 = "Can you tell me what the weather will be like in London tomorrow morning?"  # espeak-ng


@pytest.fixture(scope="module")
def vad():
    return SileroVAD()


@pytest.fixture(scope="module")
def whisper():
    eng, why = load_local("", "int8", "en")  # empty name, English: the bundled tiny.en
    assert why and eng.model.startswith("tiny.en")
    return eng


def _probs(vad, audio):
    vad.reset()
    return [vad.prob(audio[i:i + CHUNK].astype(np.float32) / 32768) for i in range(0, len(audio) - CHUNK, CHUNK)]


def test_vad_without_torch(vad):
    assert "torch" not in sys.modules
    assert "silero_vad" not in sys.modules  # only its data file is used


def test_vad_speech_vs_silence(vad):
    speech = to_16k(*piper_speech(Q1))
    p_speech = _probs(vad, speech)
    p_sil = _probs(vad, silence(2.0))
    rng = np.random.default_rng(0)
    p_noise = _probs(vad, (rng.normal(0, 300, 32000)).astype(np.int16))
    assert np.mean(np.array(p_speech) > 0.5) > 0.5
    assert max(p_sil) < 0.2 and np.mean(np.array(p_noise) > 0.5) < 0.05


def _run(seg, audio, t0=0):
    events = []
    for i in range(0, len(audio), 320):
        events += seg.feed(audio[i:i + 320], t0 + i * 62_500)
    return events


def test_segmenter_cuts_two_utterances(vad):
    vad.reset()
    a = to_16k(*piper_speech(Q1))
    b = to_16k(*espeak_speech(Q2))
    audio = np.concatenate([silence(0.5), a, silence(1.0), b, silence(1.0)])
    ev = _run(Segmenter(vad, min_silence_ms=500), audio)
    assert [e.kind for e in ev] == ["start", "end", "start", "end"]
    # start is reported near the real onset (within the 200 ms pad + one chunk)
    assert abs(ev[0].t_ns / 1e9 - 0.5) < 0.25
    assert abs(ev[2].t_ns / 1e9 - (1.5 + len(a) / 16000)) < 0.3
    for e, src in ((ev[1], a), (ev[3], b)):
        assert e.audio is not None and abs(len(e.audio) - len(src)) / 16000 < 0.6


def test_segmenter_silence_and_clicks_make_no_events(vad):
    vad.reset()
    assert _run(Segmenter(vad), silence(3.0)) == []
    click = np.zeros(16000, np.int16)
    click[8000:8100] = 20000
    assert _run(Segmenter(vad), click) == []


def test_segmenter_cuts_long_speech(vad):
    vad.reset()
    a = to_16k(*piper_speech("This is a long sentence that keeps going and going without any pause at all."))
    ev = _run(Segmenter(vad, max_s=1.5, min_silence_ms=1000), np.concatenate([a, silence(1.5)]))
    ends = [e for e in ev if e.kind == "end"]
    assert len(ends) >= 2 and ends[0].forced
    assert all(len(e.audio) <= 1.5 * 16000 + CHUNK for e in ends if e.forced)


def test_whisper_tiny_en_on_two_voices(whisper):
    for text, (audio, rate) in ((Q1, piper_speech(Q1)), (Q2, espeak_speech(Q2))):
        r = whisper.transcribe(to_16k(audio, rate))
        assert wer(text, r.text) <= 0.10, r.text
        assert r.language == "en"


def test_whisper_silence_is_empty_or_short(whisper):
    r = whisper.transcribe(silence(1.0))
    assert len(r.text.split()) <= 3


def test_fallback_names_the_reason(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    eng, why = load_local("small", "int8", "en")
    assert "STT_LOCAL=small" in why and eng.model == "tiny.en (bundled)"


def test_echo_filter():
    e = EchoFilter(window_s=10)
    e.said("The weather in Paris is sunny today.", now=100.0)
    assert e.is_echo("the weather in paris is sunny", now=101.0)
    assert e.is_echo("Weather in Paris is sunny today!", now=105.0)
    assert not e.is_echo("What time is it in Tokyo?", now=101.0)
    assert not e.is_echo("the weather in paris is sunny", now=120.0)  # too long ago
    assert not e.is_echo("", now=101.0)


def test_wav_bytes_header():
    b = wav_bytes(np.zeros(160, np.int16))
    assert b[:4] == b"RIFF" and len(b) == 44 + 320


def test_segmenter_pause_event_for_speculative_transcription(vad):
    vad.reset()
    a = to_16k(*piper_speech(Q1))
    audio = np.concatenate([silence(0.3), a, silence(0.25), a, silence(1.0)])
    ev = _run(Segmenter(vad, min_silence_ms=500, spec_ms=150), audio)
    kinds = [e.kind for e in ev]
    # a pause inside the utterance (speech resumed: the guess is not used), and one before the end
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("pause") >= 2
    assert kinds.index("pause") < len(kinds) - 2
    # every pause but the last was followed by a "resume" (they went on): that guess is retracted
    after = [kinds[i + 1] for i, k in enumerate(kinds[:-1]) if k == "pause"]
    assert after[:-1] == ["resume"] * (len(after) - 1) and after[-1] == "end"
    assert kinds.count("resume") == kinds.count("pause") - 1
    last_pause = [e for e in ev if e.kind == "pause"][-1]
    end = ev[-1]
    # the guess covered the same speech; at most some trailing pad of silence differs
    n = len(last_pause.audio)
    assert end.same_as_pause and np.array_equal(last_pause.audio, end.audio[:n])
    assert 0 <= len(end.audio) - n <= 200 * 16 and not end.audio[n:].any()
    ev2 = _run(Segmenter(vad, min_silence_ms=500, spec_ms=0), audio)
    assert "pause" not in [e.kind for e in ev2] and not ev2[-1].same_as_pause


def test_segmenter_follows_capture_clock_across_gaps(vad):
    vad.reset()
    a = to_16k(*piper_speech(Q1))
    seg = Segmenter(vad)
    _run(seg, silence(1.0), t0=0)
    ev = _run(seg, np.concatenate([silence(0.5), a, silence(1.0)]), t0=10_000_000_000)  # 9 s gated away
    start = [e for e in ev if e.kind == "start"][0]
    assert abs(start.t_ns / 1e9 - 10.5) < 0.25


def test_shorter_minimum_while_luna_speaks(vad):
    """A 190 ms word is dropped as a click normally, and is speech while Luna speaks (barge-in with AEC)."""
    a = to_16k(*piper_speech("Wait.", steady=True))
    on = np.flatnonzero(np.abs(a) > 500)
    word = a[on[0]:on[0] + int(0.19 * 16000)]  # what AEC3 lets through of it during double talk
    audio = np.concatenate([silence(0.5), word, silence(1.0)])
    seg = Segmenter(vad, min_speech_ms=250, barge_min_speech_ms=150)
    vad.reset()
    assert [e.kind for e in _run(seg, audio)] == []
    seg.luna_speaking(True)
    vad.reset()
    assert [e.kind for e in _run(seg, audio)] == ["start", "end"]
    seg.luna_speaking(False)  # idle: back to the usual minimum
    vad.reset()
    assert seg.min_speech_ms == 250 and [e.kind for e in _run(seg, audio)] == []
    plain = Segmenter(vad, min_speech_ms=250)  # ECHO_MODE != aec: no second minimum
    plain.luna_speaking(True)
    assert plain.min_speech_ms == 250
