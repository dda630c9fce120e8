"""Which providers exist, which are usable now, and who answers each function.

Why one owner: the brain's status line (F5), the fallback chain of a turn, the
``/config`` reply and the "pull this model" offer all ask the same questions (is
Ollama up, is the model pulled, is there a key, is the embedded model there).
Answering them in one place keeps those four views from disagreeing. Provider
objects are created once, on first use, and closed with the brain.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from services.brain import fallback
from services.brain.fallback import FUNCTIONS, PROVIDERS, Choice
from services.brain.providers import embedded as emb
from services.brain.providers import gguf
from services.brain.providers.base import ProviderError
from services.brain.providers.ollama import has_model, pull_hint
from shared import i18n, llama_build

#: How often the brain asks Ollama whether it is up (and how long a "down" answer is trusted).
OLLAMA_CHECK_S = 15.0


class Registry:
    """The providers of one brain: construction, Ollama health, the effective choice per function."""

    def __init__(self, settings: Any, notice: Callable[[str, str, str], None]) -> None:
        self.settings = settings
        self.notice = notice
        self.overrides: dict[str, dict[str, str]] = {}  # per function, from config-set (/config)
        self.providers: dict[str, Any] = {}
        self.ollama_up = False
        self.ollama_models: set[str] = set()
        self.ollama_checked = 0.0
        self.embedded_ok = False
        self.embedded_model = ""
        self.refresh_embedded()

    def refresh_embedded(self) -> bool:
        """Can the embedded model answer? True when that changed. Not while llama.cpp is being built
        (shared/llama_build.py): pip replaces the package then, and until it is in there is none.
        Asked again by the brain while the build runs, so the model joins the chains once installed."""
        ok = gguf.available(self.settings.LLM_GGUF) and not llama_build.state().building
        model = gguf.model_name(self.settings.LLM_GGUF)
        changed = (ok, model) != (self.embedded_ok, self.embedded_model)
        self.embedded_ok, self.embedded_model = ok, model
        return changed

    def say(self, key: str, /, **fields: Any) -> str:
        return i18n.say(key, self.settings.LANGUAGE, **fields)

    # -- construction ----------------------------------------------------------------------
    def get(self, name: str) -> Any:
        """The provider object for ``name`` (created once; raises MissingKey without a key)."""
        if name in self.providers:
            return self.providers[name]
        s = self.settings
        if name == "ollama":
            from services.brain.providers.ollama import OllamaProvider
            p: Any = OllamaProvider(s.OLLAMA_HOST, s.OLLAMA_TIMEOUT, lang=s.LANGUAGE)
        elif name == "embedded":
            p = emb.EmbeddedProvider(s.LLM_GGUF, lang=s.LANGUAGE)
        elif name == "gemini":
            from services.brain.providers.gemini import GeminiProvider
            p = GeminiProvider(s.GEMINI_API_KEY, s.GEMINI_BASE_URL, s.OLLAMA_TIMEOUT, lang=s.LANGUAGE)
        elif name in ("openai", "deepseek"):
            from services.brain.providers.openai_compat import OpenAICompatProvider
            key = s.OPENAI_API_KEY if name == "openai" else s.DEEPSEEK_API_KEY
            base = s.OPENAI_BASE_URL if name == "openai" else s.DEEPSEEK_BASE_URL
            p = OpenAICompatProvider(name, key, base, s.OLLAMA_TIMEOUT, lang=s.LANGUAGE)
        else:
            raise ProviderError(self.say("brain.unknown-provider", name=name), "error", name)
        self.providers[name] = p
        return p

    def for_turn(self, name: str) -> Any:
        """Like :meth:`get`, but skips Ollama at once while the last check (< 15 s ago) found it down.

        On loopback a refused connection costs nothing, but a remote OLLAMA_HOST that drops
        packets would cost the connect timeout on every turn.
        """
        if name == "ollama" and not self.ollama_up and time.monotonic() - self.ollama_checked < OLLAMA_CHECK_S:
            raise ProviderError(self.say("brain.ollama-down-at", host=self.settings.OLLAMA_HOST), "unreachable",
                                "ollama")
        return self.get(name)

    async def aclose(self) -> None:
        for p in self.providers.values():
            with contextlib.suppress(Exception):
                await p.aclose()

    # -- Ollama health -------------------------------------------------------------------------
    async def check_ollama(self, announce: bool = False) -> bool:
        """Is Ollama up, is each configured local model pulled? True when the answer changed.

        ``announce`` (at start-up) tells the user once what is missing and what answers instead.
        """
        before = (self.ollama_up, frozenset(self.ollama_models))
        ol = self.get("ollama")
        self.ollama_up = await ol.version() is not None
        self.ollama_checked = time.monotonic()
        self.ollama_models = await ol.models() if self.ollama_up else set()
        if announce:
            self._announce()
        return before != (self.ollama_up, frozenset(self.ollama_models))

    def check_is_old(self) -> bool:
        return time.monotonic() - self.ollama_checked >= OLLAMA_CHECK_S

    def _announce(self) -> None:
        wanted = {}
        for fn in FUNCTIONS:
            c = self.configured(fn)
            if c.provider in ("local", "ollama"):
                wanted.setdefault(c.model, fn)
        if not wanted:
            return
        if not self.ollama_up:
            alt = self.say("brain.embedded-answers" if self.embedded_ok else "brain.no-local")
            self.notice("warning", self.say("brain.ollama-down", host=self.settings.OLLAMA_HOST, alt=alt), "ollama-down")
            return
        for model, fn in wanted.items():
            if not has_model(self.ollama_models, model):
                hint = pull_hint(model, self.settings.LANGUAGE)
                self.notice("warning", self.say("brain.model-missing", hint=hint, cmd=f"pull {model}", fn=fn),
                            "model-missing")

    # -- choice per function ---------------------------------------------------------------------
    def configured(self, fn: str) -> Choice:
        return fallback.configured(fn, self.settings, self.overrides)

    def has_key(self, provider: str) -> bool:
        return bool(self.settings.get(fallback.KEY_OF[provider]))

    def chain(self, fn: str) -> list[Choice]:
        return fallback.build_chain(fn, self.settings, self.overrides, self.embedded_model, self.embedded_ok)

    def effective(self, fn: str) -> Choice:
        """Who will most likely answer ``fn`` now (for the status line)."""
        for c in self.chain(fn):
            if c.provider == "ollama" and not (self.ollama_up and has_model(self.ollama_models, c.model)):
                continue
            if c.provider in fallback.PAID and not self.has_key(c.provider):
                continue
            return c
        chain = self.chain(fn)
        return chain[0] if chain else self.configured(fn)

    def functions(self) -> dict[str, dict[str, Any]]:
        out = {}
        for fn in FUNCTIONS:
            eff = self.effective(fn)
            conf = self.configured(fn)
            out[fn] = {**eff.as_dict(), "configured": conf.provider, "configured_model": conf.model,
                       "chain": [c.provider for c in self.chain(fn)], "skipped": self.skipped(fn, eff)}
        return out

    def skipped(self, fn: str, eff: Choice) -> list[dict[str, str]]:
        """The providers before ``eff`` in the chain, each with why it will be passed over (shown in F5)."""
        out = []
        for c in self.chain(fn):
            if c == eff:
                break
            if c.provider in fallback.PAID and not self.has_key(c.provider):
                why = self.say("brain.skip.no-key", setting=fallback.KEY_OF[c.provider])
            elif c.provider == "ollama" and not self.ollama_up:
                why = self.say("brain.skip.ollama-down")
            elif c.provider == "ollama" and not has_model(self.ollama_models, c.model):
                why = self.say("brain.skip.not-pulled", model=c.model, cmd=f"ollama pull {c.model}")
            else:
                why = self.say("brain.skip.unavailable")
            out.append({"provider": c.provider, "model": c.model, "why": why})
        return out

    def missing_models(self) -> list[str]:
        """Configured Ollama models that Ollama (when up) does not have: what the UI offers to pull."""
        if not self.ollama_up:
            return []
        out = []
        for fn in FUNCTIONS:
            c = self.configured(fn)
            if c.provider in ("local", "ollama") and not has_model(self.ollama_models, c.model) and c.model not in out:
                out.append(c.model)
        return out

    def can_see(self) -> bool:
        """Some provider of the vision chain can answer now (Ollama up with the model, or a paid key)."""
        for c in self.chain("vision"):
            if c.provider == "ollama" and self.ollama_up and has_model(self.ollama_models, c.model):
                return True
            if c.provider in fallback.PAID and self.has_key(c.provider):
                return True
        return False

    def options(self) -> dict[str, Any]:
        """What a settings screen may choose from.

        ``defaults``: the model each provider uses for each function, so a UI that switches
        provider resets the model field instead of carrying the old provider's model along.
        """
        defaults: dict[str, dict[str, str]] = {}
        for fn in FUNCTIONS:
            defaults[fn] = {}
            for p in PROVIDERS:
                with contextlib.suppress(Exception):
                    defaults[fn][p] = fallback.default_model(p, fn, self.settings, self.embedded_model)
        return {"providers": list(PROVIDERS), "functions": list(FUNCTIONS),
                "ollama_models": sorted(self.ollama_models), "defaults": defaults}

    def status(self) -> dict[str, Any]:
        """The provider part of the brain's ``status`` data."""
        return {"functions": self.functions(), "ollama": "up" if self.ollama_up else "down",
                "embedded": self.embedded_ok, "embedded_model": self.embedded_model,
                "embedded_last_resort": self.embedded_model == gguf.SMOLLM2, "ollama_models": sorted(self.ollama_models),
                "missing_models": self.missing_models()}
