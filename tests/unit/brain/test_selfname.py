"""The assistant's own name as a vocative leaves a reply; every other use of it stays."""

from __future__ import annotations

import random

import pytest

from services.brain.selfname import SelfAddress

CASES = [
    ("Olá, Luna! Como posso ajudar você hoje?", "Olá! Como posso ajudar você hoje?"),
    ("Luna, você está bem! A semana tem 7 dias.", "Você está bem! A semana tem 7 dias."),
    ("Oi Luna! Tudo bem?", "Oi! Tudo bem?"),
    ("Estou bem, Luna. O mar está calmo.", "Estou bem. O mar está calmo."),
    ("Hi Luna, how are you?", "Hi, how are you?"),
    # kept: the name as a name
    ("Eu sou a Luna, sua assistente pessoal.", "Eu sou a Luna, sua assistente pessoal."),
    ("Olá! Eu sou a Luna.", "Olá! Eu sou a Luna."),
    ("Luna é o meu nome.", "Luna é o meu nome."),
    ("A Lunar eclipse, Lunático.", "A Lunar eclipse, Lunático."),
    ("A capital da França, Paris.", "A capital da França, Paris."),
]


def stream(text: str, cuts: list[int]) -> tuple[str, list[str]]:
    f = SelfAddress()
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    out = [f.feed(p) for p in pieces]
    out.append(f.flush())
    return "".join(out), out


@pytest.mark.parametrize(("reply", "shown"), CASES)
def test_the_vocative_goes_however_the_tokens_fall(reply: str, shown: str) -> None:
    rng = random.Random(reply)
    for _ in range(30):  # word tokens, character tokens and random splits all give the same text
        cuts = sorted(rng.sample(range(1, len(reply)), rng.randint(1, min(12, len(reply) - 1))))
        assert stream(reply, cuts)[0] == shown
    assert stream(reply, list(range(1, len(reply))))[0] == shown


def test_only_a_possible_vocative_is_held_back() -> None:
    """The first clause is not delayed: every word is out as soon as the next one shows it is no vocative."""
    words = "A capital do Brasil é Brasília, Luna. Eu sou a Luna".split(" ")
    f = SelfAddress()
    out = [f.feed(("" if i == 0 else " ") + w) for i, w in enumerate(words)]
    assert out[:5] == ["A", " capital", " do", " Brasil", " é"]  # word by word
    assert out[5] == " Brasília"  # its comma waits for the word after it
    assert out[6] == "."  # ", Luna." addressed the user: gone
    assert "".join(out) + f.flush() == "A capital do Brasil é Brasília. Eu sou a Luna"
    assert f.removed == 1
