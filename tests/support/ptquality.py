"""Conversation quality: the prompt set, the scores, and one reply the way Luna produces it.

Used by tests/integration/test_pt_conversation.py (a few prompts on the offline model) and by
bench/bench_quality.py (the whole set, per model). The set, tests/support/data/pt_quality.tsv,
is mostly Brazilian Portuguese chit-chat, identity, short facts with one right answer,
and small code requests, with a few English rows answered under ``LANGUAGE=en``.

Scores (why each):

* **reply language** (:func:`reply_lang`): a stop-word vote among Portuguese, English and
  Spanish (the language a small model drifts into from Portuguese), plus CJK script (Qwen
  drifts into Chinese). No language-id package: ``lingua-language-detector`` is a 96 MB
  wheel for a vote between three languages. A reply too short to vote ("Brasília.") counts
  as the expected language when it has no foreign stop word.
* **degeneracy** (:func:`degenerate`): the distinct word 3-gram ratio of the reply as kept
  (after Luna's loop guard) and of the raw model output; looping text repeats 3-grams.
* **fact / identity / code**: the reply contains one of the expected words (accents and
  case ignored), e.g. "capital do Brasil" -> ``brasilia``, "quem é você?" -> ``luna``.
* **latency**: first token and whole reply, wall clock, as the brain's thread sees them.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from services.brain.loopguard import LoopGuard, distinct_ngram_ratio
from services.brain.providers.base import Request
from services.brain.selfname import SelfAddress
from services.brain.soul import Soul, code_prompt, system_prompt

SET = Path(__file__).resolve().parent / "data" / "pt_quality.tsv"

_STOP = {
    "pt": set("não você vocês é são está estou que de do da dos das para com um uma uns umas os as no na nos nas "
              "em se mas o e a tem há ele ela isso esse essa este esta eu sou meu minha seu sua ao pelo pela como mais muito também "
              "posso pode ajudar obrigado obrigada olá oi tudo bem aqui hoje já ou quando porque sim".split()),
    "en": set("the is are and you your to of it its for with that this what i i'm my me can be have has do "
              "hello hi how today not but so an at here there it's am was will would".split()),
    "es": set("el y los las es del usted muy pero hola gracias puedo tengo cómo qué estoy eres soy hoy también "
              "ayudar".split()),
}
_WORD = re.compile(r"[\w']+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_FENCE = re.compile(r"```.*?(```|$)", re.S)


@dataclass(frozen=True)
class Item:
    id: str
    lang: str
    kind: str  # chat | identity | fact | code
    prompt: str
    expect: tuple[str, ...]


def load_set(path: Path = SET) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        cols += [""] * (5 - len(cols))
        iid, lang, kind, prompt, expect = cols[:5]
        items.append(Item(iid, lang, kind, prompt, tuple(e for e in expect.split("|") if e)))
    return items


def fold(text: str) -> str:
    """Lowercase without accents: "Brasília" and "brasilia" match."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def reply_lang(text: str) -> str:
    """``pt`` | ``en`` | ``es`` | ``zh`` (any CJK script) | ``short`` (too few words to vote)."""
    prose = _FENCE.sub(" ", text)
    if _CJK.search(prose):
        return "zh"
    words = [w.lower() for w in _WORD.findall(prose)]
    votes = {lang: sum(w in stop for w in words) for lang, stop in _STOP.items()}
    best = max(votes, key=lambda k: votes[k])
    if votes[best] == 0:
        return "short" if len(words) <= 4 else "unknown"
    ties = [k for k, v in votes.items() if v == votes[best]]
    return best if len(ties) == 1 else "unknown"


def lang_ok(text: str, expected: str) -> bool:
    got = reply_lang(text)
    return got == expected or got == "short"


def degenerate(text: str) -> bool:
    """A reply of 8+ words whose word 3-grams are less than 60% distinct: it loops."""
    return len(_WORD.findall(text)) >= 8 and distinct_ngram_ratio(text) < 0.6


def correct(item: Item, text: str) -> bool:
    t = fold(text)
    return any(fold(e) in t for e in item.expect)


@dataclass
class Reply:
    item: Item
    text: str  # as Luna keeps it (after the loop guard)
    raw: str  # what the model streamed (to its own end with raw_to_end, else to the guard's stop)
    first_s: float
    total_s: float
    cut: str  # the loop guard's reason ("loop", "length"), "timeout", or "" if the reply ended by itself
    called_user_luna: bool = False  # the model addressed the user with Luna's name (taken out of ``text``)


def request(item: Item, model: str = "embedded", max_tokens: int = 256, soul: str = "") -> tuple[Request, str]:
    """The request the brain would build for this prompt in a fresh conversation, and its intent
    (``soul``: another soul text than the default, for the bench's A/B)."""
    intent = "code" if item.kind == "code" else "chat"
    if intent == "code":
        system, temp = code_prompt(item.lang), 0.3
    elif soul:
        system, temp = system_prompt(soul.strip(), item.lang), 0.85
    else:
        with tempfile.TemporaryDirectory() as d:  # the default soul, never the user's file
            system, temp = Soul(Path(d) / "alma.md", lang=item.lang).prompt(), 0.85
    return Request(model=model, messages=[{"role": "user", "content": item.prompt}], system=system,
                   temperature=temp, max_tokens=max_tokens), intent


async def luna_reply(provider, item: Item, max_tokens: int = 256, timeout: float = 120.0,
                     raw_to_end: bool = False, soul: str = "") -> Reply:
    """One reply through ``provider`` with Luna's loop guard and name filter, as
    :meth:`services.brain.turn.Turn.run` runs them.

    ``raw_to_end``: keep reading after the guard stops the reply (up to ``max_tokens``), so
    ``Reply.raw`` is what the model alone would have said: the bench's no-guard baseline.
    ``total_s`` is still the time to the guard's stop, what the user waits.
    """
    req, intent = request(item, max_tokens=max_tokens, soul=soul)
    guard = LoopGuard(intent)
    t0 = time.monotonic()
    first = total = 0.0
    raw: list[str] = []
    stream = provider.stream(req)

    async def run() -> None:
        nonlocal first, total
        async for chunk in stream:
            if not first:
                first = time.monotonic() - t0
            raw.append(chunk)
            if not guard.reason and guard.feed(chunk).stop:
                total = time.monotonic() - t0
                if not raw_to_end:
                    break

    try:
        await asyncio.wait_for(run(), timeout)
    except (TimeoutError, asyncio.TimeoutError):  # a reply that never ends is a result, not a crash
        if not guard.reason:
            guard.reason = "timeout"
    finally:
        await stream.aclose()
    text, names = guard.clean(), SelfAddress()
    if intent != "code":
        text = names.feed(text) + names.flush()
    return Reply(item, text, "".join(raw), first, total or time.monotonic() - t0, guard.reason,
                 called_user_luna=names.removed > 0)
