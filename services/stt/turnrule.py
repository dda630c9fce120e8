"""Does this pause end the turn? Pure rules over smart-turn's verdict and the pause's words.

At a short pause stt asks smart-turn (about 0.1-0.3 s) and starts Whisper on the same
audio at the same moment, instead of one after the other: on a loaded 2-core CPU the
two in a row cost more than the fixed silence window they were meant to beat. So the
answer comes in two halves, in either order, and these rules say what stt does with
each combination. They are functions of plain values (no threads, no bus), so every
combination, and the degrade-on-budget rule, is tested without processes
(tests/unit/stt/test_turnrule.py), as the watchdog's rules are.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.stt.endofturn import dangling

#: The model heard a finished turn.
COMPLETE = "complete"
#: The model heard a thinking pause.
INCOMPLETE = "incomplete"
#: No usable verdict (no model, the model busy, or a call over its budget): the silence rule decides.
SILENCE = "silence"
#: The model leans to complete but is not sure (TURN_COMPLETE_PROB <= P < TURN_SURE_PROB): the words decide.
UNSURE = "unsure"

#: How the segmenter's silence window runs after a step (see services/stt/vad.py Segmenter).
WAIT = "wait"  # ``pending``: it waits for the missing half, within TURN_BUDGET_MS
RULE = "rule"  # the usual VAD_MIN_SILENCE_MS window
HOLD = "hold"  # a thinking pause: up to TURN_MAX_SILENCE_MS

#: Speech shorter than this is never committed by the model alone: the silence window decides.
#: Why: a call-out before the request ("Hey Luna," 0.86 s, then a comma pause) is where
#: both halves are least sure: smart-turn hears a finished phrase and tiny.en hears
#: "Hey, you know", so the turn was cut before "tell me a short joke". A short answer
#: that really is complete ("sim", "obrigado") only waits out the usual window.
MIN_COMMIT_SPEECH_MS = 1000


#: Languages in which Whisper's "?" ends a turn the model is unsure of. Why not Portuguese:
#: there Whisper base writes "?" at inner pauses of questions ("Qual é a diferença entre uma
#: lista?" | "E uma tupla em Python"), and the commit cut them in two; on bench_pt_voice's 20
#: sentences that took Luna's ears from +1.2 to +3.5 WER points over the bare model. In
#: Portuguese the silence window decides an unsure pause, as it does without the band.
QUESTION_ENDS_UNSURE = frozenset({"en"})


@dataclass(frozen=True)
class Step:
    """What stt does now with one pause."""

    silence: str  # WAIT, RULE or HOLD
    publish: bool = False  # the pause's words go out as a transcript-partial (the brain may start)
    commit: bool = False  # the turn ends now; the pause's words are its final transcript
    mid_phrase: bool = False  # the model said complete, but the words stop on one that needs more


def verdict(prob: float, call_ms: float, threshold: float, budget_ms: float, sure: float | None = None) -> str:
    """The model's answer for one pause. A call slower than its budget is no answer: on a
    loaded CPU the silence rule is faster than waiting for it, and its next answers would
    queue behind this one.

    Between ``threshold`` and ``sure`` the model is unsure (UNSURE), and the words decide:
    on the Portuguese speech set, pauses inside a sentence scored 0.64-0.85 as often as
    real ends did (6 of 20 ends below 0.85, 6 of 20 inner pauses between 0.6 and 0.85).
    Calling those complete cut sentences in two; calling them incomplete held real ends
    for TURN_MAX_SILENCE_MS. ``sure`` None: no band (every P >= threshold is complete)."""
    if call_ms > budget_ms:
        return SILENCE
    if prob < threshold:
        return INCOMPLETE
    return COMPLETE if sure is None or prob >= sure else UNSURE


def decide(v: str | None, words: str | None, language: str = "", speech_ms: float | None = None) -> Step:
    """The step for verdict ``v`` (None: the model is still thinking) and the pause's
    transcript ``words`` (None: Whisper is still running).

    - still thinking: wait for the model (the words are not published before it speaks,
      so a thinking pause never sends the brain off on half a question);
    - incomplete: hold (the words are kept: if no voice comes back they are the final
      transcript, no second Whisper pass), unless the words are a whole question (see
      :func:`asked`): then the usual silence window decides, as without a model;
    - unsure: once the words are in, hold if they end mid-phrase (as a complete verdict does: the
      model leans to complete, the words say it is not), commit if they are a whole question
      (:func:`asked`) in a language of QUESTION_ENDS_UNSURE, else publish them and let the silence
      window decide;
    - silence rule: publish the words as a pause partial once they are in, as without a model;
    - complete: commit the moment the words are in, unless they end mid-phrase ("eu queria
      saber se", "can you tell me"), which a flat voice can hide from the model's ear, or
      the speech so far (``speech_ms``) is too short to trust (MIN_COMMIT_SPEECH_MS): then
      the words go out as a pause partial and the silence window ends the turn.
    """
    if v is None:
        return Step(WAIT)
    if v == INCOMPLETE:
        if words is not None and asked(words, language):
            return Step(RULE, publish=True)
        return Step(HOLD)
    if v == UNSURE:
        if words is None:
            return Step(WAIT)
        if words.strip() and dangling(words.strip(), language):
            return Step(HOLD, mid_phrase=True)  # leaning to complete on a word that needs more: as complete
        if ends_unsure(words, language):  # a whole question, and the model leans to complete: as sure
            return Step(RULE, publish=True, commit=speech_ms is None or speech_ms >= MIN_COMMIT_SPEECH_MS)
        return Step(RULE, publish=True)
    if v == SILENCE:
        return Step(RULE, publish=words is not None)
    if words is None:
        return Step(WAIT)
    if words.strip() and dangling(words.strip(), language):
        return Step(HOLD, mid_phrase=True)
    if speech_ms is not None and speech_ms < MIN_COMMIT_SPEECH_MS:
        return Step(RULE, publish=True)
    return Step(RULE, publish=True, commit=True)


def asked(words: str, language: str = "") -> bool:
    """Whisper heard a whole question or exclamation: it ends on "?" or "!" and not on a word
    that needs more.

    Why: smart-turn called 4 of 12 spoken English questions of the TTFA bench incomplete
    ("How many legs does a spider have?", "What is 2 plus 2?"), and each waited out
    TURN_MAX_SILENCE_MS (1.6 s) instead of the 0.5 s silence window. Whisper's "?" comes
    from the same audio's intonation and words; a thinking pause ends on "se", "the",
    "..." (services/stt/endofturn.dangling) or no mark. Only "?" and "!": Whisper ends
    nearly everything else with a period, thinking pauses included.
    """
    w = words.strip()
    return w.endswith(("?", "!")) and not w.endswith(("?...", "…")) and not dangling(w, language)


def ends_unsure(words: str, language: str = "") -> bool:
    """An unsure pause's words end the turn: a whole question (:func:`asked`) in a language of
    QUESTION_ENDS_UNSURE."""
    return language.split("-")[0] in QUESTION_ENDS_UNSURE and asked(words, language)
