"""Where models live on disk: the one place for the rules a service and ``luna models`` must agree on.

Why one place: ``luna models`` writes a Piper voice, a Whisper model or a GGUF where
a service later looks for it offline; when the fetcher and the service each spelled
the folder (or Ollama's ``:latest``) their own way, a fetched model could sit
unseen. Only locations live here; downloading is the ``luna`` tool's job
(``luna/models.py``, ``luna/fetch.py``), and it never runs inside a service.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_GGUF_REF = re.compile(r"^(?:hf:)?(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<rev>[\w./-]+))?:(?P<file>[^:]+\.gguf)$")


def data_home() -> Path:
    """``$XDG_DATA_HOME`` (default ``~/.local/share``), read on every call so tests can move it."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def voices_dir() -> Path:
    """Where ``luna models`` puts Piper voices."""
    return data_home() / "luna" / "voices"


def voice_dirs() -> list[Path]:
    """Where tts looks for a Piper voice by name, in order (ours, then piper's own download folders)."""
    data = data_home()
    return [Path.cwd(), Path.cwd() / "voices", data / "piper", voices_dir(), data / "piper-voices"]


def ollama_tag(model: str) -> str:
    """Ollama's full name for ``model``: ``dolphin-mistral`` is ``dolphin-mistral:latest``."""
    return model if ":" in model else f"{model}:latest"


def has_model(names: list[str] | set[str], model: str) -> bool:
    """Is ``model`` among Ollama's ``names`` (``dolphin-mistral`` is present if ``dolphin-mistral:latest`` is)?"""
    return model in names or ollama_tag(model) in names


# -- the model hub's cache (huggingface_hub's layout) ----------------------------------------
def hub_cache() -> Path:
    """huggingface_hub's cache folder, from the same variables it reads (checked on every call, not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def repo_folder(repo: str) -> Path:
    return hub_cache() / ("models--" + repo.replace("/", "--"))


def cached(repo: str, filename: str, revision: str = "main") -> Path | None:
    """The cached file for ``repo``@``revision`` (ours or huggingface_hub's), or None. Never touches the network."""
    folder = repo_folder(repo)
    ref = folder / "refs" / revision
    commit = ref.read_text().strip() if ref.is_file() else revision
    p = folder / "snapshots" / commit / filename
    return p if p.is_file() else None


def parse_gguf_ref(value: str) -> tuple[str, str, str] | None:
    """``owner/repo[@revision]:file.gguf`` (optionally ``hf:``-prefixed) -> (repo, revision, file); a path -> None."""
    v = (value or "").strip()
    if not v or v.startswith(("/", "~", ".")) or Path(v).expanduser().is_file():
        return None
    m = _GGUF_REF.match(v)
    return (m["repo"], m["rev"] or "main", m["file"]) if m else None


def gguf_file(value: str) -> Path | None:
    """Where ``LLM_GGUF`` is on disk, offline: the path itself, or the fetched hub file; None if absent."""
    ref = parse_gguf_ref(value)
    if ref is None:
        p = Path(os.path.expanduser(value)) if value else None
        return p if p is not None and p.is_file() else None
    return cached(ref[0], ref[2], ref[1])
