"""Google Gemini through ``google-genai`` (not the retired ``google-generativeai``).

Streaming ``generate_content_stream``; images as inline bytes parts. Tests point
``base_url`` (``GEMINI_BASE_URL``) at a loopback fake speaking the same SSE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.brain.providers.base import MissingKey, ProviderError, Request, mime_of, short
from shared import i18n

NAME = "gemini"


class GeminiProvider:
    name = NAME

    def __init__(self, api_key: str, base_url: str = "", timeout: float = 60.0, lang: str = "pt") -> None:
        self.lang = lang  # of its error lines, which the user reads
        if not api_key:
            raise MissingKey(NAME, "GEMINI_API_KEY", lang)
        from google import genai
        from google.genai import types

        self.types = types
        opts: dict[str, Any] = {"timeout": int(timeout * 1000)}
        if base_url:
            opts["base_url"] = base_url
        self.client = genai.Client(api_key=api_key, http_options=types.HttpOptions(**opts))

    def _error(self, exc: BaseException, model: str) -> ProviderError:
        from google.genai import errors

        def say(key: str, **fields: object) -> str:
            return i18n.say(key, self.lang, provider=NAME, **fields)

        if isinstance(exc, errors.APIError):
            code = getattr(exc, "code", 0) or 0
            msg = short(getattr(exc, "message", "") or exc, 160)
            if code in (401, 403) or "api key" in msg.lower():
                return ProviderError(say("brain.gemini.refused", msg=msg), "auth", NAME)
            if code == 404:
                return ProviderError(say("brain.gemini.no-model", model=model, msg=msg), "model-missing", NAME)
            if code == 429:
                return ProviderError(say("brain.gemini.quota", msg=msg), "error", NAME)
            return ProviderError(say("brain.api.error", code=code, msg=msg), "error", NAME)
        name = type(exc).__name__.lower()
        if "timeout" in name:
            return ProviderError(say("brain.api.timeout"), "timeout", NAME)
        if "connect" in name:
            return ProviderError(say("brain.gemini.offline", err=short(exc)), "unreachable", NAME)
        return ProviderError(f"gemini: {short(exc)}", "error", NAME)

    async def stream(self, req: Request) -> AsyncIterator[str]:
        t = self.types
        contents = []
        for i, m in enumerate(req.messages):
            parts = [t.Part.from_text(text=m["content"])]
            if i == len(req.messages) - 1 and req.images:
                parts += [t.Part.from_bytes(data=b, mime_type=mime_of(p)) for p, b in zip(req.images, req.image_bytes(),
                                                                                           strict=True)]
            contents.append(t.Content(role="model" if m["role"] == "assistant" else "user", parts=parts))
        cfg = t.GenerateContentConfig(system_instruction=req.system or None, temperature=req.temperature,
                                      max_output_tokens=req.max_tokens)
        it = None
        try:
            it = await self.client.aio.models.generate_content_stream(model=req.model, contents=contents, config=cfg)
            async for chunk in it:
                text = chunk.text if chunk.candidates else ""
                if text:
                    yield text
        except ProviderError:
            raise
        except Exception as exc:  # the SDK raises its own errors plus httpx/aiohttp ones
            raise self._error(exc, req.model) from None
        finally:
            if it is not None and hasattr(it, "aclose"):
                await it.aclose()

    async def aclose(self) -> None:
        try:
            await self.client.aio.aclose()
        except Exception:
            pass
