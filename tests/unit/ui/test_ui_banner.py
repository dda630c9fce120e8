"""The fallback banner on a running UI: which fallbacks answer (ears, voice, brain), why, and the fix for each.

Heartbeats are fed to the UI's peer table as the bus delivers them, with the
``info`` the services publish today (stt/tts ``fallback`` + ``model``; the brain's
status fields), so the banner is built from the frames, never from the logs.
"""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.widget import Widget

from services.ui.app import LunaApp
from services.ui.widgets.banner import FallbackBanner
from services.ui.widgets.status import StatusBar
from shared.messages import make

SIZE = (130, 32)

STT = {"model": "whisper-base (packaged, multilingual)",
       "fallback": "STT_LOCAL=small is not on this machine (`make models` downloads it; LocalEntryNotFoundError: "
                   "...); using the bundled whisper-base (packaged, multilingual). Download the model once with "
                   "network access, or set STT_LOCAL to a model folder."}
TTS = {"model": "en_US-joe-medium (bundled)",
       "fallback": "Piper voice 'pt_BR-faber-medium' is not downloaded (get it with: python -m piper.download_voices "
                   "pt_BR-faber-medium); speaking with the bundled English voice en_US-joe-medium (bundled)"}
OLLAMA_DOWN = {"ollama": "down", "embedded_last_resort": False, "missing_models": [],
               "functions": {"chat": {"provider": "embedded", "model": "qwen2.5-coder-0.5b", "configured": "local",
                                      "configured_model": "dolphin-mistral"}}}
LAST_RESORT = {"ollama": "down", "embedded_last_resort": True, "missing_models": [],
               "functions": {"chat": {"provider": "embedded", "model": "smollm2-135m", "configured": "embedded",
                                      "configured_model": "smollm2-135m"}}}


def beat(app: LunaApp, service: str, info: dict) -> None:
    app.client.peers.update(make("heartbeat", source=service, service=service, state="ready",
                                 counters={}, info=info))


def on_screen(app: LunaApp, w: Widget) -> str:
    """The text a person sees in ``w``'s region of the screen (wrapped lines joined by spaces)."""
    r = w.region
    if not r.height:
        return ""
    assert app.screen.get_widget_at(r.x + 1, r.y)[0] is w, "something covers it"
    rows = [strip.text.strip() for strip in w.render_lines(Region(0, 0, r.width, r.height))]
    return " ".join(x for x in rows if x)


def shown(app: LunaApp) -> tuple[FallbackBanner, str]:
    b = app.query_one(FallbackBanner)
    return b, on_screen(app, b)


def status_bar(app: LunaApp) -> str:
    return on_screen(app, app.query_one(StatusBar))


async def settle(pilot, app: LunaApp, least: float = 0.4, most: float = 5.0) -> None:
    """Wait at least ``least`` s, then until banner and status bar look the same three times in a row.

    Why: a fixed pause was short for a loaded CI machine (the marker was in the status bar,
    the banner not laid out yet); polling for the expected text would pass an empty banner
    at once where none is expected.
    """
    import time

    await pilot.pause(least)
    deadline, seen = time.monotonic() + most, []
    while time.monotonic() < deadline:
        seen = [*seen[-2:], (shown(app)[1], status_bar(app))]
        if len(seen) == 3 and seen[0] == seen[1] == seen[2]:
            return
        await pilot.pause(0.15)


@pytest.fixture
def no_config(bus_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("LANGUAGE", "STT_LOCAL", "TTS_VOICE", "LLM_GGUF", "CHAT_PROVIDER"):
        monkeypatch.delenv(k, raising=False)


async def test_banner_lists_each_fallback_why_and_fix_in_portuguese(no_config: None) -> None:
    app = LunaApp(reply_timeout=30)
    async with app.run_test(size=SIZE) as pilot:
        b, text = shown(app)
        assert text == "" and not b.has_class("shown"), "no banner before a service says it fell back"
        beat(app, "stt", STT)
        beat(app, "tts", TTS)
        beat(app, "brain", OLLAMA_DOWN)
        await settle(pilot, app)  # the UI's status refresh runs every 0.25 s
        b, text = shown(app)
        assert text.startswith("⚠ Luna está usando modelos de reserva"), text
        assert ("ouvidos: Whisper small não foi baixado; usando whisper-base (packaged, multilingual). "
                "Corrija com: make models") in text
        assert ("voz: a voz pt_BR-faber-medium não foi baixada; usando en_US-joe-medium (bundled). "
                "Corrija com: make models") in text
        assert ("cérebro: o Ollama não está rodando; usando embedded/qwen2.5-coder-0.5b. "
                "Corrija com: curl -fsSL https://ollama.com/install.sh | sh") in text

        assert "⚠ reserva: ouvidos, voz, cérebro" in status_bar(app)

        await pilot.click(FallbackBanner)  # hides it; the status bar keeps the marker
        await pilot.pause()
        assert shown(app)[1] == "" and "⚠ reserva: ouvidos, voz, cérebro" in status_bar(app)

        beat(app, "stt", {"model": "small"})  # stt restarted with the fetched model: that part goes
        await settle(pilot, app)
        assert shown(app)[1] == "" and "⚠ reserva: voz, cérebro" in status_bar(app)


async def test_banner_in_english_names_the_last_resort_brain(no_config: None) -> None:
    app = LunaApp(reply_timeout=30, language="en")
    async with app.run_test(size=SIZE) as pilot:
        beat(app, "brain", LAST_RESORT)
        await settle(pilot, app)
        _, text = shown(app)
        assert "⚠ fallback: brain" in status_bar(app)
        assert text == ("⚠ Luna is using fallback models (click to hide): brain: the Portuguese model is not "
                        "installed; using smollm2-135m (very small: poor replies). Fix it with: .venv/bin/pip install -e .")


async def test_no_banner_when_everything_runs_as_configured(no_config: None) -> None:
    app = LunaApp(reply_timeout=30)
    async with app.run_test(size=SIZE) as pilot:
        beat(app, "stt", {"model": "small"})
        beat(app, "tts", {"model": "pt_BR-faber-medium"})
        beat(app, "brain", {"ollama": "up", "embedded_last_resort": True, "missing_models": [],
                            "functions": {"chat": {"provider": "ollama", "model": "dolphin-mistral",
                                                   "configured": "local", "configured_model": "dolphin-mistral"}}})
        await settle(pilot, app)
        b, text = shown(app)
        assert text == "" and b.region.height == 0 and b.marker() == ""
        assert "reserva" not in status_bar(app)


async def test_a_first_heartbeat_without_the_model_name_still_reads_well(no_config: None) -> None:
    """Right after start stt's beat may carry ``fallback`` before ``model``: no '?' in front of the user."""
    app = LunaApp(reply_timeout=30)
    async with app.run_test(size=SIZE) as pilot:
        beat(app, "stt", {"fallback": STT["fallback"]})
        await settle(pilot, app)
        assert "ouvidos: Whisper small não foi baixado; usando o modelo embutido. Corrija com: make models" in shown(app)[1]


async def test_banner_says_llama_cpp_is_still_compiling_and_goes_when_it_is_done(no_config: None) -> None:
    """`make up` opened the UI before llama.cpp compiled (shared/llama_build.py): the brain's status says so."""
    app = LunaApp(reply_timeout=30, language="en")
    async with app.run_test(size=SIZE) as pilot:
        beat(app, "brain", {**OLLAMA_DOWN, "preparing": {"step": "78/140", "held": 1}})
        await settle(pilot, app)
        _, text = shown(app)
        assert text == ("⚠ Luna is using fallback models (click to hide): brain: llama.cpp is still compiling "
                        "78/140; your messages wait and are answered when it is ready. Fix it with: make install"), text
        assert "⚠ fallback: brain" in status_bar(app)
        beat(app, "brain", {"ollama": "down", "embedded_last_resort": False, "missing_models": [], "preparing": {},
                            "functions": {"chat": {"provider": "ollama", "model": "dolphin-mistral",
                                                   "configured": "local", "configured_model": "dolphin-mistral"}}})
        await settle(pilot, app)
        assert shown(app)[1] == "" and "fallback" not in status_bar(app)
