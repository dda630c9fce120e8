"""A fresh machine: `make up` opened the UI while llama.cpp still compiles (shared/llama_build.py).

The real brain runs as a process with no Ollama (a closed port) and no paid key, and a
build staged where it looks for one (``LUNA_LLAMA_BUILD_DIR``: a live process as the build, a
log at ninja's step 78 of 140). The real UI, on the same bus, is read as a person reads it:
the message typed while the build runs is shown as waiting, with the step, not as "the brain
does not answer"; a second message replaces it (the first ends as cancelled); once the build
has installed, the packaged Qwen answers the second one in Portuguese, in the same bubble,
and the banner's line about the build goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.brain import packaged_model
from shared import llama_build as lb
from tests.conftest import wait_for
from tests.integration.test_brain_service import closed_port_url
from tests.support.ptquality import reply_lang

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not packaged_model.installed(), reason="the packaged Qwen GGUF is not installed")]



@contextlib.contextmanager
def compiling(build: Path, log: str) -> Iterator[subprocess.Popen]:
    """A build staged where the brain looks (``LUNA_LLAMA_BUILD_DIR``): a live process as the build,
    and its log so far; the process is gone at the end whatever happened."""
    build.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (build / lb.LOG).write_text(log)
    Path(f"{build / lb.LOG}.pid").write_text(str(proc.pid))
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def screen_text(app) -> str:
    from tests.system.test_ui_live import screen_lines

    return "\n".join(screen_lines(app))


async def type_line(pilot, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)
    await pilot.press("enter")


async def test_a_message_typed_while_llama_cpp_compiles_is_answered_once_it_is_in(bus_env, start_service,
                                                                                   tmp_path: Path) -> None:
    from services.ui.app import LunaApp
    from services.ui.widgets.bubbles import LunaMessage

    build = tmp_path / "venv"
    with compiling(build, "[1/140] Building C object ggml.c.o\n[78/140] Building CXX object llama.cpp.o\n") as proc:
        brain = start_service("brain", OLLAMA_HOST=closed_port_url(), LUNA_LLAMA_BUILD_DIR=str(build), LANGUAGE="pt",
                              CHAT_MAX_TOKENS="40")
        app = LunaApp(reply_timeout=3)  # short: a held turn must not be called "brain down" by it
        async with app.run_test(size=(110, 34)) as pilot:
            await wait_for(lambda: (app.client.peers.info.get("brain") or {}).get("preparing"), 60)
            await type_line(pilot, "oi Luna")
            await wait_for(lambda: "compilando o llama.cpp 78/140" in screen_text(app), 20)
            await type_line(pilot, "qual é a capital do Brasil?")
            await pilot.pause(4)  # past reply_timeout: still waiting, not failed
            shown = screen_text(app)
            assert "preparando o modelo local (compilando o llama.cpp 78/140)" in shown, shown
            assert "o llama.cpp ainda está compilando 78/140" in shown, shown  # the banner's line
            first, second = list(app.chat.turns.values())[-2:]
            assert first.done and not first.text and "cancelado" in first.footer, first.footer
            assert second.waiting and not second.done and "error" not in second.classes

            (build / lb.LOG).write_text("[140/140] Linking CXX shared library libllama.so\n")
            proc.kill()
            proc.wait()
            Path(f"{build / lb.LOG}.rc").write_text("0\n")  # built and installed (llama_cpp is in this venv)

            await wait_for(lambda: second.done, 180)
            await pilot.pause(0.5)
            shown = screen_text(app)
            assert not second.has_class("error") and second.text.strip(), (second.text, second.footer, shown)
            assert second.provider == "embedded", second.provider
            assert reply_lang(second.text) == "pt", second.text
            assert second.text.strip()[:20] in shown.replace("\n", " ") or second.text.split()[0] in shown
            assert "compilando" not in shown, shown  # neither the bubble nor the banner says it any more
            assert sum(1 for w in app.chat.children if isinstance(w, LunaMessage) and w.text.strip()) == 1
    assert "Traceback" not in brain.output(), brain.output()[-3000:]


async def test_a_spoken_question_while_it_compiles_is_answered_aloud_that_luna_is_preparing(peer, start_service,
                                                                                            tmp_path: Path) -> None:
    build = tmp_path / "venv"
    with compiling(build, "[12/140] Building C object ggml.c.o\n"):
        start_service("brain", OLLAMA_HOST=closed_port_url(), LUNA_LLAMA_BUILD_DIR=str(build), LANGUAGE="pt")
        await peer.ready()
        # stt's pause partial first (a preemptive reply would start on it), then the final transcript
        peer.bus.publish("transcript-partial", turn_id="v1", text="Qual é a capital da França?", pause=True,
                         timings={})
        await asyncio.sleep(0.5)
        peer.bus.publish("transcript", turn_id="v1", text="Qual é a capital da França?", timings={})
        wait = (await wait_for(lambda: [f for f in peer.of("reply-wait") if f.turn_id == "v1"], 20))[0]
        assert wait["text"].startswith("preparando o modelo local (compilando o llama.cpp 12/140)"), wait.data
        said = await wait_for(lambda: [f["text"] for f in peer.sentences if f.turn_id == "v1"], 10)
        assert said == ["Ainda estou preparando meu modelo local. Respondo assim que ele ficar pronto."]
        await asyncio.sleep(1)
        assert not [f for f in peer.of("reply-start") if f.turn_id == "v1"]  # no early reply, no error in its place
