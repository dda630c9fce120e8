"""Command-line tools on the bus (issue 13, 4 and 7).

* Five ``luna send`` at once: five replies. With one fixed ``ctl`` identity each bind
  unlinked the previous process's socket and four of them printed a misleading
  "is the brain running?".
* Text above the catalogue's limit is refused by the sender with one line in the
  user's language, before it reaches the bus (the receiver dropped it silently).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from shared import endpoints
from shared.messages import MAX_USER_TEXT_BYTES, text_too_long
from tests.conftest import ROOT
from tests.integration.test_brain_service import Peer
from tests.integration.test_trust_history import db_rows
from tests.support.fakes.ollama import FakeOllama


def test_every_process_gets_its_own_slot(bus_env) -> None:
    held = [endpoints.claim_ctl() for _ in endpoints.CTL_SLOTS]
    assert sorted(s for s, _ in held) == sorted(endpoints.CTL_SLOTS)
    try:
        endpoints.claim_ctl()
        raise AssertionError("a ninth slot was handed out")
    except endpoints.EndpointError as err:
        assert "wait for one to end" in str(err)
    os.close(held[3][1])  # a process that ends frees its slot
    assert endpoints.claim_ctl()[0] == held[3][0]


def test_a_long_paste_is_refused_by_the_sender_in_the_users_language(bus_env) -> None:
    text = "x" * (300 * 1024)
    assert text_too_long(text) == f"mensagem longa demais: 300 KB, o máximo é {MAX_USER_TEXT_BYTES // 1024} KB"
    assert text_too_long(text, "en").startswith("message too long: 300 KB")
    assert text_too_long("x" * MAX_USER_TEXT_BYTES) == ""
    r = subprocess.run([sys.executable, "-m", "luna.cli", "send", "-"], input=text, env=bus_env, cwd=ROOT,
                       text=True, capture_output=True, timeout=60)
    assert r.returncode == 2 and "mensagem longa demais: 300 KB, o máximo é 128 KB" in r.stderr
    assert "Traceback" not in r.stderr


async def test_five_parallel_sends_get_five_replies(bus_env, start_service) -> None:
    peer = Peer()
    try:
        with FakeOllama(reply="Resposta para o script.", delay=0.01) as ol:
            start_service("brain", OLLAMA_HOST=ol.url)
            await peer.ready()
            procs = [await asyncio.create_subprocess_exec(
                sys.executable, "-m", "luna.cli", "send", f"pedido {i}", "--timeout", "90", cwd=ROOT, env=bus_env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(5)]
            outs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 150)
            codes = [p.returncode for p in procs]
            print(f"[cli] 5 parallel sends: return codes {codes}")
            for (out, err), code in zip(outs, codes, strict=True):
                assert code == 0, err.decode()
                assert out.decode().strip() == "Resposta para o script."
            rows = db_rows(Path(bus_env["XDG_DATA_HOME"]) / "luna" / "history.db")
            assert sorted(r[1] for r in rows if r[0] == "user") == [f"pedido {i}" for i in range(5)]
            assert not any(r[2] for r in rows)  # none cut another off
    finally:
        await peer.close()


async def test_the_ui_refuses_a_long_paste_and_keeps_the_text(bus_env) -> None:
    """A 300 KB paste: one line in the chat saying the size and the limit, nothing sent, the text kept."""
    from services.ui.app import LunaApp
    from services.ui.widgets.bubbles import SystemLine

    app = LunaApp(reply_timeout=30)
    text = "z" * (300 * 1024)
    async with app.run_test(size=(100, 30)) as pilot:
        app.prompt.load_text(text)
        await pilot.press("enter")
        await pilot.pause()
        lines = [str(w.render()) for w in app.chat.query(SystemLine)]
        assert any("mensagem longa demais: 300 KB, o máximo é 128 KB" in s for s in lines), lines
        assert not [f for f in app.client.sent if f.type == "user-text"]
        assert app.prompt.text == text  # nothing lost: edit or split it
