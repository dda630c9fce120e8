"""Prompt-cache warm-up for the embedded llama.cpp model: prefill the next turn's prefix while idle.

Why: llama-cpp-python keeps one KV cache per context and, on each request, reuses the
longest token prefix it shares with what the cache already holds (``Llama.generate``'s
prefix match), so only the new tokens are prefilled. That reuse fails twice in a
conversation: on the first turn (the soul prompt and any old history were never read)
and when the history window jumps forward (:meth:`History.context` moves its start
in big steps, and everything after the system prompt changes). On a 2-core CPU that
prefill is most of the slow turns' time to first audio (the p95). Reading the prefix
the next request will start with (the system prompt and the current history window,
formatted by the model's own chat template) right after loading and after each reply,
while nobody is waiting, makes the next turn prefill only the user's new line.

It never delays a real turn by more than one small batch: the prefix is evaluated
:data:`CHUNK` tokens at a time, and a new request (the provider's turn counter moved)
stops it between batches. A partial warm-up still counts: the tokens evaluated so far
stay in the cache and the real request reuses them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

log = logging.getLogger("luna.brain.warmup")

#: Tokens per llama.cpp decode call during a warm-up: the most a real turn waits for the
#: warm-up to notice it (16 tokens of the 0.5B model: about 0.1 s on an idle 2-core CPU,
#: 1 s or more when other processes load it).
CHUNK = 16


def formatter(llm: Any) -> Any | None:
    """The GGUF's own chat template without the generation prompt (None when the model has none).

    The same Jinja formatter llama-cpp-python builds for ``chat_template.default`` (the
    format ``create_chat_completion`` uses when no ``chat_format`` is given), so the
    prefix tokenizes to the same tokens the real request starts with.
    """
    template = (getattr(llm, "metadata", None) or {}).get("tokenizer.chat_template")
    if not template or getattr(llm, "chat_format", None) != "chat_template.default":
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, add_generation_prompt=False)


def prefix_tokens(llm: Any, fmt: Any, messages: list[dict[str, str]]) -> list[int]:
    """Tokens of ``messages`` (system first) as the next request's prompt starts with them."""
    result = fmt(messages=messages)
    return list(llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True))


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def cached(llm: Any, tokens: Sequence[int]) -> int:
    """How many of ``tokens`` llama's KV cache already holds (what a request would not prefill)."""
    return common_prefix(list(llm.input_ids[:llm.n_tokens]), tokens)


def warm(llm: Any, tokens: Sequence[int], cancelled: Callable[[], bool], chunk: int = CHUNK) -> int:
    """Evaluate the part of ``tokens`` not in the cache, ``chunk`` at a time; returns tokens evaluated.

    The caller holds the provider's generation lock (a llama.cpp context is not
    thread-safe). Truncating ``n_tokens`` to the shared prefix is what ``generate``
    does too: ``eval`` drops the KV entries after it before decoding.
    """
    keep = cached(llm, tokens)
    if keep >= len(tokens) or cancelled():
        return 0
    llm.n_tokens = keep
    done = 0
    with one_batch_thread(llm):
        for i in range(keep, len(tokens), chunk):
            if cancelled():
                break
            batch = list(tokens[i:i + chunk])
            llm.eval(batch)
            done += len(batch)
    return done


@contextlib.contextmanager
def one_batch_thread(llm: Any) -> Iterator[None]:
    """The warm-up's batches on one thread, the real requests' on all of them again after.

    Why: the warm-up runs at nice 10 so it never slows what Luna is saying, but a batch
    spread over every core waits at each layer for its slowest thread: next to one busy
    nice-0 process a 2-thread batch crawled (a 20-token prompt took 8 s, see
    llama_settings.LLM_NICE), and a real turn waits for the batch in progress. One
    thread at nice 10 has no barrier to wait at and the scheduler moves it to a free core.
    """
    ctx = getattr(getattr(llm, "_ctx", None), "ctx", None)
    if ctx is None:
        yield
        return
    import llama_cpp

    llama_cpp.llama_set_n_threads(ctx, llm.n_threads, 1)
    try:
        yield
    finally:
        llama_cpp.llama_set_n_threads(ctx, llm.n_threads, llm.n_threads_batch)
