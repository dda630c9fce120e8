"""OpenAI-compatible chat completions (OpenAI, DeepSeek) through the ``openai`` SDK.

DeepSeek speaks the same API at ``https://api.deepseek.com``; only ``base_url``
and the key differ. No SDK retries: the fallback chain decides what happens next.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

from services.brain.providers.base import MissingKey, ProviderError, Request, mime_of, short
from shared import i18n

KEY_NAME = {"openai": "OPENAI_API_KEY", "deepseek": "DEEPSEEK_API_KEY"}


class OpenAICompatProvider:
    def __init__(self, name: str, api_key: str, base_url: str = "", timeout: float = 60.0, lang: str = "pt") -> None:
        self.name = name
        self.lang = lang  # of its error lines, which the user reads
        if not api_key:
            raise MissingKey(name, KEY_NAME.get(name, "API key"), lang)
        import openai

        self.openai = openai
        self.client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)

    def _error(self, exc: BaseException, model: str) -> ProviderError:
        o = self.openai
        key = KEY_NAME.get(self.name, "API key")

        def say(line: str, **fields: object) -> str:
            return i18n.say(line, self.lang, provider=self.name, **fields)

        if isinstance(exc, o.AuthenticationError):
            return ProviderError(say("brain.api.bad-key", setting=key), "auth", self.name)
        if isinstance(exc, o.NotFoundError):
            return ProviderError(say("brain.api.no-model", model=model), "model-missing", self.name)
        if isinstance(exc, o.APITimeoutError):
            return ProviderError(say("brain.api.timeout"), "timeout", self.name)
        if isinstance(exc, o.APIConnectionError):
            return ProviderError(say("brain.api.offline"), "unreachable", self.name)
        if isinstance(exc, o.RateLimitError):
            return ProviderError(say("brain.api.quota"), "error", self.name)
        if isinstance(exc, o.APIStatusError):
            return ProviderError(say("brain.api.error", code=exc.status_code, msg=short(exc, 120)), "error",
                                 self.name)
        return ProviderError(f"{self.name}: {short(exc)}", "error", self.name)

    async def stream(self, req: Request) -> AsyncIterator[str]:
        msgs: list[dict[str, Any]] = [{"role": "system", "content": req.system}] if req.system else []
        msgs += [dict(m) for m in req.messages]
        if req.images and msgs:
            content: list[dict[str, Any]] = [{"type": "text", "text": msgs[-1]["content"]}]
            for p, b in zip(req.images, req.image_bytes(), strict=True):
                url = f"data:{mime_of(p)};base64,{base64.b64encode(b).decode()}"
                content.append({"type": "image_url", "image_url": {"url": url}})
            msgs[-1]["content"] = content
        stream = None
        try:
            stream = await self.client.chat.completions.create(model=req.model, messages=msgs, stream=True,
                                                               temperature=req.temperature, max_tokens=req.max_tokens)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except self.openai.OpenAIError as exc:
            raise self._error(exc, req.model) from None
        finally:
            if stream is not None:
                await stream.close()

    async def aclose(self) -> None:
        try:
            await self.client.close()
        except Exception:
            pass
