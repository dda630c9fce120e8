"""Intent router: labelled set accuracy, the seed's misses, cost, and the `luna route` CLI."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from services.brain.router import Intent, detect_intent, normalize, route_main

DATA = Path(__file__).resolve().parents[2] / "support" / "data" / "intents.tsv"


def _cases() -> list[tuple[str, str, bool]]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, intent, img = line.split("\t")
        out.append((text, intent, img.strip() == "1"))
    return out


def test_labelled_set_accuracy() -> None:
    cases = _cases()
    assert len(cases) >= 150
    wrong = []
    for text, want, img in cases:
        got = detect_intent(text, img).value
        if got != want:
            wrong.append(f"  {want:>6} -> {got:<6} {text}")
    acc = 1 - len(wrong) / len(cases)
    by_intent = {i.value: sum(1 for c in cases if c[1] == i.value) for i in Intent}
    print(f"\nrouter accuracy {acc:.3f} on {len(cases)} utterances {by_intent}; misses:\n" + "\n".join(wrong))
    assert acc >= 0.9


@pytest.mark.parametrize("text,want", [
    ("escreve uma função em Python", Intent.CODE),
    ("ESCREVE UMA FUNÇÃO", Intent.CODE),
    ("faça um código que some dois números", Intent.CODE),
    ("o que você vê?", Intent.VISION),
    ("O QUE VOCÊ VÊ?", Intent.VISION),
    ("faz um favor pra mim", Intent.CHAT),
    ("me dá uma regex de CEP", Intent.CODE),
    ("roda o pytest", Intent.CODE),
    ("lê esse parquet", Intent.CODE),
    ("medida DAX", Intent.CODE),
    ("list comprehension", Intent.CODE),
    ("/Ajuda", Intent.SYSTEM),
    ("/historico 3", Intent.SYSTEM),
    ("/novamente não é comando", Intent.CHAT),
])
def test_seed_misses_fixed(text: str, want: Intent) -> None:
    assert detect_intent(text) is want


def test_image_is_vision_unless_system() -> None:
    assert detect_intent("oi", has_image=True) is Intent.VISION
    assert detect_intent("escreve uma função", has_image=True) is Intent.VISION
    assert detect_intent("/nova", has_image=True) is Intent.SYSTEM


def test_normalize() -> None:
    assert normalize("  Código  FUNÇÃO faça Você ") == "codigo funcao faca voce"


def test_routing_cost_under_a_millisecond() -> None:
    cases = _cases()
    t0 = time.perf_counter()
    n = 0
    for _ in range(5):
        for text, _want, img in cases:
            detect_intent(text, img)
            n += 1
    per_call_us = (time.perf_counter() - t0) / n * 1e6
    print(f"\nrouting cost {per_call_us:.1f} us per call (mean over {n})")
    assert per_call_us < 1000


def test_route_main_prints_intent_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert route_main(["escreve", "uma", "regex"]) == 0
    assert capsys.readouterr().out.split()[0] == "code"
    assert route_main(["o que é isso", "--image"]) == 0
    assert capsys.readouterr().out.split()[0] == "vision"
    assert route_main(["/ajuda"]) == 0
    assert capsys.readouterr().out.split()[0] == "system"
    assert route_main([]) == 2
