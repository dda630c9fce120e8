"""Fake Gemini API: SSE ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``."""

from __future__ import annotations

import json
from typing import Any

from tests.support.fakes.base import FakeServer, words


class FakeGemini(FakeServer):
    def __init__(self, reply: str = "Oi, aqui é o Gemini falso. Tudo bem?", key: str = "gm-good-key-123") -> None:
        super().__init__()
        self.reply = reply
        self.key = key

    def handle(self, h: Any, method: str, path: str, body: Any) -> None:
        if ":streamGenerateContent" not in path:
            return self.send_json(h, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}, 404)
        key = h.headers.get("x-goog-api-key") or ""
        if key != self.key:
            return self.send_json(h, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API "
                                                "key.", "status": "INVALID_ARGUMENT"}}, 400)
        model = path.split("/models/")[1].split(":")[0]
        if model.startswith("missing"):
            return self.send_json(h, {"error": {"code": 404, "message": f"models/{model} is not found",
                                                "status": "NOT_FOUND"}}, 404)
        self.start_chunked(h, "text/event-stream")
        pieces = words(self.reply)
        for i, piece in enumerate(pieces):
            ev: dict[str, Any] = {"candidates": [{"content": {"parts": [{"text": piece}], "role": "model"},
                                                  "index": 0}],
                                  "modelVersion": model, "responseId": "fake"}
            if i == len(pieces) - 1:
                ev["candidates"][0]["finishReason"] = "STOP"
                ev["usageMetadata"] = {"promptTokenCount": 5, "candidatesTokenCount": len(pieces),
                                       "totalTokenCount": 5 + len(pieces)}
            self.chunk(h, f"data: {json.dumps(ev)}\r\n\r\n".encode())
        self.end_chunked(h)
