"""Embedded llama.cpp (``llama-cpp-python``) running a GGUF file: the offline answer.

Which GGUF is :mod:`.gguf` (``LLM_GGUF``, the packaged Qwen2.5-Coder-0.5B, SmolLM2
as the last resort); the sampling per model family, the thread count and the
generation thread's priority are :mod:`.llama_settings`. This module loads the
model and streams its replies.

Replies use the model's own chat template (llama-cpp-python reads it from the
GGUF) and sampling settings for its family (:data:`.llama_settings.SAMPLING`). llama.cpp's generator
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
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from services.brain.providers import warmup
from services.brain.providers.base import ProviderError, Request, short
from services.brain.providers.gguf import Resolved, model_name, resolve
from services.brain.providers.llama_settings import batch_threads, default_threads, family, sampling, yield_cpu
from shared import i18n

NAME = "embedded"
N_CTX = 2048
log = logging.getLogger("luna.brain.embedded")


class _KeepStderr:
    """Stands in for llama-cpp-python's ``suppress_stdout_stderr``, which does nothing here.

    Why: that helper silences llama.cpp's loading chatter by pointing the process's fd 1
    and 2 at /dev/null while a model loads. The redirect is process-wide, so every line the
    brain's other threads log meanwhile (a refused bus connection, a provider error) is
    lost from supervisord's log. llama.cpp's own lines already pass through the
    library's log callback, which drops all but errors when ``verbose=False``.
    """

    def __init__(self, disable: bool = True) -> None:
        self.disable = disable

    def __enter__(self) -> _KeepStderr:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def keep_stderr_while_loading() -> None:
    """Swap llama-cpp-python's fd redirect for :class:`_KeepStderr` in the modules that load models."""
    import llama_cpp._internals
    import llama_cpp.llama

    for module in (llama_cpp.llama, llama_cpp._internals):
        module.suppress_stdout_stderr = _KeepStderr


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
        self.batch_threads = max(self.threads, batch_threads()) if threads is None else threads
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
                keep_stderr_while_loading()
            except ImportError:
                raise ProviderError(i18n.say("brain.embedded.no-extra", self.lang), "unreachable", NAME) from None

            def _load() -> Any:
                return Llama(model_path=str(path), n_ctx=N_CTX, n_threads=self.threads,
                             n_threads_batch=self.batch_threads, verbose=False)

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
            # the prompt is read at this thread's normal priority, and only the decoding after
            # the first token yields the CPU (see llama_settings.LLM_NICE)
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
                        if not self.generated:
                            yield_cpu()
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
