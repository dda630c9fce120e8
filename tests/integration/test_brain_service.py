"""BrainService end to end: a real process on a private bus, fake model servers on 127.0.0.1.

The test plays the UI (``Bus("ui")``: publishes user-text/commands, collects events)
and TTS (a PULL on ``sentence``).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.brain.history import History
from services.brain.providers.gguf import available
from shared.bus import Bus
from shared.messages import Frame
from tests.conftest import wait_for
from tests.support.fakes.ollama import FakeOllama
from tests.support.fakes.openai import FakeOpenAI

pytestmark = pytest.mark.integration
T = 60.0  # generous: 2 slow cores


class Peer:
    """The test's side of the bus: the UI's publisher plus the TTS sentence consumer."""

    def __init__(self) -> None:
        self.bus = Bus("ui")
        self.bus.subscribe()
        self.tts = Bus(None)
        self.tts.consume("sentence")
        self.events: list[Frame] = []
        self.sentences: list[Frame] = []
        self._tasks = [asyncio.create_task(self._pump_events()), asyncio.create_task(self._pump_sentences())]

    async def _pump_events(self) -> None:
        while True:
            self.events.append(await self.bus.recv_event())

    async def _pump_sentences(self) -> None:
        while True:
            self.sentences.append(await self.tts.recv_stream("sentence"))

    def of(self, type_: str, source: str = "brain") -> list[Frame]:
        return [f for f in self.events if f.type == type_ and f.source == source]

    async def ready(self) -> None:
        await wait_for(lambda: any(f.get("state") == "ready" for f in self.of("heartbeat")) or self.of("ready"), T)

    def say(self, text: str, **kw: Any) -> str:
        tid = uuid.uuid4().hex[:8]
        self.bus.publish("user-text", turn_id=tid, text=text, **kw)
        return tid

    def command(self, name: str, **args: Any) -> None:
        self.bus.publish("command", name=name, args=args)

    async def reply(self, tid: str, timeout: float = T) -> tuple[Frame, str, Frame]:
        end = await wait_for(lambda: next((f for f in self.of("reply-end") if f.turn_id == tid), None), timeout)
        start = next(f for f in self.of("reply-start") if f.turn_id == tid)
        text = "".join(f["text"] for f in self.of("token") if f.turn_id == tid)
        return start, text, end

    async def notice(self, code: str) -> Frame:
        return await wait_for(lambda: next((f for f in self.of("notice") if f.get("code") == code), None), T)

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.bus.close()
        self.tts.close()



def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_chat_code_hot_swap_and_slash_commands(peer: Peer, start_service, tmp_path) -> None:
    with FakeOllama(reply="Olá! Eu sou a Luna. Em que posso ajudar?") as ol, \
            FakeOpenAI(reply="Aqui é o provedor pago. Continuo a conversa.") as oa:
        start_service("brain", OLLAMA_HOST=ol.url, OPENAI_API_KEY="sk-good-key-123", OPENAI_BASE_URL=oa.url + "/v1")
        await peer.ready()
        status = await wait_for(lambda: peer.of("status"), T)
        assert status[-1]["data"]["functions"]["chat"]["provider"] == "ollama"
        assert status[-1]["data"]["ollama"] == "up"

        tid = peer.say("oi Luna, tudo bem?")
        start, text, end = await peer.reply(tid)
        assert (start["intent"], start["provider"], start["model"]) == ("chat", "ollama", "dolphin-mistral")
        assert end["ok"] and text == end["text"] == "Olá! Eu sou a Luna. Em que posso ajudar?"
        assert end["epoch"] == start["epoch"] and "first_token_ms" in end["timings"]
        said = await wait_for(lambda: [s for s in peer.sentences if s.turn_id == tid and s.get("final")], T)
        texts = [s["text"] for s in peer.sentences if s.turn_id == tid]
        assert texts == ["Olá!", "Eu sou a Luna.", "Em que posso ajudar?"] and said[0]["epoch"] == end["epoch"]
        system_prompt = ol.requests[-1]["body"]["messages"][0]
        assert system_prompt["role"] == "system" and "Luna" in system_prompt["content"]

        tid = peer.say("escreve uma função em Python que soma dois números")
        start, _, end = await peer.reply(tid)
        assert (start["intent"], start["model"], end["ok"]) == ("code", "qwen2.5-coder:7b", True)
        assert end["epoch"] > 1

        # an attached image is vision, sent as base64 to the vision model
        img = tmp_path / "foto.png"
        img.write_bytes(b"\x89PNG not really")
        tid = peer.say("o que é isso?", image=str(img))
        start, _, end = await peer.reply(tid)
        assert (start["intent"], start["model"], end["ok"]) == ("vision", "minicpm-v", True)
        assert ol.requests[-1]["body"]["messages"][-1]["images"]
        _, _, end = await peer.reply(peer.say("e essa?", image=str(tmp_path / "sumiu.png")))
        assert not end["ok"] and end["error"].startswith("imagem não encontrada")

        # a transcript is a spoken user turn; emoji never reach the screen's chat text or the voice
        ol.reply = "Claro! 😀 Estou ouvindo você. 🎧"
        tid = uuid.uuid4().hex[:8]
        peer.bus.publish("transcript", turn_id=tid, text="você está me ouvindo?")
        start, text, end = await peer.reply(tid)
        assert start["intent"] == "chat" and end["ok"] and "😀" not in text and "Estou ouvindo você." in text
        said = await wait_for(lambda: [s["text"] for s in peer.sentences if s.turn_id == tid and s.get("final")], T)
        assert all("🎧" not in s["text"] for s in peer.sentences if s.turn_id == tid) and said

        # cancel closes the model's HTTP stream, flushes TTS and ends the reply as cancelled
        ol.reply, ol.delay = " ".join(["palavra"] * 300) + ".", 0.02
        sent_before = ol.chunks_sent
        tid = peer.say("me conta uma história bem longa")
        await wait_for(lambda: [f for f in peer.of("token") if f.turn_id == tid], T)
        peer.command("cancel")
        start, _, end = await peer.reply(tid)
        assert end["cancelled"] is True and not end["ok"]
        await wait_for(lambda: [f for f in peer.sentences if f.type == "flush" and f["epoch"] == end["epoch"] + 1], T)
        await asyncio.sleep(0.5)
        assert ol.chunks_sent - sent_before < 300, "the fake kept streaming after cancel"
        ol.delay = 0.0

        # hot swap mid-conversation: the next chat turn goes to the paid provider, with the history
        peer.command("config-set", function="chat", provider="openai", model="gpt-test")
        cfg = await wait_for(lambda: peer.of("config"), T)
        assert cfg[-1]["functions"]["chat"]["provider"] == "openai"
        tid = peer.say("e você lembra o que eu disse?")
        start, text, end = await peer.reply(tid)
        assert (start["provider"], start["model"], end["ok"]) == ("openai", "gpt-test", True)
        assert text == "Aqui é o provedor pago. Continuo a conversa."
        sent = [m["content"] for m in oa.requests[-1]["body"]["messages"]]
        assert "oi Luna, tudo bem?" in sent and "Olá! Eu sou a Luna. Em que posso ajudar?" in sent

        # slash commands never reach a model
        n_requests = len(ol.requests) + len(oa.requests)
        tid = peer.say("/ajuda")
        start, text, end = await peer.reply(tid)
        assert start["intent"] == "system" and end["ok"] and "/nova" in text and "/historico" in text
        tid = peer.say("/config")
        _, text, _ = await peer.reply(tid)
        assert "chat: openai gpt-test" in text
        tid = peer.say("/sair")
        _, _, end = await peer.reply(tid)
        assert end["ok"]
        assert len(ol.requests) + len(oa.requests) == n_requests

        old = peer.of("status")[-1]["data"]["conversation_id"]
        peer.command("new-conversation")
        conv = await wait_for(lambda: peer.of("conversation"), T)
        assert conv[-1]["id"] != old and conv[-1]["messages"] == []
        peer.command("history-list")
        hist = await wait_for(lambda: peer.of("history"), T)
        rows = {r["id"]: r for r in hist[-1]["conversations"]}
        assert rows[old]["count"] == 14 and hist[-1]["current"] == conv[-1]["id"]
        peer.command("history-open", id=old)
        opened = await wait_for(lambda: [c for c in peer.of("conversation") if c["id"] == old], T)
        assert [m["role"] for m in opened[-1]["messages"]][:2] == ["user", "assistant"]
        # heartbeats carry the same view as status (the swap is visible there too)
        await wait_for(lambda: [h for h in peer.of("heartbeat")
                                if h["info"].get("functions", {}).get("chat", {}).get("provider") == "openai"], T)


async def test_fallback_paths_and_errors(peer: Peer, start_service) -> None:
    with FakeOllama(reply="um dois três quatro cinco seis sete.", models=()) as ol:
        start_service("brain", OLLAMA_HOST=ol.url, CHAT_PROVIDER="ollama", FIRST_TOKEN_TIMEOUT="4",
                      LLM_STALL_TIMEOUT="1.5")
        await peer.ready()
        n = await peer.notice("model-missing")
        assert "ollama pull dolphin-mistral" in n["text"]
        assert "dolphin-mistral" in peer.of("status")[-1]["data"]["missing_models"]
        # explicit ollama, model missing, no other provider: a clear one-line error
        tid = peer.say("oi")
        _, _, end = await peer.reply(tid)
        assert not end["ok"]
        assert end["error"] == "modelo dolphin-mistral não encontrado: rode `ollama pull dolphin-mistral`"

        # pull it: progress arrives as status frames
        peer.command("pull", model="dolphin-mistral")
        await peer.notice("pulled")
        pulls = [f["data"]["pull"] for f in peer.of("status") if "pull" in f["data"]]
        assert any(p["total"] == 4_000_000 and 0 < p["completed"] < 4_000_000 for p in pulls)
        assert pulls[-1]["status"] == "success"
        await wait_for(lambda: "dolphin-mistral" not in peer.of("status")[-1]["data"]["missing_models"], T)
        tid = peer.say("oi de novo")
        _, text, end = await peer.reply(tid)
        assert end["ok"] and text.startswith("um dois")

        # mid-stream error line and a stall after the first tokens: ok=False, one line, no traceback
        ol.mode = "error-mid"
        _, text, end = await peer.reply(peer.say("mais uma"))
        assert not end["ok"] and "unexpected EOF" in end["error"] and text
        ol.mode = "stall"
        _, _, end = await peer.reply(peer.say("e outra"))
        assert not end["ok"] and "timeout" in end["error"] and "\n" not in end["error"]

        # deepseek without a key is skipped, then Ollama's first token never comes: the next one answers
        ol.mode = "stall-first"
        peer.command("config-set", function="chat", provider="deepseek")  # no DEEPSEEK_API_KEY
        await peer.notice("missing-key")
        start, _, end = await peer.reply(peer.say("alguém aí?"), timeout=120)
        assert end["ok"] and start["provider"] == "embedded", (dict(start.data), dict(end.data))
        assert "deepseek: sem chave" in start["notice"] and "timeout" in start["notice"]


@pytest.mark.skipif(not available(), reason="embedded model not installed")
async def test_ollama_down_uses_embedded_smollm2_and_cancel(peer: Peer, start_service) -> None:
    start_service("brain", OLLAMA_HOST=closed_port_url(), CHAT_MAX_TOKENS="600")
    await peer.ready()
    n = await peer.notice("ollama-down")
    assert "Ollama" in n["text"]
    status = await wait_for(lambda: peer.of("status"), T)
    assert status[-1]["data"]["functions"]["chat"]["provider"] == "embedded"
    assert status[-1]["data"]["ollama"] == "down" and status[-1]["data"]["embedded"] is True

    tid = peer.say("Hi! Say hello in one sentence.")
    start, text, end = await peer.reply(tid, timeout=120)
    assert start["provider"] == "embedded" and "ollama pull dolphin-mistral" in start["notice"]
    assert end["ok"] and text.strip()

    tid = peer.say("Write a very long story about a dragon who learns to cook, with many chapters.")
    await wait_for(lambda: [f for f in peer.of("token") if f.turn_id == tid], 120)
    peer.command("cancel")
    _, _, end = await peer.reply(tid)
    assert end.get("cancelled") is True and not end["ok"]
    # and the next turn still works
    _, _, end = await peer.reply(peer.say("Say OK."), timeout=120)
    assert end["ok"]


async def test_history_survives_kill_9_and_bad_env_value(peer: Peer, start_service, bus_env) -> None:
    with FakeOllama(reply="Anotado. Vou lembrar.") as ol:
        p = start_service("brain", OLLAMA_HOST=ol.url, CHAT_TEMPERATURE="quente")
        await peer.ready()
        n = await wait_for(lambda: next((f for f in peer.of("notice") if "CHAT_TEMPERATURE" in f["text"]), None), T)
        assert n["text"] == "config error: CHAT_TEMPERATURE: 'quente' is not a number" and n["level"] == "error"
        hb = await wait_for(lambda: [h for h in peer.of("heartbeat") if h["info"].get("problems")], T)
        assert "CHAT_TEMPERATURE" in hb[-1]["info"]["problems"][0]

        _, _, end = await peer.reply(peer.say("meu nome é Ana"))
        assert end["ok"]
        p.p.kill()  # kill -9
        p.p.wait()
        h = History(Path(bus_env["XDG_DATA_HOME"]) / "luna" / "history.db")
        conv = h.latest()
        msgs = h.messages(conv)
        assert [(m["role"], m["content"]) for m in msgs] == [("user", "meu nome é Ana"),
                                                              ("assistant", "Anotado. Vou lembrar.")]
        assert msgs[1]["provider"] == "ollama" and msgs[1]["intent"] == "chat"
        h.close()

        peer.events.clear()
        start_service("brain", OLLAMA_HOST=ol.url)
        await peer.ready()
        _, _, end = await peer.reply(peer.say("qual é o meu nome?"))
        assert end["ok"]
        sent = [m["content"] for m in ol.requests[-1]["body"]["messages"]]
        assert "meu nome é Ana" in sent  # the conversation continued after the crash

        # the soul is a file in the config dir; an edit applies to the next turn, no restart
        alma = Path(bus_env["XDG_CONFIG_HOME"]) / "luna" / "alma.md"
        assert "Luna" in alma.read_text()
        alma.write_text("# Alma\nVocê é a Luna, uma pirata gentil.", encoding="utf-8")
        peer.command("soul-reload")
        _, _, end = await peer.reply(peer.say("quem é você?"))
        assert end["ok"] and "pirata gentil" in ol.requests[-1]["body"]["messages"][0]["content"]

        # a new turn interrupts the one being answered (barge-in): both get their reply-end
        ol.delay = 0.3
        first, second = peer.say("conta até dez"), peer.say("esquece, diz só oi")
        _, _, end1 = await peer.reply(first)
        _, _, end2 = await peer.reply(second)
        assert end1.get("cancelled") is True and end2["ok"] and end2["epoch"] > end1["epoch"]


async def test_paid_providers_gemini_vision_and_bad_key_falls_back_to_local(peer: Peer, start_service,
                                                                            tmp_path) -> None:
    from tests.support.fakes.gemini import FakeGemini

    with FakeOllama(reply="Resposta local. Pronto.") as ol, FakeGemini(reply="Vejo um gato laranja.") as gm, \
            FakeOpenAI() as oa:
        start_service("brain", OLLAMA_HOST=ol.url, VISION_PROVIDER="gemini", GEMINI_API_KEY="gm-good-key-123",
                      GEMINI_BASE_URL=gm.url, CHAT_PROVIDER="openai", OPENAI_API_KEY="sk-revoked-000",
                      OPENAI_BASE_URL=oa.url + "/v1")
        await peer.ready()
        img = tmp_path / "gato.jpg"
        img.write_bytes(b"\xff\xd8\xff fake jpeg")
        start, text, end = await peer.reply(peer.say("o que você vê?", image=str(img)))
        assert (start["intent"], start["provider"], end["ok"], text) == ("vision", "gemini", True,
                                                                         "Vejo um gato laranja.")
        parts = gm.requests[-1]["body"]["contents"][-1]["parts"]
        assert any("inlineData" in p or "inline_data" in p for p in parts)

        # paid first, key refused (401): the turn falls back to local and says why
        start, text, end = await peer.reply(peer.say("oi"))
        assert start["provider"] == "gemini"  # chain: openai > other paid with a key > ollama > embedded
        assert end["ok"] and "openai: chave inválida (OPENAI_API_KEY)" in start["notice"]
        assert "sk-revoked-000" not in start["notice"]


async def test_preemptive_reply_is_held_until_the_final_transcript(peer: Peer, start_service, bus_env) -> None:
    """A pause partial starts the model at once, but nothing is shown, spoken or kept until the final
    transcript with the same turn_id; a retracted, superseded or orphaned guess leaves no trace."""
    with FakeOllama(reply="Paris é a capital da França. Posso ajudar em mais algo?") as ol:
        start_service("brain", OLLAMA_HOST=ol.url)
        await peer.ready()

        def partial(tid: str, text: str) -> None:
            peer.bus.publish("transcript-partial", turn_id=tid, text=text, pause=True, timings={})

        def traces(tid: str) -> list[str]:
            """What the user could see or hear of ``tid``: brain events, and speech tts may play."""
            return [f.type for f in peer.events if f.turn_id == tid and f.source == "brain"] + \
                [f.type for f in peer.sentences if f.turn_id == tid and not f.get("held")]

        def withdrawn(tid: str) -> bool:
            """Speech sent ahead for ``tid`` (if any) was flushed and never released."""
            frames = [f for f in peer.sentences if f.turn_id == tid]
            return not frames or (frames[-1].type == "flush" and all(
                f.get("held") for f in frames if f.type == "sentence") and "release" not in [f.type for f in frames])

        # 1. committed: the model starts on the partial; the reply comes out only after the final
        partial("t1", "qual é a capital da França?")
        await wait_for(lambda: any("capital da França" in str(r["body"]) for r in ol.requests), T)
        await asyncio.sleep(1.0)  # the fake answers in ms: the whole reply is ready and held
        assert traces("t1") == []
        ahead = [s for s in peer.sentences if s.turn_id == "t1"]  # synthesized ahead, parked in tts
        assert [s["text"] for s in ahead] == ["Paris", "é a capital da França.", "Posso ajudar em mais algo?"]
        assert all(s.type == "sentence" and s["held"] for s in ahead)
        peer.bus.publish("transcript", turn_id="t1", text="qual é a capital da França?", timings={})
        start, text, end = await peer.reply("t1")
        assert end["ok"] and text == "Paris é a capital da França. Posso ajudar em mais algo?"
        await wait_for(lambda: len([s for s in peer.sentences if s.turn_id == "t1"]) >= 4, T)
        after = [s for s in peer.sentences if s.turn_id == "t1"][3:]
        assert [s.type for s in after] == ["release"] and after[0]["epoch"] == ahead[0]["epoch"] == start["epoch"]
        chats = [r for r in ol.requests if r["path"] == "/api/chat"]
        assert len(chats) == 1  # the final reused the preemptive stream: the model ran once

        # 2. retracted (the speaker went on), then the real utterance
        ol.delay = 0.2
        partial("t2", "me conta")
        await wait_for(lambda: sum(r["path"] == "/api/chat" for r in ol.requests) == 2, T)
        peer.bus.publish("transcript-retract", turn_id="t2")
        peer.bus.publish("transcript", turn_id="t3", text="me conta uma piada curta", timings={})
        _, _, end3 = await peer.reply("t3")
        assert end3["ok"]

        # 3. superseded by typed text, and 4. orphaned (no final transcript ever comes)
        partial("t4", "abre o navegador")
        await wait_for(lambda: sum(r["path"] == "/api/chat" for r in ol.requests) == 4, T)
        _, _, end5 = await peer.reply(peer.say("oi"))
        assert end5["ok"]
        partial("t6", "hmm")
        await asyncio.sleep(9.5)  # past EARLY_HOLD_S
        await asyncio.sleep(0.5)
        peer.bus.publish("transcript", turn_id="t6", text="hmm", timings={})  # too late: a turn of its own
        _, _, end6 = await peer.reply("t6")
        assert end6["ok"]
        for tid in ("t2", "t4"):
            assert traces(tid) == [], (tid, traces(tid))
            assert withdrawn(tid), [(f.type, f.get("held")) for f in peer.sentences if f.turn_id == tid]
        hb = await wait_for(lambda: [h for h in peer.of("heartbeat")
                                     if h["counters"].get("early_timeout")], T)
        c = hb[-1]["counters"]
        assert c["early_committed"] == 1 and c["early_retracted"] == 1 and c["early_cancelled"] == 1

        h = History(Path(bus_env["XDG_DATA_HOME"]) / "luna" / "history.db")
        rows = [(m["turn_id"], m["role"]) for m in h.messages(h.latest())]
        h.close()
        assert not any(t in ("t2", "t4") for t, _ in rows)
        assert [r for r in rows if r[0] in ("t1", "t3", "t6")] == [
            ("t1", "user"), ("t1", "assistant"), ("t3", "user"), ("t3", "assistant"), ("t6", "user"), ("t6", "assistant")]


@pytest.mark.parametrize("env", [{"PREEMPTIVE_SPEECH": "0"},
                                 {"TTS_PROVIDER": "elevenlabs", "ELEVENLABS_API_KEY": "el-test-key-123"}],
                         ids=["off", "paid-voice"])
async def test_speech_waits_for_the_turn_when_speaking_ahead_is_off_or_paid(peer: Peer, start_service, env) -> None:
    """PREEMPTIVE_SPEECH=0, or auto with a voice billed by the character: the held reply's
    sentences reach tts only after the final transcript, and never as held."""
    with FakeOllama(reply="Paris é a capital da França.") as ol:
        start_service("brain", OLLAMA_HOST=ol.url, **env)
        await peer.ready()
        peer.bus.publish("transcript-partial", turn_id="p1", text="qual é a capital da França?", pause=True,
                         timings={})
        await wait_for(lambda: any("capital da França" in str(r["body"]) for r in ol.requests), T)
        await asyncio.sleep(1.0)
        assert [f for f in peer.sentences if f.turn_id == "p1"] == []
        peer.bus.publish("transcript", turn_id="p1", text="qual é a capital da França?", timings={})
        await peer.reply("p1")
        said = await wait_for(lambda: [s for s in peer.sentences if s.turn_id == "p1" and s.get("final")], T)
        assert said and not any(s.get("held") or s.type == "release" for s in peer.sentences if s.turn_id == "p1")


async def test_a_reply_that_calls_the_user_luna_is_shown_spoken_and_kept_without_it(peer: Peer, start_service,
                                                                                   bus_env) -> None:
    """The offline model greeted misheard questions with "Olá, Luna!"; the user never sees or hears it."""
    with FakeOllama(reply="Olá, Luna! A capital do Brasil é Brasília. Eu sou a Luna, sua assistente.") as ol:
        start_service("brain", OLLAMA_HOST=ol.url)
        await peer.ready()
        tid = peer.say("wow a capitauda do brasil")
        _, text, end = await peer.reply(tid)
        fixed = "Olá! A capital do Brasil é Brasília. Eu sou a Luna, sua assistente."
        assert end["ok"] and text == end["text"] == fixed
        await wait_for(lambda: [s for s in peer.sentences if s.turn_id == tid and s.get("final")], T)
        assert " ".join(s["text"] for s in peer.sentences if s.turn_id == tid) == fixed
        await wait_for(lambda: (hb := peer.of("heartbeat")) and hb[-1]["counters"].get("self_address_removed") == 1, T)
    h = History(Path(bus_env["XDG_DATA_HOME"]) / "luna" / "history.db")
    assert [m["content"] for m in h.messages(h.latest())][-1] == fixed  # the next turn's context has no "Luna" to copy
    h.close()


async def test_a_transcript_that_continues_a_turn_replaces_it_in_the_reply_and_the_history(peer: Peer, start_service,
                                                                                         bus_env) -> None:
    """The speaker paused after "desculpe," long enough for stt to end the turn, then went on: the
    next transcript ``continues`` it and holds both halves. The reply to half a sentence stops, its
    lines leave the history, and the model answers (and remembers) the whole sentence once. The
    same through a pause partial: the preemptive reply starts on the whole sentence at once."""
    with FakeOllama(reply="Sem problema, eu explico de novo com calma e mais devagar desta vez.") as ol:
        start_service("brain", OLLAMA_HOST=ol.url)
        await peer.ready()
        ol.delay = 0.3  # per token: the first reply is still running when the rest of the sentence comes
        peer.bus.publish("transcript", turn_id="c1", text="Desculpe.", timings={})
        await wait_for(lambda: peer.of("token") and peer.of("token")[-1].turn_id == "c1", T)
        peer.bus.publish("transcript", turn_id="c2", text="Desculpe, eu não entendi a sua pergunta.",
                         continues="c1", timings={})
        _, _, end1 = await peer.reply("c1")
        assert not end1["ok"] and end1.get("cancelled")  # the reply to "Desculpe." stopped
        ol.delay = 0.0
        _, text2, end2 = await peer.reply("c2")
        assert end2["ok"] and text2.startswith("Sem problema")
        last = [r for r in ol.requests if r["path"] == "/api/chat"][-1]["body"]["messages"]
        users = [m["content"] for m in last if m["role"] == "user"]
        assert users == ["Desculpe, eu não entendi a sua pergunta."]  # not "Desculpe." as a turn of its own

        # through a pause partial: it starts the whole sentence's reply, held, and the final commits it
        peer.bus.publish("transcript", turn_id="c3", text="O modelo do dbt.", timings={})
        await peer.reply("c3")
        peer.bus.publish("transcript-partial", turn_id="c4", text="O modelo do dbt falhou no teste.", pause=True,
                         continues="c3", timings={})
        await wait_for(lambda: any("falhou no teste" in str(r["body"]) for r in ol.requests), T)
        early = [r for r in ol.requests if "falhou no teste" in str(r["body"])][0]["body"]["messages"]
        assert "O modelo do dbt." not in [m["content"] for m in early]  # the half is not in its context
        peer.bus.publish("transcript", turn_id="c4", text="O modelo do dbt falhou no teste.", continues="c3",
                         timings={})
        _, _, end4 = await peer.reply("c4")
        assert end4["ok"]
        hb = await wait_for(lambda: [h for h in peer.of("heartbeat") if h["counters"].get("turns_continued") == 2], T)
        assert hb[-1]["counters"]["early_committed"] == 1

        # a frame that claims to continue an older turn, or a typed one, takes nothing away
        peer.bus.publish("transcript", turn_id="c5", text="E o teste de chave única?", continues="c2", timings={})
        await peer.reply("c5")
        typed = peer.say("oi")
        await peer.reply(typed)
        peer.bus.publish("transcript", turn_id="c6", text="tudo bem?", continues=typed, timings={})
        await peer.reply("c6")
        await asyncio.sleep(0.5)
    h = History(Path(bus_env["XDG_DATA_HOME"]) / "luna" / "history.db")
    rows = [(m["turn_id"], m["role"], m["content"]) for m in h.messages(h.latest())]
    h.close()
    assert [(t, r) for t, r, _ in rows] == [(t, r) for t in ("c2", "c4", "c5", typed, "c6")
                                            for r in ("user", "assistant")]
    assert rows[0][2] == "Desculpe, eu não entendi a sua pergunta." and rows[2][2] == "O modelo do dbt falhou no teste."
