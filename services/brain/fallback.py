"""Which providers answer a function, in order, and how the brain moves down the list.

Chains (``build_chain``):

* ``local``: Ollama with the function's local model, then the embedded model
  (not for vision: it cannot see), then every paid provider whose key is set.
* an explicit provider (``ollama``, ``gemini``, ``deepseek``, ``openai``,
  ``embedded``): that one first, then the other paid providers with keys; a paid
  primary also falls back to local (Ollama, then embedded).

``open_stream`` walks the chain: a provider that fails, raises, times out, or
sends no first token within ``first_token_timeout`` is closed and the next one
is tried; a provider without a key is skipped with a one-line notice. The first
provider that produces a token answers the whole turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from services.brain.providers.base import MissingKey, ProviderError, Request
from shared import i18n

FUNCTIONS = ("chat", "code", "vision")
PAID = ("gemini", "deepseek", "openai")
PROVIDERS = ("local", "ollama", "embedded", *PAID)
KEY_OF = {"gemini": "GEMINI_API_KEY", "deepseek": "DEEPSEEK_API_KEY", "openai": "OPENAI_API_KEY"}
SETTING = {"chat": "CHAT_PROVIDER", "code": "CODE_PROVIDER", "vision": "VISION_PROVIDER"}
LOAD_TIMEOUT = 120.0
OPENAI_MODEL = {"chat": "gpt-4o-mini", "code": "gpt-4o-mini", "vision": "gpt-4o-mini"}


@dataclass(frozen=True)
class Choice:
    provider: str
    model: str

    def as_dict(self) -> dict[str, str]:
        return {"provider": self.provider, "model": self.model}


def default_model(provider: str, function: str, s: dict[str, Any], embedded_model: str = "smollm2-135m") -> str:
    if provider in ("ollama", "local"):
        return str(s[{"chat": "CHAT_LOCAL", "code": "CODE_LOCAL", "vision": "VISION_LOCAL"}[function]])
    if provider == "embedded":
        return embedded_model
    if provider == "gemini":
        return str(s["VISION_GEMINI_MODEL"] if function == "vision" else s["CHAT_GEMINI_MODEL"])
    if provider == "deepseek":
        return str(s["CODE_API_MODEL"]) if function == "code" else "deepseek-chat"
    if provider == "openai":
        return OPENAI_MODEL[function]
    raise ValueError(f"unknown provider {provider!r}")


def configured(function: str, s: dict[str, Any], overrides: dict[str, dict[str, str]]) -> Choice:
    """The provider and model the user chose for ``function`` (before ``local`` is resolved)."""
    ov = overrides.get(function, {})
    provider = ov.get("provider") or str(s[SETTING[function]])
    model = ov.get("model") or default_model(provider, function, s)
    return Choice(provider, model)


def build_chain(function: str, s: dict[str, Any], overrides: dict[str, dict[str, str]],
                embedded_model: str = "smollm2-135m", embedded_ok: bool = True) -> list[Choice]:
    first = configured(function, s, overrides)
    chain: list[Choice] = []

    def add(provider: str, model: str | None = None) -> None:
        if provider == "embedded" and (function == "vision" or not embedded_ok):
            return
        if any(c.provider == provider for c in chain):
            return
        chain.append(Choice(provider, model or default_model(provider, function, s, embedded_model)))

    if first.provider == "local":
        add("ollama", first.model)
        add("embedded")
    else:
        add(first.provider, first.model)
    for p in PAID:
        if s.get(KEY_OF[p]):
            add(p)
    if first.provider in PAID:
        add("ollama")
        add("embedded")
    return chain


@dataclass
class Opened:
    """A provider that produced its first token."""

    choice: Choice
    stream: AsyncIterator[str]
    first: str
    skipped: list[tuple[Choice, str]]  # providers passed over, with the one-line reason


async def _close(stream: Any) -> None:
    with contextlib.suppress(Exception):
        await stream.aclose()


async def open_stream(chain: list[Choice], get_provider: Callable[[str], Any], make_request: Callable[[Choice], Request],
                      first_token_timeout: float, on_skip: Callable[[Choice, str, str], None] | None = None,
                      lang: object = "pt") -> Opened:
    """Walk ``chain`` until a provider yields a first token; raise ProviderError if none does.

    ``lang``: of the reasons, which the user reads in the reply's header or error.
    """
    skipped: list[tuple[Choice, str]] = []
    errors: list[ProviderError] = []
    for choice in chain:
        stream = None
        budget = first_token_timeout
        try:
            provider = get_provider(choice.provider)
            load = getattr(provider, "load", None)
            if load is not None:  # loading a local model is not "waiting for the first token"
                await asyncio.wait_for(load(), timeout=LOAD_TIMEOUT)
            stream = provider.stream(make_request(choice))
            # a local CPU model spends its first seconds reading the prompt: that is work, not a stall
            budget = first_token_timeout + float(getattr(provider, "first_token_grace", 0.0))
            first = await asyncio.wait_for(anext(stream), timeout=budget)
            return Opened(choice, stream, first, skipped)
        except MissingKey as err:
            reason, kind = str(err), "missing-key"
            errors.append(err)
        except ProviderError as err:
            reason, kind = str(err), err.kind
            errors.append(err)
        except (TimeoutError, asyncio.TimeoutError):
            reason, kind = i18n.say("brain.no-token", lang, provider=choice.provider, s=f"{budget:g}"), "timeout"
            if stream is None:
                reason = i18n.say("brain.no-load", lang, provider=choice.provider, s=f"{LOAD_TIMEOUT:g}")
            errors.append(ProviderError(reason, kind, choice.provider))
        except StopAsyncIteration:
            reason, kind = i18n.say("brain.empty-reply", lang, provider=choice.provider), "empty"
            errors.append(ProviderError(reason, kind, choice.provider))
        except asyncio.CancelledError:
            if stream is not None:
                await _close(stream)
            raise
        except Exception as err:  # a provider bug must not end the chain
            reason, kind = f"{choice.provider}: {type(err).__name__}: {' '.join(str(err).split())[:160]}", "error"
            errors.append(ProviderError(reason, kind, choice.provider))
        if stream is not None:
            await _close(stream)
        skipped.append((choice, reason))
        if on_skip is not None:
            on_skip(choice, reason, kind)
    if not errors:
        raise ProviderError(i18n.say("brain.no-provider", lang), "error")
    real = [e for e in errors if e.kind != "missing-key"] or errors
    main = real[0]
    if len(real) > 1:
        others = ", ".join(sorted({e.provider for e in real[1:] if e.provider}))
        text = i18n.say("brain.also-failed", lang, main=main, others=others) if others else str(main)
        raise ProviderError(text, main.kind, main.provider)
    raise main
