"""JSON-line logging with secret redaction.

Why JSON lines: ``luna diagnose`` and people with ``jq`` can read them without
regexes, and every line names its service. Why redaction here: it is the one
place every log line passes, so an API key can never leak through a formatted
exception or a provider's error text.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

_SECRETS: list[str] = []


def add_secrets(values: Iterable[str]) -> None:
    """Register values to be replaced by ``***`` in every log line."""
    for v in values:
        if v and len(v) >= 6 and v not in _SECRETS:
            _SECRETS.append(v)


def redact(text: str) -> str:
    for s in _SECRETS:
        if s in text:
            text = text.replace(s, "***")
    return text


def has_secrets() -> bool:
    return bool(_SECRETS)


def redact_value(value: object) -> object:
    """``redact`` through strings nested in dicts and lists (frame fields); other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "t": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created)),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(out, ensure_ascii=False, default=str))


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(os.environ.get("LUNA_LOG_DIR") or Path(base) / "luna" / "logs")


def setup(service: str, level: str = "INFO", to_file: bool = True) -> logging.Logger:
    """Configure the root logger: JSON to stderr (supervisord keeps it per service) and a rotated file."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level)
    fmt = JsonFormatter(service)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(fmt)
    root.addHandler(err)
    if to_file:
        try:
            d = state_dir()
            d.mkdir(parents=True, exist_ok=True)
            fh = RotatingFileHandler(d / f"{service}.jsonl", maxBytes=5_000_000, backupCount=3, encoding="utf-8")
            fh.setFormatter(fmt)
            root.addHandler(fh)
        except OSError:
            pass  # a read-only home must not stop the service; stderr still has everything
    for noisy in ("httpx", "httpcore", "asyncio", "faster_whisper"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return logging.getLogger(f"luna.{service}")
