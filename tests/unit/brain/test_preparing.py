"""services/brain/preparing.py: which turns wait for llama.cpp, and which one is answered when it is in."""

from __future__ import annotations

from services.brain.fallback import Choice
from services.brain.preparing import Held, Waiting, can_answer_now, should_hold
from shared.llama_build import ABSENT, BUILDING, DONE, FAILED, Build

OLLAMA = Choice("ollama", "dolphin-mistral")
GEMINI = Choice("gemini", "gemini-2.5-flash")
EMBEDDED = Choice("embedded", "qwen2.5-coder-0.5b")
BUILD = Build(BUILDING, "78/140", "/v/llama-build.log")


def no_key(_provider: str) -> bool:
    return False


def test_a_turn_waits_only_while_the_build_runs_and_nothing_else_can_answer() -> None:
    assert should_hold(BUILD, "chat", [OLLAMA], False, no_key)
    assert should_hold(BUILD, "code", [OLLAMA], False, no_key)
    assert not should_hold(BUILD, "chat", [OLLAMA], True, no_key)  # Ollama is up: it answers
    assert not should_hold(BUILD, "chat", [OLLAMA, GEMINI], False, lambda p: p == "gemini")  # a paid key answers
    assert should_hold(BUILD, "chat", [OLLAMA, GEMINI], False, no_key)  # no key: Gemini cannot
    assert not should_hold(BUILD, "vision", [OLLAMA], False, no_key)  # the embedded model cannot see anyway
    for other in (Build(DONE), Build(FAILED), Build(ABSENT)):  # no build running: the usual path and its errors
        assert not should_hold(other, "chat", [OLLAMA], False, no_key)


def test_the_embedded_model_in_the_chain_answers() -> None:
    assert can_answer_now([OLLAMA, EMBEDDED], False, no_key)
    assert not can_answer_now([], False, no_key)


def test_one_turn_is_held_and_a_continued_one_is_let_go() -> None:
    w = Waiting()
    assert w.take() is None
    w.hold(Held("oi Luna", "chat", "t0", "", False))
    w.drop("t9")  # another turn: nothing changes
    w.hold(Held("qual é a capital do Brasil?", "chat", "t1", "", True))  # the newer one takes the slot
    assert w.held is not None and w.held.turn_id == "t1"
    w.drop("t1")  # stt joined it into the next utterance: that one is held instead
    assert w.take() is None
    w.hold(Held("tudo bem?", "chat", "t2", "", False))
    assert w.take() == Held("tudo bem?", "chat", "t2", "", False) and w.take() is None
