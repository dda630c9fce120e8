"""stt's end-of-turn rules (services/stt/turnrule.py): smart-turn and Whisper answer one pause together.

Every order in which the two halves can come in is a row here; what the person sees
is in the step: whether the brain may start on the words, whether the turn ends now,
how long stt keeps listening.
"""

from __future__ import annotations

import pytest

from services.stt.turnrule import (
    COMPLETE,
    HOLD,
    INCOMPLETE,
    MIN_COMMIT_SPEECH_MS,
    RULE,
    SILENCE,
    UNSURE,
    WAIT,
    Step,
    decide,
    verdict,
)


@pytest.mark.parametrize(("prob", "ms", "expected"), [
    (0.9, 120.0, COMPLETE),
    (0.5, 350.0, COMPLETE),  # at the threshold and exactly on budget: still the model's answer
    (0.2, 120.0, INCOMPLETE),
    (0.9, 351.0, SILENCE),  # sure, but too late: a loaded CPU hands the pause to the silence rule
    (0.1, 900.0, SILENCE),
])
def test_verdict_degrades_to_the_silence_rule_over_budget(prob, ms, expected):
    assert verdict(prob, ms, threshold=0.5, budget_ms=350) == expected


@pytest.mark.parametrize(("prob", "expected"), [
    (0.95, COMPLETE), (0.85, COMPLETE),
    (0.84, UNSURE), (0.5, UNSURE),  # unsure: neither cut the sentence nor hold a real end for 1.6 s
    (0.49, INCOMPLETE),
])
def test_between_the_threshold_and_sure_the_silence_rule_decides(prob, expected):
    assert verdict(prob, 120.0, threshold=0.5, budget_ms=350, sure=0.85) == expected


def test_an_unsure_verdict_lets_the_words_decide():
    assert decide(UNSURE, None) == Step(WAIT)
    assert decide(UNSURE, "What is 2 plus 2?", "en") == Step(RULE, publish=True, commit=True)
    assert decide(UNSURE, "Escreva uma consulta.", "pt") == Step(RULE, publish=True)  # the silence window
    # ends on a word that needs more: held, as a complete verdict on those words is ("Can you tell me",
    # P 0.76 from smart-turn on espeak-ng's voice, was cut by the silence window at a 1 s thinking pause)
    assert decide(UNSURE, "Eu queria saber se?", "pt") == Step(HOLD, mid_phrase=True)
    assert decide(UNSURE, "Can you tell me?", "en") == Step(HOLD, mid_phrase=True)
    # Portuguese: Whisper's "?" at an inner pause ("...entre uma lista?" | "E uma tupla") is not an end
    assert decide(UNSURE, "Qual é a diferença entre uma lista?", "pt") == Step(RULE, publish=True)
    assert decide(COMPLETE, "Qual é a diferença entre uma lista?", "pt") == Step(RULE, publish=True, commit=True)


def test_a_complete_verdict_commits_only_once_the_words_are_in():
    assert decide(COMPLETE, None) == Step(WAIT)  # the model was faster than Whisper: wait for the words
    assert decide(None, "Will it rain tomorrow?", "en") == Step(WAIT)  # Whisper was faster: wait for the model
    assert decide(COMPLETE, "Will it rain tomorrow?", "en") == Step(RULE, publish=True, commit=True)
    assert decide(COMPLETE, "Vai chover amanhã em São Paulo?", "pt") == Step(RULE, publish=True, commit=True)


def test_a_complete_verdict_on_words_that_stop_mid_phrase_keeps_listening():
    for words, lang in (("Can you tell me", "en"), ("Eu queria saber se", "pt"), ("What about the", "en")):
        step = decide(COMPLETE, words, lang)
        assert step == Step(HOLD, mid_phrase=True), words
        assert not step.publish and not step.commit


def test_a_complete_verdict_on_a_short_call_out_leaves_the_end_to_the_silence_window():
    # "Hey Luna," then a comma pause: 0.86 s of speech is too little to end the turn on
    assert decide(COMPLETE, "Hey Luna.", "en", speech_ms=860) == Step(RULE, publish=True)
    assert decide(COMPLETE, "Oi Luna.", "pt", speech_ms=MIN_COMMIT_SPEECH_MS - 1) == Step(RULE, publish=True)
    assert decide(COMPLETE, "Vai chover amanhã?", "pt", speech_ms=MIN_COMMIT_SPEECH_MS) == Step(
        RULE, publish=True, commit=True)
    assert decide(COMPLETE, "Can you tell me", "en", speech_ms=500) == Step(HOLD, mid_phrase=True)


def test_an_incomplete_verdict_holds_and_never_publishes_unless_the_words_are_a_whole_question():
    for words in (None, "", "Can you tell me", "Eu queria saber se...", "I would like to know.", "What about the?"):
        assert decide(INCOMPLETE, words, "en") == Step(HOLD), words
    for words, lang in (("How many legs does a spider have?", "en"), ("Qual é a capital da França?", "pt"),
                        ("Que legal!", "pt")):
        assert decide(INCOMPLETE, words, lang) == Step(RULE, publish=True), words  # the silence window decides


def test_the_silence_rule_publishes_the_pause_partial_as_soon_as_it_is_in():
    assert decide(SILENCE, None) == Step(RULE)  # the silence window runs; nothing to publish yet
    assert decide(SILENCE, "Can you tell me", "en") == Step(RULE, publish=True)  # no words check without a model


def test_empty_words_with_a_complete_verdict_end_the_turn():
    """Whisper heard nothing (a cough the VAD took for speech): the turn ends, nothing is published
    (stt's publish step skips empty text), instead of listening on for 1.6 s."""
    assert decide(COMPLETE, "  ", "en") == Step(RULE, publish=True, commit=True)
