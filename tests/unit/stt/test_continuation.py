"""The segmenter goes on with the last utterance when voice comes back within STT_CONTINUE_MS.

No processes: the real Segmenter fed synthetic 32 ms chunks with a loudness VAD. Each
chunk's samples carry their index, so a test can tell which audio an event holds.
"""

from __future__ import annotations

import numpy as np

from services.stt.vad import CHUNK, RATE, Segmenter

CHUNK_NS = CHUNK * 1_000_000_000 // RATE


class LoudIsSpeech:
    def prob(self, chunk: np.ndarray) -> float:
        return 0.95 if float(np.abs(chunk).max()) * 32768 > 1000 else 0.02


def _seg(**kw: int) -> Segmenter:
    return Segmenter(LoudIsSpeech(), min_silence_ms=500, min_speech_ms=100, pad_ms=64,
                     continue_ms=kw.pop("continue_ms", 1000), **kw)


def _feed(seg: Segmenter, chunks: int, loud: bool, t: list[int], mark: int = 0) -> list:
    """``chunks`` chunks of voice (the value 8000 + ``mark``) or silence; the events."""
    out = []
    for _ in range(chunks):
        pcm = (np.full(CHUNK, 8000 + mark) if loud else np.zeros(CHUNK)).astype(np.int16)
        out += seg.feed(pcm, t[0])
        t[0] += CHUNK_NS
    return out


def _ends(events: list) -> list:
    return [e for e in events if e.kind == "end"]


def _speak_then_pause(seg: Segmenter, t: list[int], pause_chunks: int) -> object:
    (first,) = _ends(_feed(seg, 30, True, t, mark=1) + _feed(seg, pause_chunks, False, t))
    return first


def test_voice_back_within_the_window_continues_with_both_halves_audio():
    seg, t = _seg(), [0]
    first = _speak_then_pause(seg, t, 25)  # "Desculpe," then 800 ms of silence (the end came at 500)
    assert not first.continues
    events = _feed(seg, 30, True, t, mark=2) + _feed(seg, 20, False, t)  # "eu não entendi a sua pergunta."
    starts = [e for e in events if e.kind == "start"]
    (second,) = _ends(events)
    assert starts and starts[0].continues and second.continues
    values = set(np.unique(second.audio).tolist())
    assert {8001, 8002} <= values  # Whisper hears both halves in one pass
    assert np.array_equal(second.audio[:len(first.audio)], first.audio)
    # the pause between them is only the two pads, not the 800 ms that were said
    gap = len(second.audio) - len(first.audio) - 30 * CHUNK
    assert gap <= 2 * 3 * CHUNK + 64 * RATE // 1000


def test_voice_after_the_window_is_a_new_utterance():
    seg, t = _seg(), [0]
    _speak_then_pause(seg, t, 40)  # 1.28 s of silence: past the 1 s window
    (second,) = _ends(_feed(seg, 30, True, t, mark=2) + _feed(seg, 20, False, t))
    assert not second.continues and 8001 not in np.unique(second.audio)


def test_off_forgotten_or_after_a_forced_cut_nothing_is_joined():
    seg, t = _seg(continue_ms=0), [0]
    _speak_then_pause(seg, t, 20)
    assert not _ends(_feed(seg, 30, True, t, mark=2) + _feed(seg, 20, False, t))[0].continues

    seg, t = _seg(), [0]
    _speak_then_pause(seg, t, 20)
    seg.forget_last()  # stt dropped those words (an echo of Luna, a bare call)
    assert not _ends(_feed(seg, 30, True, t, mark=2) + _feed(seg, 20, False, t))[0].continues

    seg, t = Segmenter(LoudIsSpeech(), min_silence_ms=500, min_speech_ms=100, max_s=1.5, continue_ms=1000), [0]
    (cut,) = _ends(_feed(seg, 60, True, t, mark=1))  # the length limit cut it mid-speech
    assert cut.forced
    rest = _ends(_feed(seg, 5, True, t, mark=1) + _feed(seg, 20, False, t))
    assert rest and not rest[0].continues


def test_a_click_in_the_pause_neither_ends_nor_loses_the_utterance_to_go_on_with():
    seg, t = _seg(), [0]
    _speak_then_pause(seg, t, 17)
    assert _ends(_feed(seg, 2, True, t, mark=3) + _feed(seg, 4, False, t)) == []  # 64 ms: a click, not speech
    (second,) = _ends(_feed(seg, 30, True, t, mark=2) + _feed(seg, 20, False, t))
    assert second.continues and {8001, 8002} <= set(np.unique(second.audio).tolist())


def test_pause_and_turn_model_events_carry_the_joined_audio():
    seg, t = _seg(spec_ms=64, eot_ms=64), [0]
    first = _speak_then_pause(seg, t, 20)
    events = _feed(seg, 30, True, t, mark=2) + _feed(seg, 4, False, t)
    for kind in ("pause", "eot"):
        (ev,) = [e for e in events if e.kind == kind]
        assert ev.continues and np.array_equal(ev.audio[:len(first.audio)], first.audio)


def test_a_chain_of_pauses_keeps_joining_within_the_length_limit():
    seg, t = _seg(), [0]
    _speak_then_pause(seg, t, 20)
    _ends(_feed(seg, 30, True, t, mark=2) + _feed(seg, 20, False, t))
    (third,) = _ends(_feed(seg, 30, True, t, mark=3) + _feed(seg, 20, False, t))
    assert third.continues and {8001, 8002, 8003} <= set(np.unique(third.audio).tolist())
    seg, t = Segmenter(LoudIsSpeech(), min_silence_ms=500, min_speech_ms=100, max_s=1.8, continue_ms=1000), [0]
    _ends(_feed(seg, 52, True, t, mark=1) + _feed(seg, 20, False, t))  # 1.66 s of voice
    (long_,) = _ends(_feed(seg, 10, True, t, mark=2) + _feed(seg, 20, False, t))
    assert not long_.continues  # with its pad it would pass STT_MAX_UTTERANCE_S: a new utterance


def test_the_pause_is_the_longer_of_audio_time_and_capture_time():
    """A file read fast (CAPTURE_FAST) stamps its frames in a rush: by capture time its 2 s of
    silence took 32 ms, and CI heard two sentences as one. Frames the half-duplex gate held
    back are the other way round: the stamps jump though no audio came. Neither is a short pause."""
    def feed(seg, chunks, loud, t, step_ns, mark=0):
        out = []
        for _ in range(chunks):
            out += seg.feed((np.full(CHUNK, 8000 + mark) if loud else np.zeros(CHUNK)).astype(np.int16), t[0])
            t[0] += step_ns
        return out

    fast, t = _seg(), [0]
    feed(fast, 30, True, t, 1_000_000, mark=1)
    feed(fast, 62, False, t, 1_000_000)  # 2 s of audio in 62 ms of stamps
    events = feed(fast, 30, True, t, 1_000_000, mark=2) + feed(fast, 20, False, t, 1_000_000)
    (second,) = _ends(events)
    assert not second.continues and 8001 not in set(np.unique(second.audio).tolist())

    gated, t = _seg(), [0]
    _speak_then_pause(gated, t, 20)
    t[0] += 3_000_000_000  # 3 s held back by the gate, then the voice is back at once
    (second,) = _ends(_feed(gated, 30, True, t, mark=2) + _feed(gated, 20, False, t))
    assert not second.continues

    short, t = _seg(), [0]  # and the same fast file with a 0.6 s pause still goes on with it
    feed(short, 30, True, t, 1_000_000, mark=1)
    feed(short, 19, False, t, 1_000_000)
    (second,) = _ends(feed(short, 30, True, t, 1_000_000, mark=2) + feed(short, 20, False, t, 1_000_000))
    assert second.continues
