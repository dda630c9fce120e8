"""Brain parts without processes: speech text (segmenter, cleaning), soul, history, fallback chains, config messages."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.brain import fallback
from services.brain.fallback import Choice, build_chain, open_stream
from services.brain.history import History
from services.brain.history_file import SCHEMA_VERSION
from services.brain.providers.base import MissingKey, ProviderError, Request
from services.brain.soul import DEFAULT, Soul
from services.brain.speculation import speaks_ahead
from services.brain.speech.clean import for_speech, strip_emoji
from services.brain.speech.segmenter import Segmenter, speakable
from shared import config


# -- speech text: segmenter / cleaning ---------------------------------------------------------
def feed_all(seg: Segmenter, text: str, step: int = 3) -> list[str]:
    out = []
    for i in range(0, len(text), step):
        out += seg.feed(text[i:i + step])
    return out + seg.flush()


def test_segmenter_splits_sentences_as_they_complete() -> None:
    seg = Segmenter()
    assert seg.feed("Olá! Tudo") == ["Olá!"]
    assert seg.feed(" bem? Eu sou") == ["Tudo bem?"]
    assert seg.flush() == ["Eu sou"]


def test_segmenter_abbreviations_numbers_and_lists() -> None:
    out = feed_all(Segmenter(), "O Dr. Silva custa 3.50 reais. Itens:\n- um\n- dois\nFim.")
    assert out[:2] == ["O Dr. Silva", "custa 3.50 reais."]  # the first piece: a whole word, but not "O" or "O Dr."
    assert "um" in out and "dois" in out and out[-1] == "Fim."


def test_segmenter_code_block_is_announced_not_read() -> None:
    text = "Aqui está:\n```python\ndef f(x):\n    return x. # not a sentence\n```\nPronto. Outro:\n```js\nx()\n```\nFim."
    out = feed_all(Segmenter("pt"), text, step=2)
    assert out == ["Aqui", "está:", "o código está na tela.", "Pronto.", "Outro:", "Fim."]
    assert feed_all(Segmenter("en"), "See:\n```\nx\n```\n")[1] == "the code is on screen."


def test_segmenter_hands_tts_only_what_the_voice_says() -> None:
    """tts synthesizes what it receives: a bare URL, a link's target, a table's pipes and ⏰ never reach it."""
    text = ("Links úteis:\n- https://docs.python.org/3/\n- [pandas](https://pandas.pydata.org) ⏰\n\n"
            "| Nome | Idade |\n| Ana | 30 |\n\nBoa sorte! 🎉 ")
    assert feed_all(Segmenter("pt"), text) == ["Links", "úteis:", "pandas", "Nome Idade", "Ana 30", "Boa sorte!"]
    assert speakable("Veja:\n```py\nx = 1\n```\nPronto.", "pt") == "Veja: o código está na tela. Pronto."


def test_segmenter_long_run_without_dots_is_cut() -> None:
    out = feed_all(Segmenter(), "palavra, " * 80)
    assert len(out) > 1 and all(len(s) <= 290 for s in out)


def test_postprocess_emoji_and_markdown() -> None:
    assert strip_emoji("Oi 😀 tudo bem? 👍🏽 🇧🇷 ❤️") == "Oi tudo bem? "
    assert for_speech("**Olá**, veja o [site](http://x) e `pip install`! 🎉") == "Olá, veja o site e pip install!"
    assert for_speech("## Título") == "Título"
    assert for_speech("🎉🎉") == ""


@pytest.mark.parametrize("raw,spoken", [
    ("Hello **world**! 😀🎉", "Hello world!"),
    ("# Title\n- one\n- two", "Title one two"),
    ("Use `ls -la` now.", "Use ls -la now."),
    ("See [the docs](https://example.com) or https://x.y/z.", "See the docs or."),
    ("Here:\n```python\nprint(1)\n```\nDone.", "Here: the code is on screen. Done."),
    ("👍", ""),
    ("Dr. Smith paid 3.5 dollars.", "Dr. Smith paid 3.5 dollars."),
    ("snake_case_name and 2*3", "snake_case_name and 2 3"),
])
def test_speakable(raw, spoken):
    """A whole reply as tts receives it (Luna's own replies; the bench): code as one line in LANGUAGE."""
    assert speakable(raw, "en") == spoken


# -- soul -------------------------------------------------------------------------------------
def test_soul_created_from_default_and_reloaded_on_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    soul = Soul()
    assert soul.path == tmp_path / "luna" / "alma.md"
    assert soul.text() == DEFAULT.strip()
    soul.path.write_text("# Alma\nVocê é a Luna pirata.", encoding="utf-8")
    st = soul.path.stat()
    os.utime(soul.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert "pirata" in soul.text() and soul.reloads == 1
    Soul()  # a second start never overwrites the user's file
    assert "pirata" in soul.path.read_text()


# -- history ----------------------------------------------------------------------------------
def test_history_schema_messages_and_window(tmp_path: Path) -> None:
    h = History(tmp_path / "h.db")
    assert h.version == SCHEMA_VERSION
    assert h.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    c = h.new_conversation()
    h.add(c, "user", "primeira pergunta", intent="chat")
    h.add(c, "assistant", "x" * 500, provider="ollama", model="m", intent="chat", timings={"total_ms": 5})
    h.add(c, "user", "segunda", intent="chat")
    msgs = h.messages(c)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["provider"] == "ollama" and msgs[1]["timings"] == {"total_ms": 5}
    assert h.conversations()[0]["title"] == "primeira pergunta"
    # the window keeps the newest messages and starts with the user
    assert [m["content"] for m in h.context(c, 520)] == ["segunda"]
    assert len(h.context(c, 10_000)) == 3
    h.add(c, "assistant", "falhou", ok=False)
    assert len(h.context(c, 10_000)) == 3


def test_history_migrates_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', created REAL NOT NULL,
                                    updated REAL NOT NULL);
        CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL, role TEXT NOT NULL,
                               content TEXT NOT NULL, created REAL NOT NULL);
        INSERT INTO conversations VALUES ('c1', 'antiga', 1, 1);
        INSERT INTO messages(conversation_id, role, content, created) VALUES ('c1', 'user', 'oi', 1);
        PRAGMA user_version=1;
    """)
    db.close()
    h = History(path)
    assert h.version == SCHEMA_VERSION
    m = h.messages("c1")[0]
    assert m["content"] == "oi" and m["provider"] == "" and m["ok"] == 1


# -- config -----------------------------------------------------------------------------------
def test_bad_env_values_name_the_key(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CHAT_PROVIDER=gpt5\nFIRST_TOKEN_TIMEOUT=soon\nCODE_PROVIDER=deepseek\n"
                        "LLM_STALL_TIMEOUT=-3\n")
    s, errors = config.load_lenient(env={}, path=env_file)
    msgs = [str(e) for e in errors]
    assert any(m.startswith("config error: CHAT_PROVIDER: 'gpt5' is not one of") for m in msgs)
    assert any("FIRST_TOKEN_TIMEOUT: 'soon' is not a number" in m for m in msgs)
    assert any("LLM_STALL_TIMEOUT" in m for m in msgs)
    assert any("CODE_PROVIDER: deepseek needs DEEPSEEK_API_KEY" in m for m in msgs)
    assert all("\n" not in m for m in msgs)
    assert s.CHAT_PROVIDER == "local" and s.CODE_PROVIDER == "local"


# -- fallback chains ------------------------------------------------------------------------
def settings(**kw) -> dict:
    s, _ = config.load_lenient(env={k: str(v) for k, v in kw.items()}, path=Path("/nonexistent"))
    return s


def test_chains() -> None:
    s = settings()
    assert build_chain("chat", s, {}) == [Choice("ollama", "dolphin-mistral"), Choice("embedded", "smollm2-135m")]
    assert [c.provider for c in build_chain("vision", s, {})] == ["ollama"]
    s = settings(CODE_PROVIDER="deepseek", DEEPSEEK_API_KEY="sk-x123456", GEMINI_API_KEY="g-123456")
    assert [c.provider for c in build_chain("code", s, {})] == ["deepseek", "gemini", "ollama", "embedded"]
    assert [c.provider for c in build_chain("chat", s, {})] == ["ollama", "embedded", "gemini", "deepseek"]
    ov = {"chat": {"provider": "gemini", "model": "gemini-x"}}
    assert build_chain("chat", s, ov)[0] == Choice("gemini", "gemini-x")
    assert build_chain("chat", settings(), {"chat": {"provider": "openai"}})[0] == Choice("openai", "gpt-4o-mini")


class Scripted:
    """A provider whose stream follows a script: 'ok', 'fail', 'stall', 'empty', 'missing-key'."""

    def __init__(self, name: str, how: str) -> None:
        self.name, self.how, self.closed = name, how, False

    async def stream(self, req: Request) -> AsyncIterator[str]:
        try:
            if self.how == "fail":
                raise ProviderError(f"{self.name}: caiu", "unreachable", self.name)
            if self.how == "stall":
                await asyncio.sleep(30)
            if self.how == "empty":
                return
            yield f"{self.name} "
            yield "responde."
        finally:
            self.closed = True

    async def aclose(self) -> None:
        pass


def run_chain(script: dict[str, str], first_token_timeout: float = 5.0):
    provs = {n: Scripted(n, how) for n, how in script.items()}
    skips: list[tuple[str, str]] = []

    def get(name: str) -> Scripted:
        if provs[name].how == "missing-key":
            raise MissingKey(name, fallback.KEY_OF.get(name, "KEY"))
        return provs[name]

    chain = [Choice(n, "m") for n in script]
    opened = asyncio.run(open_stream(chain, get, lambda c: Request(c.model, []), first_token_timeout,
                                     lambda c, reason, kind: skips.append((c.provider, kind))))
    return opened, skips, provs


def test_fallback_failure_moves_on() -> None:
    opened, skips, provs = run_chain({"ollama": "fail", "embedded": "ok"})
    assert opened.choice.provider == "embedded" and opened.first == "embedded "
    assert skips == [("ollama", "unreachable")] and provs["ollama"].closed


def test_fallback_first_token_timeout_moves_on() -> None:
    t0 = time.monotonic()
    opened, skips, provs = run_chain({"ollama": "stall", "gemini": "ok"}, first_token_timeout=0.3)
    assert opened.choice.provider == "gemini" and skips == [("ollama", "timeout")]
    assert provs["ollama"].closed and time.monotonic() - t0 < 5


def test_fallback_missing_key_is_skipped_and_empty_reply_moves_on() -> None:
    opened, skips, _ = run_chain({"gemini": "missing-key", "openai": "empty", "ollama": "ok"})
    assert opened.choice.provider == "ollama"
    assert skips == [("gemini", "missing-key"), ("openai", "empty")]
    assert opened.skipped[0][1] == "gemini: sem chave (GEMINI_API_KEY vazio no .env), pulando"


def test_fallback_all_fail_is_one_line() -> None:
    with pytest.raises(ProviderError) as ei:
        run_chain({"ollama": "fail", "embedded": "fail"})
    assert str(ei.value) == "ollama: caiu (também falhou: embedded)"
    with pytest.raises(ProviderError) as ei:
        run_chain({"gemini": "missing-key"})
    assert ei.value.kind == "missing-key"


def test_first_piece_may_end_at_a_clause_then_whole_sentences() -> None:
    """The first audio starts one clause in; the rest of the reply is cut at sentence ends."""
    text = "A capital da França, que fica na Europa, é Paris. Ela tem muitos museus, parques e cafés. Fim."
    seg, out = Segmenter(), []
    for i in range(0, len(text), 3):
        out += seg.feed(text[i:i + 3])
    out += seg.flush()
    assert out == ["A capital", "da França, que fica na Europa, é Paris.",
                   "Ela tem muitos museus, parques e cafés.", "Fim."]
    seg = Segmenter()  # a clause already in the buffer wins
    assert seg.feed("A capital da França, que") == ["A capital da França,"]
    # the first piece ends after one whole word, never on one said with the next ("Em", "que"),
    # and never inside a word still being written
    seg = Segmenter()
    assert seg.feed("Sim, ") == [] and seg.feed("que") == ["Sim,"]  # out once more of the reply follows
    seg = Segmenter()
    assert seg.feed("Em ") == [] and seg.feed("que") == [] and seg.feed(" pos") == []
    assert seg.feed("so ajudar?") == ["Em que posso"] and seg.flush() == ["ajudar?"]
    # a one-character word is a word: "2 mais 2 é 4" kept its "2" only in the screen's text
    seg, out = Segmenter(), []
    for tok in ["2", " mais", " 2", " é", " 4", "."]:
        out += seg.feed(tok)
    assert out + seg.flush() == ["2", "mais 2 é 4."]
    assert feed_all(Segmenter(), "É verdade.") == ["É", "verdade."]
    assert feed_all(Segmenter(), "4") == ["4"] and feed_all(Segmenter(), "**") == []
    long = Segmenter().feed("palavra " * 20)
    assert len(long) == 1 and len(long[0]) <= 90


def test_the_first_piece_goes_after_two_words_then_only_sentences() -> None:
    """The first audio waits for two words of the reply, not its whole first sentence."""
    seg, out = Segmenter(), []
    for tok in ["A", " aia", " tem", " cerca", " de", " 80", ".476", " pat", "as", ".", " Ela", " é", " grande", "."]:
        out += seg.feed(tok)
        if tok == " tem":
            assert out == ["A aia"]  # out as soon as "aia" is whole, while the model writes on
    out += seg.flush()
    assert out == ["A aia", "tem cerca de 80.476 patas.", "Ela é grande."]
    assert feed_all(Segmenter("en"), "The capital of France is Paris.") == ["The capital", "of France is Paris."]


def test_context_window_moves_in_steps_so_the_prompt_prefix_is_stable(tmp_path) -> None:
    from services.brain.history import History

    h = History(tmp_path / "h.db")
    conv = h.new_conversation()
    prefixes = []
    for i in range(30):
        h.add(conv, "user", f"pergunta {i:02d} " + "x" * 40)
        h.add(conv, "assistant", f"resposta {i:02d} " + "y" * 40)
        ctx = h.context(conv, 600)
        assert sum(len(m["content"]) for m in ctx) <= 600 and ctx[0]["role"] == "user"
        assert ctx[-1]["content"].startswith(f"resposta {i:02d}")
        prefixes.append(ctx[0]["content"])
    # the window's first message changes only now and then (a step), not every turn
    changes = sum(1 for a, b in zip(prefixes, prefixes[1:], strict=False) if a != b)
    assert 0 < changes <= 10, changes


def test_gate_holds_in_order_replays_once_and_discards() -> None:
    from services.brain.speculation import Gate

    out: list[tuple[str, int]] = []
    g = Gate(is_open=False)
    say = g.wrap(lambda k, n: out.append((k, n)))
    say("a", 1)
    g.call(out.append, ("b", 2))
    assert out == [] and g.held == 2
    g.open()
    g.open()  # a second open replays nothing
    say("c", 3)
    assert out == [("a", 1), ("b", 2), ("c", 3)]
    d = Gate(is_open=False)
    d.call(out.append, ("x", 0))
    d.discard()
    d.open()
    d.call(out.append, ("y", 0))
    assert out == [("a", 1), ("b", 2), ("c", 3)] and d.held == 0


def test_speaking_ahead_is_on_for_local_voices_and_off_for_a_paid_one_unless_asked():
    def s(mode: str, provider: str) -> SimpleNamespace:
        return SimpleNamespace(PREEMPTIVE_SPEECH=mode, TTS_PROVIDER=provider)

    assert speaks_ahead(s("auto", "local")) and speaks_ahead(s("auto", "chatterbox"))
    assert not speaks_ahead(s("auto", "elevenlabs"))
    assert speaks_ahead(s("1", "elevenlabs"))
    assert not speaks_ahead(s("0", "local"))
