"""The brain's own lines (help, command replies, config errors, skipped reasons, notices) follow LANGUAGE.

Why: they were Portuguese literals in the brain, so a person with LANGUAGE=en got
English from the UI and Portuguese from the brain in the same chat. They now come
from shared/i18n; Portuguese stays word for word what it was (other tests and
people's habits read it). A real BrainService object answers, without a bus peer:
what it publishes and notices is recorded.
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from services.brain import router

ROOT = Path(__file__).resolve().parents[3]
HUB = ["service.py", "turn.py", "commands.py", "speculation.py", "fallback.py", "providers/registry.py",
       "providers/base.py", "providers/ollama.py", "providers/gemini.py", "providers/openai_compat.py", "history.py",
       "providers/embedded.py", "providers/gguf.py", "providers/llama_settings.py", "history_file.py",
       "context_window.py"]
PORTUGUESE = re.compile(r"[ãõçéêáâíóôú]|\b(não|sem|conversa|modelo|provedor|chave|nenhum)\b", re.I)


def brain(monkeypatch: pytest.MonkeyPatch, bus_env: dict[str, str], lang: str) -> tuple[Any, list[Any]]:
    from services.brain.service import BrainService

    monkeypatch.setenv("LANGUAGE", lang)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    b = BrainService()
    seen: list[Any] = []
    b.publish = lambda type_, **kw: seen.append((type_, kw))  # type: ignore[method-assign]
    b.notice = lambda level, text, code="": seen.append(("notice", {"text": text, "code": code}))  # type: ignore
    return b, seen


def said(b: Any, seen: list[Any]) -> dict[str, str]:
    """What the person reads for each way to reach the brain's own lines."""
    out: dict[str, str] = {}
    out["bad function"] = b.commands.config_set("nope", "", "")
    out["bad provider"] = b.commands.config_set("chat", "nope", "")
    out["blind"] = b.commands.config_set("vision", "embedded", "")
    out["empty"] = b.commands.config_set("chat", "", "")
    b.commands.config_set("chat", "deepseek", "")  # no DEEPSEEK_API_KEY: a notice
    out["no key"] = next(kw["text"] for t, kw in seen if t == "notice" and kw["code"] == "missing-key")
    out["skipped"] = "; ".join(s["why"] for s in b.registry.skipped("chat", b.registry.effective("chat")))
    out["config"] = b.commands.config_text()

    async def turns() -> None:
        out["unknown"] = await b.commands.own_answer("/xyz", router.Intent.SYSTEM, "")
        out["no image"] = await b.commands.own_answer("o que você vê?", router.Intent.VISION, "")
        out["blind vision"] = await b.commands.own_answer("o que é isso?", router.Intent.VISION, "/tmp/x.png")
        for cmd in ("/help", "/quit"):
            await b.commands.slash(cmd, "t-" + cmd)
            out[cmd] = next(kw["text"] for t, kw in reversed(seen) if t == "reply-end")

    asyncio.run(turns())
    return out


def test_english_brain_lines_are_english(monkeypatch: pytest.MonkeyPatch, bus_env: dict[str, str]) -> None:
    out = said(*brain(monkeypatch, bus_env, "en"))
    assert out["bad function"] == "config: there is no function 'nope' (use chat, code, vision)"
    assert out["no key"] == "deepseek: no key (DEEPSEEK_API_KEY empty in .env); it will be skipped"
    assert out["skipped"] == "no key (DEEPSEEK_API_KEY empty in .env); Ollama is not running"
    assert out["/help"].startswith("Commands:\n/new (/nova) - new conversation\n")
    assert out["/quit"] == "Bye!"
    assert "embedded: yes" in out["config"] and "(chosen: deepseek deepseek-chat;" in out["config"]
    portuguese = {k: v for k, v in out.items() if PORTUGUESE.search(v.replace("/nova", "").replace("/historico", "")
                                                                       .replace("/alma", "").replace("/ajuda", "")
                                                                       .replace("/sair", ""))}
    assert not portuguese, portuguese


def test_portuguese_brain_lines_keep_their_wording(monkeypatch: pytest.MonkeyPatch, bus_env: dict[str, str]) -> None:
    out = said(*brain(monkeypatch, bus_env, "pt"))
    assert out["bad function"] == "config: função 'nope' não existe (use chat, code, vision)"
    assert out["bad provider"] == "config: provedor 'nope' não existe (use local, ollama, embedded, gemini, deepseek, openai)"
    assert out["blind"] == "config: o modelo embutido não vê imagens"
    assert out["empty"] == "config: diga o provedor e/ou o modelo"
    assert out["no key"] == "deepseek: sem chave (DEEPSEEK_API_KEY vazio no .env); vai ser pulado"
    assert out["skipped"] == "sem chave (DEEPSEEK_API_KEY vazio no .env); Ollama não está rodando"
    assert out["unknown"] == "comando desconhecido: /xyz — veja /ajuda"
    assert out["/help"].startswith("Comandos:\n/nova (/new) - nova conversa\n/historico (/history) [n] - lista")
    assert out["/quit"] == "Até logo!"
    assert out["config"].endswith("embutido: sim\n/config <função> <provedor> [modelo] troca na hora "
                                  "(ex.: /config code deepseek)")
    assert out["blind vision"] == ("Nenhum modelo que vê imagens está disponível. Para ver imagens: rode o Ollama "
                                   "(`ollama serve`) e `ollama pull minicpm-v`, ou defina GEMINI_API_KEY / "
                                   "OPENAI_API_KEY no .env.")


def test_the_brain_hub_holds_no_portuguese_literal() -> None:
    """A new Portuguese line written straight into the code would reach an English user: it belongs in i18n."""
    found = {}
    for rel in HUB:
        tree = ast.parse((ROOT / "services" / "brain" / rel).read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for n in ast.walk(tree):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs \
                    and PORTUGUESE.search(n.value):
                found.setdefault(rel, []).append(n.value)
    assert not found, found


def test_the_literal_check_catches_portuguese() -> None:
    assert PORTUGUESE.search("conversa {ref} não existe") and not PORTUGUESE.search("unknown provider: {name}")


def test_provider_errors_follow_the_language() -> None:
    """What a failing provider says reaches the reply's header or error line as it is."""
    from services.brain.fallback import Choice, open_stream
    from services.brain.providers.base import MissingKey, ProviderError, Request
    from services.brain.providers.gemini import GeminiProvider
    from services.brain.providers.ollama import OllamaProvider

    assert str(MissingKey("gemini", "GEMINI_API_KEY", "en")) == "gemini: no key (GEMINI_API_KEY empty in .env), skipping"
    assert str(MissingKey("gemini", "GEMINI_API_KEY")) == "gemini: sem chave (GEMINI_API_KEY vazio no .env), pulando"
    with pytest.raises(MissingKey, match="no key"):
        GeminiProvider("", lang="en")

    async def first(lang: str) -> str:
        p = OllamaProvider("http://127.0.0.1:9", timeout=2, lang=lang)  # nothing listens on port 9
        with pytest.raises(ProviderError) as ei:
            await open_stream([Choice("ollama", "m")], lambda _name: p, lambda c: Request(c.model, []), 2.0,
                              lang=lang)
        await p.aclose()
        return str(ei.value)

    assert asyncio.run(first("en")) == "Ollama is not running at http://127.0.0.1:9 (install it and run `ollama serve`)"
    assert asyncio.run(first("pt")) == "Ollama não está rodando em http://127.0.0.1:9 (instale e rode `ollama serve`)"
