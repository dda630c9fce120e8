"""The 10 s encoder window hears a short question as the 30 s one does (real packaged models)."""

from __future__ import annotations

import pytest

from services.stt.short_context import BUCKETS, FRAMES_PER_S, MIN_PAD_S, window_frames


def test_the_window_keeps_two_seconds_of_silence_after_the_speech_and_falls_back_to_30_s():
    pad = int(MIN_PAD_S * FRAMES_PER_S)
    assert window_frames(300) == 1000  # a 3 s question
    assert window_frames(1000 - pad) == 1000
    assert window_frames(199) == 2000 and window_frames(50) == 2000  # a lone word: 20 s, or it repeats
    assert window_frames(1000 - pad + 1) == 2000  # never less than 2 s of padding
    assert window_frames(2000 - pad + 1) is None  # long speech: faster-whisper's own 30 s path
    assert BUCKETS[-1] == 3000


@pytest.fixture(scope="module")
def portuguese_ears():
    from services.stt.engines import load_fallback

    eng, why = load_fallback("pt")
    assert why is None, why
    return eng


@pytest.mark.parametrize("sentence", ["Qual é a capital da França?", "Oi Luna, tudo bem com você hoje?"])
def test_portuguese_question_heard_the_same_on_the_short_window(portuguese_ears, sentence):
    from services.tts.kokoro import KokoroEngine
    from tests.support.audio import accented_words, to_16k, wer

    audio = to_16k(KokoroEngine().audio(sentence), 24000)
    portuguese_ears.short_context = False
    full = portuguese_ears.transcribe(audio).text
    portuguese_ears.short_context = True
    short = portuguese_ears.transcribe(audio)
    assert short.language == "pt"
    assert wer(sentence, short.text, accented_words) <= wer(sentence, full, accented_words), (full, short.text)
    assert wer(sentence, short.text, accented_words) <= 0.2, short.text


def test_english_ears_on_the_short_window():
    from services.stt.engines import LocalWhisper, bundled_model_path
    from tests.support.audio import piper_speech, to_16k, wer

    eng = LocalWhisper(bundled_model_path(), "int8", "en")
    assert eng.short_context
    for steady in (True, False):  # without VITS noise, and a take with it as the offline test speaks it
        text = eng.transcribe(to_16k(*piper_speech("What is the capital of France?", steady=steady))).text
        assert wer("What is the capital of France?", text) == 0.0, (steady, text)


def test_a_lone_word_is_not_repeated():
    from services.stt.engines import LocalWhisper, bundled_model_path
    from tests.support.audio import piper_speech, to_16k, words

    eng = LocalWhisper(bundled_model_path(), "int8", "en")
    for said in ("Thanks!", "No.", "Hello,"):
        heard = words(eng.transcribe(to_16k(*piper_speech(said, steady=True))).text)
        assert heard == words(said), (said, heard)
