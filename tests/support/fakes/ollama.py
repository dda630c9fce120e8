"""Fake Ollama: /api/version, /api/tags, NDJSON /api/chat, /api/pull progress, 404s, mid-stream error, stall."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from tests.support.fakes.base import FakeServer, words


class FakeOllama(FakeServer):
    def __init__(self, models: tuple[str, ...] = ("dolphin-mistral:latest", "qwen2.5-coder:7b", "minicpm-v:latest"),
                 reply: str | Callable[[list[dict[str, Any]]], str] = "Olá! Eu sou a Luna. Como posso ajudar?",
                 mode: str = "ok", delay: float = 0.0,
                 stall_s: float = 60.0) -> None:
        super().__init__()
        self.models = list(models)
        self.reply = reply  # the text, or a function of the request's messages
        self.mode = mode  # ok | error-mid | stall | stall-first | slow
        self.delay = delay  # seconds between chunks
        self.stall_s = stall_s
        self.chunks_sent = 0

    def _has(self, name: str) -> bool:
        full = name if ":" in name else f"{name}:latest"
        return full in self.models or name in self.models

    def handle(self, h: Any, method: str, path: str, body: Any) -> None:
        if path == "/api/version":
            return self.send_json(h, {"version": "0.9.9-fake"})
        if path == "/api/tags":
            return self.send_json(h, {"models": [
                {"name": m, "model": m, "modified_at": "2025-01-01T00:00:00Z", "size": 4_000_000_000,
                 "digest": "0" * 64, "details": {"format": "gguf", "family": "llama", "parameter_size": "7B",
                                                 "quantization_level": "Q4_0"}} for m in self.models]})
        if path == "/api/chat":
            return self._chat(h, body or {})
        if path == "/api/pull":
            return self._pull(h, body or {})
        self.send_json(h, {"error": "404 page not found"}, 404)

    def _line(self, h: Any, obj: dict[str, Any]) -> None:
        self.chunk(h, (json.dumps(obj) + "\n").encode())

    def _chat(self, h: Any, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if not self._has(model):
            return self.send_json(h, {"error": f"model '{model}' not found"}, 404)
        now = datetime.now(timezone.utc).isoformat()
        self.start_chunked(h, "application/x-ndjson")
        if self.mode == "stall-first":
            self.closed.wait(self.stall_s)
            return
        reply = self.reply(body.get("messages") or []) if callable(self.reply) else self.reply
        pieces = words(reply)
        for i, piece in enumerate(pieces):
            if self.mode == "error-mid" and i == max(1, len(pieces) // 2):
                self._line(h, {"error": "an error was encountered while running the model: unexpected EOF"})
                self.end_chunked(h)
                return
            if self.mode == "stall" and i == 2:
                self.closed.wait(self.stall_s)
                return
            self._line(h, {"model": model, "created_at": now, "message": {"role": "assistant", "content": piece},
                           "done": False})
            self.chunks_sent += 1
            if self.delay:
                time.sleep(self.delay)
        self._line(h, {"model": model, "created_at": now, "message": {"role": "assistant", "content": ""},
                       "done": True, "done_reason": "stop", "total_duration": 1000, "load_duration": 10,
                       "prompt_eval_count": 10, "eval_count": len(pieces), "eval_duration": 500})
        self.end_chunked(h)

    def _pull(self, h: Any, body: dict[str, Any]) -> None:
        model = body.get("model") or body.get("name") or ""
        self.start_chunked(h, "application/x-ndjson")
        if model.startswith("nope"):
            self._line(h, {"status": "pulling manifest"})
            self._line(h, {"error": "pull model manifest: file does not exist"})
            self.end_chunked(h)
            return
        self._line(h, {"status": "pulling manifest"})
        total = 4_000_000
        for done in range(0, total + 1, 1_000_000):
            self._line(h, {"status": "pulling abc123", "digest": "sha256:abc123", "total": total, "completed": done})
            time.sleep(0.15)
        for st in ("verifying sha256 digest", "writing manifest", "success"):
            self._line(h, {"status": st})
        full = model if ":" in model else f"{model}:latest"
        if full not in self.models:
            self.models.append(full)
        self.end_chunked(h)
