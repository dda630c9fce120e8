"""What every LLM provider looks like to the brain.

A provider turns a :class:`Request` into an async stream of text chunks::

    stream = provider.stream(req)
    async for chunk in stream: ...
    await stream.aclose()        # cancel: closes the HTTP stream / stops the thread

Closing matters: an unclosed HTTP stream keeps Ollama (or a paid API) generating.
Failures are :class:`ProviderError` with a one-line, user-facing message and a
``kind`` the fallback chain uses (``unreachable``, ``model-missing``, ``auth``,
``timeout``, ``error``); a provider never lets a traceback reach the user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from shared import i18n


class ProviderError(Exception):
    """A one-line, user-facing reason why a provider could not answer."""

    def __init__(self, message: str, kind: str = "error", provider: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider

    def __str__(self) -> str:
        return " ".join(str(self.args[0]).split()) if self.args else self.kind


class MissingKey(ProviderError):
    def __init__(self, provider: str, key: str, lang: object = "pt") -> None:
        super().__init__(i18n.say("brain.missing-key", lang, provider=provider, setting=key), "missing-key", provider)
        self.key = key


@dataclass
class Request:
    """One turn as the model sees it: system prompt, history and the new user line."""

    model: str
    messages: list[dict[str, str]]  # [{role: user|assistant, content}], oldest first, last is the user
    system: str = ""
    temperature: float = 0.7
    max_tokens: int = 1024
    images: list[str] = field(default_factory=list)  # file paths attached to the last user message

    def image_bytes(self) -> list[bytes]:
        return [Path(p).read_bytes() for p in self.images]


class Provider(Protocol):
    name: str

    def stream(self, req: Request) -> AsyncIterator[str]:
        """An async generator of text chunks; ``aclose()`` it to cancel."""
        ...

    async def aclose(self) -> None:
        """Release clients and threads."""
        ...


def mime_of(path: str) -> str:
    ext = Path(path).suffix.lower()
    return {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
            ".gif": "image/gif", ".bmp": "image/bmp"}.get(ext, "image/png")


def short(exc: BaseException, limit: int = 200) -> str:
    """One line of an exception's text, for messages (never a traceback)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:limit]


def first_line(obj: Any) -> str:
    return str(obj).strip().splitlines()[0] if str(obj).strip() else ""
