"""Ollama (chat, code, vision) through the official ``ollama`` AsyncClient.

Explicit timeouts (the client's default is none): connect 5 s, read ``timeout``;
a stall longer than that ends the stream with a timeout error. Images travel as
base64 in the message (the client encodes the bytes). ``aclose()`` of the stream
closes the HTTP response, which makes Ollama stop generating.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import ollama

from services.brain.providers.base import ProviderError, Request, short
from shared import i18n
from shared.paths import has_model  # noqa: F401 - the brain asks its provider module

NAME = "ollama"


def pull_hint(model: str, lang: object = "pt") -> str:
    return i18n.say("brain.pull-hint", lang, model=model)


class OllamaProvider:
    name = NAME

    def __init__(self, host: str, timeout: float = 60.0, lang: str = "pt") -> None:
        self.lang = lang  # of its error lines, which the user reads
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.client = ollama.AsyncClient(host=self.host, timeout=httpx.Timeout(timeout, connect=5.0))

    def _error(self, exc: BaseException, model: str) -> ProviderError:
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                return ProviderError(pull_hint(model, self.lang), "model-missing", NAME)
            return ProviderError(f"ollama: {short(exc.error)}", "error", NAME)
        if isinstance(exc, (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout)):
            return ProviderError(i18n.say("brain.ollama-down-at", self.lang, host=self.host),
                                 "unreachable", NAME)
        if isinstance(exc, httpx.TimeoutException):
            return ProviderError(i18n.say("brain.ollama.timeout", self.lang, s=f"{self.timeout:g}"), "timeout", NAME)
        if isinstance(exc, httpx.HTTPError):
            return ProviderError(i18n.say("brain.ollama.failed", self.lang, err=short(exc)), "unreachable", NAME)
        return ProviderError(f"ollama: {short(exc)}", "error", NAME)

    async def stream(self, req: Request) -> AsyncIterator[str]:
        msgs: list[dict[str, Any]] = []
        if req.system:
            msgs.append({"role": "system", "content": req.system})
        msgs += [dict(m) for m in req.messages]
        if req.images and msgs:
            msgs[-1]["images"] = req.image_bytes()
        it = None
        try:
            it = await self.client.chat(model=req.model, messages=msgs, stream=True,
                                        options={"temperature": req.temperature, "num_predict": req.max_tokens})
            async for part in it:
                text = part.message.content if part.message else ""
                if text:
                    yield text
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._error(exc, req.model) from None
        finally:
            if it is not None:
                await it.aclose()

    # -- management (startup checks, pull) --------------------------------------------------
    async def version(self) -> str | None:
        """Ollama's version, or None if it is not reachable."""
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(3.0, connect=2.0)) as c:
                r = await c.get(f"{self.host}/api/version")
                r.raise_for_status()
                return str(r.json().get("version", "?"))
        except (httpx.HTTPError, ValueError):
            return None

    async def models(self) -> set[str]:
        try:
            resp = await self.client.list()
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError):
            return set()
        return {m.model for m in resp.models if m.model}

    async def pull(self, model: str) -> AsyncIterator[dict[str, Any]]:
        """Progress dicts ``{status, completed, total}`` from ``/api/pull``."""
        try:
            it = await self.client.pull(model, stream=True)
            async for p in it:
                yield {"status": p.status or "", "completed": int(p.completed or 0), "total": int(p.total or 0)}
        except (ollama.ResponseError, ConnectionError, httpx.HTTPError) as exc:
            raise self._error(exc, model) from None

    async def aclose(self) -> None:
        client = getattr(self.client, "_client", None)
        if client is not None:
            await client.aclose()
