"""The embedded model's prompt-cache warm-up, with the real GGUFs: a warmed prefix is not prefilled again.

What a request prefills is read from llama.cpp itself: ``Llama.generate`` evaluates the
prompt tokens it could not reuse in one ``eval`` call before sampling, so the size of
the first ``eval`` call of a request is its prefill.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from services.brain.providers import warmup
from services.brain.providers.base import Request
from services.brain.providers.embedded import EmbeddedProvider
from services.brain.providers.gguf import available, default_gguf
from services.brain.soul import DEFAULT as SOUL

pytestmark = pytest.mark.skipif(not available(), reason="llama-cpp-python or an embedded GGUF missing")

HISTORY = [
    {"role": "user", "content": "Oi Luna, tudo bem? Meu nome é Ana e eu moro em Belo Horizonte."},
    {"role": "assistant", "content": "Tudo ótimo, Ana! Belo Horizonte é uma cidade linda, cheia de montanhas."},
    {"role": "user", "content": "Você pode me lembrar de comprar pão, leite e café amanhã cedo?"},
    {"role": "assistant", "content": "Claro. Amanhã cedo: pão, leite e café. Quer que eu repita a lista depois?"},
    {"role": "user", "content": "Não precisa. Qual é a capital de Minas Gerais mesmo?"},
    {"role": "assistant", "content": "A capital de Minas Gerais é Belo Horizonte, a sua cidade."},
]
NEW = {"role": "user", "content": "E qual é a capital do Brasil?"}


def _models() -> list[Any]:
    out = []
    if default_gguf() is not None:
        out.append(pytest.param(str(default_gguf()), id="smollm2"))
    out.append(pytest.param("", id="packaged-qwen"))  # "" = the default: the packaged Qwen (or SmolLM2)
    return out


class EvalSpy:
    """Wraps ``Llama.eval`` and records each call's size; ``on_call`` runs before each call."""

    def __init__(self, llm: Any) -> None:
        self.sizes: list[int] = []
        self.seconds: list[float] = []  # each call's wall time
        self.on_call: Any = None
        self._eval = llm.eval
        llm.eval = self

    def __call__(self, tokens: Any) -> None:
        if self.on_call is not None:
            self.on_call(len(self.sizes))
        self.sizes.append(len(tokens))
        t0 = time.perf_counter()
        self._eval(tokens)
        self.seconds.append(time.perf_counter() - t0)


async def _prefill(p: EmbeddedProvider, spy: EvalSpy) -> tuple[int, float]:
    """(tokens the request prefilled, seconds to its first chunk) for the history plus the new line."""
    spy.sizes.clear()
    req = Request(model="x", messages=[*HISTORY, NEW], system=SOUL, temperature=0.0, max_tokens=4)
    t0 = time.perf_counter()
    first = None
    async for _chunk in p.stream(req):
        first = first or time.perf_counter() - t0
    return spy.sizes[0], first or time.perf_counter() - t0


@pytest.mark.parametrize("gguf", _models())
async def test_warmed_prefix_is_not_prefilled_again(gguf: str) -> None:
    p = EmbeddedProvider(gguf, threads=1)
    await p.load()
    spy = EvalSpy(p._llm)
    cold, cold_s = await _prefill(p, spy)  # nothing cached: the soul prompt and the whole history
    p._llm.reset()
    thread = p.warm(SOUL, HISTORY)
    assert thread is not None
    thread.join(120)
    w = p.last_warm
    assert w["cached"] == 0 and w["evaluated"] == w["tokens"] and not w["stopped"], w
    assert w["tokens"] > 150, w  # the soul prompt alone is a few hundred tokens
    warm, warm_s = await _prefill(p, spy)
    print(f"{p.model_name}: cold prefill {cold} tokens {cold_s:.2f} s; warmed prefix {w['tokens']} tokens "
          f"in {w['s']:.2f} s, then the request prefilled {warm} tokens {warm_s:.2f} s")
    # the request reuses everything the warm-up read; only the new line and the generation prompt remain
    assert cold >= w["tokens"] + 8
    assert warm <= cold - w["tokens"] + 2, (warm, cold, w)
    assert warm < 40


@pytest.mark.parametrize("gguf", _models()[:1])
async def test_a_real_turn_stops_the_warm_up_within_one_batch(gguf: str) -> None:
    p = EmbeddedProvider(gguf, threads=1)
    await p.load()
    spy = EvalSpy(p._llm)
    spy.on_call = lambda i: setattr(p, "turns", p.turns + 1) if i == 1 else None  # a request arrives mid-way
    thread = p.warm(SOUL, HISTORY)
    assert thread is not None
    thread.join(120)
    w = p.last_warm
    assert w["stopped"] and w["evaluated"] == 2 * warmup.CHUNK, w
    # the partial warm-up is kept: the next request prefills only what the warm-up had not read
    spy.on_call = None
    n, _s = await _prefill(p, spy)
    cold = w["tokens"] + 8
    assert n <= cold - 2 * warmup.CHUNK + 30, (n, w)


async def test_a_busy_core_neither_stalls_the_prompt_nor_the_warm_up() -> None:
    """Another program keeps one of the two cores busy at normal priority. The prompt is read
    at normal priority and the warm-up (nice 10) on one thread, so neither waits at a
    per-layer barrier for a starved thread: before, the first token took 8.0-8.4 s and
    one 16-token warm-up batch 8.4 s next to such a neighbour (0.2-0.3 s and 0.3 s without)."""
    import subprocess
    import sys

    p = EmbeddedProvider("")  # the packaged Qwen, with its default threads (the batch on every core)
    await p.load()
    spy = EvalSpy(p._llm)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        thread = p.warm(SOUL, HISTORY)
        assert thread is not None
        thread.join(120)
        assert not p.last_warm.get("stopped") and p.last_warm["evaluated"] > 0, p.last_warm
        batches = list(spy.seconds)
        firsts = []
        for q in ("Qual é a capital da França?", "Quantas patas tem uma aranha?"):
            t0 = time.monotonic()
            stream = p.stream(Request(model="e", messages=[*HISTORY, {"role": "user", "content": q}],
                                      system=SOUL, temperature=0.7, max_tokens=4))
            await anext(stream)
            firsts.append(round(time.monotonic() - t0, 2))
            await stream.aclose()
            while p.active.is_set():  # the generation thread ends on this loop, not after it
                await asyncio.sleep(0.01)
    finally:
        hog.kill()
        hog.wait()
    print(f"\nnext to a busy core: warm-up batch max {max(batches):.2f} s, first tokens {firsts}")
    assert max(batches) < 2.0, batches
    assert max(firsts) < 3.0, firsts


async def test_warm_up_off_and_before_load_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    p = EmbeddedProvider(str(default_gguf() or ""), threads=1)
    assert p.warm(SOUL, HISTORY) is None  # not loaded yet: nothing to warm
    monkeypatch.setenv("LLM_WARMUP", "0")
    q = EmbeddedProvider(str(default_gguf() or ""), threads=1)
    await q.load()
    assert q.warm(SOUL, HISTORY) is None and q._llm.n_tokens == 0


def test_common_prefix() -> None:
    assert warmup.common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert warmup.common_prefix([], [1]) == 0
    assert warmup.common_prefix([1, 2], [1, 2]) == 2


def _jumps_at_real_turns(tmp_path: Any, reserve: int) -> tuple[int, int]:
    """(real turns whose window start differed from the warm-up's, window moves) over a 40-turn chat."""
    from services.brain.history import History

    h = History(tmp_path / f"h{reserve}.db")
    conv = h.new_conversation()
    cold = moves = 0
    warmed_first = None
    last_first = None
    for i in range(40):
        h.add(conv, "user", f"pergunta {i:02d} " + "x" * 60)  # a spoken line: well under the reserve
        first = h.context(conv, 600)[0]["content"]  # the real turn's window
        cold += warmed_first is not None and first != warmed_first
        moves += last_first is not None and first != last_first
        last_first = first
        h.add(conv, "assistant", f"resposta {i:02d} " + "y" * 60)
        warmed_first = h.context(conv, 600, reserve=reserve)[0]["content"]  # the warm-up's window
    return cold, moves


def test_the_warm_up_moves_the_window_before_the_next_line_would(tmp_path: Any) -> None:
    cold, moves = _jumps_at_real_turns(tmp_path, reserve=300)
    assert moves >= 3 and cold == 0, (cold, moves)  # every move happened in a warm-up, none at a real turn
    cold0, moves0 = _jumps_at_real_turns(tmp_path, reserve=0)
    assert moves0 >= 3 and cold0 >= 3, (cold0, moves0)  # without the reserve the user's line causes them


@pytest.mark.integration
async def test_the_brain_service_warms_the_cache_at_start_and_after_each_embedded_reply(
        start_service: Any, tmp_path: Any) -> None:
    """The real brain process, Ollama down: its log shows a warm-up after loading and one per reply."""
    import json

    from tests.conftest import wait_for
    from tests.integration.test_brain_service import Peer, closed_port_url

    def warmups() -> list[dict[str, Any]]:
        log = tmp_path / "logs" / "brain.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        return [d for d in map(json.loads, lines) if d.get("msg") == "prompt cache warm-up"]

    start_service("brain", OLLAMA_HOST=closed_port_url(), CHAT_MAX_TOKENS="12")
    peer = Peer()
    try:
        await peer.ready()
        first = (await wait_for(warmups, 240))[0]  # the soul prompt, read right after the model loaded
        assert first["cached"] == 0 and first["evaluated"] == first["tokens"] > 150, first
        tid = peer.say("Oi! Diga olá em uma frase.")
        _start, _text, end = await peer.reply(tid, timeout=240)
        assert end["ok"] and end["provider"] == "embedded"
        # after the reply: the prefix is the soul + this exchange, most of it already in the cache
        after = (await wait_for(lambda: warmups()[1:], 240))[0]
        assert after["tokens"] > first["tokens"] and after["cached"] >= first["tokens"] - 2, after
    finally:
        await peer.close()
