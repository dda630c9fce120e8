"""Fake OpenAI-compatible API (OpenAI, DeepSeek): SSE /v1/chat/completions and a 401 for a bad key."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.fakes.base import FakeServer, words


class FakeOpenAI(FakeServer):
    def __init__(self, reply: str = "Resposta do provedor pago. Tudo certo.", key: str = "sk-good-key-123",
                 mode: str = "ok", delay: float = 0.0) -> None:
        super().__init__()
        self.reply = reply
        self.key = key
        self.mode = mode  # ok | stall-first
        self.delay = delay

    def handle(self, h: Any, method: str, path: str, body: Any) -> None:
        if not path.rstrip("/").endswith("/chat/completions"):
            return self.send_json(h, {"error": {"message": "not found", "type": "invalid_request_error"}}, 404)
        if h.headers.get("Authorization") != f"Bearer {self.key}":
            return self.send_json(h, {"error": {"message": "Incorrect API key provided: sk-bad.",
                                                "type": "invalid_request_error", "param": None,
                                                "code": "invalid_api_key"}}, 401)
        body = body or {}
        model = body.get("model", "")
        if model.startswith("missing"):
            return self.send_json(h, {"error": {"message": f"The model `{model}` does not exist",
                                                "type": "invalid_request_error", "code": "model_not_found"}}, 404)
        self.start_chunked(h, "text/event-stream")
        if self.mode == "stall-first":
            self.closed.wait(60)
            return
        created = int(time.time())
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_fake"}
        first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                      "finish_reason": None}]}
        self.chunk(h, f"data: {json.dumps(first)}\n\n".encode())
        for piece in words(self.reply):
            ev = {**base, "choices": [{"index": 0, "delta": {"content": piece}, "logprobs": None,
                                       "finish_reason": None}]}
            self.chunk(h, f"data: {json.dumps(ev)}\n\n".encode())
            if self.delay:
                time.sleep(self.delay)
        last = {**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}
        self.chunk(h, f"data: {json.dumps(last)}\n\n".encode())
        self.chunk(h, b"data: [DONE]\n\n")
        self.end_chunked(h)
