"""What the brain answers for the UI's sake (issue 15): a real brain process, a fake Ollama on 127.0.0.1.

A vision question without an image asks for one; with an image and no model that sees, the
reply names the model to pull and the keys to set; ``/foo`` is an unknown command; switching
provider resets the model and says why a provider will be skipped. None of these reach Ollama.
"""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tests.integration.test_brain_service import Peer, T
from tests.support.fakes.ollama import FakeOllama

pytestmark = pytest.mark.integration


@pytest.fixture
async def peer(bus_env):
    p = Peer()
    yield p
    await p.close()


def asked(ol: FakeOllama) -> int:
    return sum(1 for r in ol.requests if r.get("path", "").endswith(("/api/chat", "/api/generate")))


async def test_vision_unknown_command_and_provider_switch(peer: Peer, start_service, tmp_path) -> None:
    with FakeOllama(models=("dolphin-mistral:latest", "qwen2.5-coder:7b")) as ol:  # no vision model pulled
        start_service("brain", OLLAMA_HOST=ol.url, GEMINI_API_KEY="", OPENAI_API_KEY="", DEEPSEEK_API_KEY="")
        await peer.ready()
        before = asked(ol)

        start, text, end = await peer.reply(peer.say("o que você está vendo?"))
        assert end["ok"] and start["intent"] == "vision" and start["provider"] == "luna"
        assert "/img" in text and "imagem" in text and "Ollama" not in text

        img = tmp_path / "foto.png"
        img.write_bytes(b"\x89PNG not really")
        start, text, end = await peer.reply(peer.say("o que é isso?", image=str(img)))
        assert end["ok"] and "ollama pull minicpm-v" in text and "GEMINI_API_KEY" in text, text

        start, text, end = await peer.reply(peer.say("/foo"))
        assert text == "comando desconhecido: /foo — veja /ajuda"
        assert asked(ol) == before  # none of the three reached a model

        peer.command("config-set", function="chat", provider="gemini")
        cfg = await wait_for(lambda: [f for f in peer.of("config")
                                      if f["functions"]["chat"].get("configured") == "gemini"], T)
        chat = cfg[-1]["functions"]["chat"]
        assert chat["configured_model"] == "gemini-2.5-flash"  # the provider's default, not the old model
        assert chat["provider"] == "ollama" and chat["model"] == "dolphin-mistral"  # who answers meanwhile
        assert chat["skipped"][0]["provider"] == "gemini" and "GEMINI_API_KEY" in chat["skipped"][0]["why"]
        assert cfg[-1]["options"]["defaults"]["chat"]["gemini"] == "gemini-2.5-flash"

        start, text, end = await peer.reply(peer.say("oi"))
        assert end["ok"] and start["provider"] == "ollama"
        assert "gemini: sem chave (GEMINI_API_KEY" in start["notice"]  # the header of that reply says why
