"""No typed message is lost; a broken history never stops the chat (issue 13, 5 and 8).

* 50 messages typed back to back give 50 user rows, in order; the turns the next
  message cut off are marked ``cancelled``, not missing, and the model still reads them.
* A corrupt history.db is moved aside with a timestamp, a fresh one is created and the
  person is told once; the brain does not crash-loop.
* A read-only or full disk keeps the chat working from memory with one clear notice.

The disk faults use a real tiny tmpfs (mount needs root; skipped otherwise).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from services.brain.history import History
from tests.conftest import wait_for
from tests.integration.test_brain_service import Peer, T
from tests.support.fakes.ollama import FakeOllama


@contextlib.contextmanager
def tiny_disk(path: Path, size: str = "256k"):
    """A tmpfs of ``size`` mounted on ``path`` (root only): a disk that can really fill or go read-only."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and mount to make a real full or read-only disk")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(disk: Path) -> None:
    """Leave no free byte on ``disk``."""
    with contextlib.suppress(OSError), open(disk / "filler", "wb") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()


def db_rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT role, content, cancelled FROM messages ORDER BY id").fetchall()
    finally:
        con.close()


# -- the History object alone ----------------------------------------------------------------------
def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_made(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    db.write_bytes(b"this is not sqlite at all, it is a broken disk sector " * 100)
    told: list = []
    h = History(db, lang="pt")
    h.set_on_problem(lambda code, text: told.append((code, text)))
    asides = list(tmp_path.glob("history.db.corrupt-*"))
    assert len(asides) == 1 and asides[0].read_bytes().startswith(b"this is not sqlite")
    assert [c for c, _ in told] == ["history-corrupt"] and asides[0].name in told[0][1]
    assert "corrompido" in told[0][1] and not h.in_memory
    cid = h.new_conversation()
    h.add(cid, "user", "oi")
    assert db_rows(db) == [("user", "oi", 0)]
    h.close()
    History(db).close()  # a second start is quiet: the fresh file is fine
    assert len(list(tmp_path.glob("history.db.corrupt-*"))) == 1


def test_a_full_disk_mid_conversation_keeps_everything_in_memory(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        told: list = []
        h = History(disk / "history.db", lang="en", on_problem=lambda c, t: told.append((c, t)))
        cid = h.new_conversation()
        h.add(cid, "user", "first, saved to disk")
        fill(disk)
        for i in range(40):  # enough to need new pages
            h.add(cid, "user", f"message {i} " + "x" * 2000)
        assert h.in_memory and [c for c, _ in told] == ["history-memory"]
        assert "full" in told[0][1] and "memory" in told[0][1]
        texts = [m["content"] for m in h.messages(cid)]
        assert texts[0] == "first, saved to disk" and len(texts) == 41  # nothing lost, in order
        assert h.context(cid, 10_000)[-1]["content"].startswith("message 39")


def test_a_read_only_disk_at_start_keeps_the_old_history_readable(tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        h = History(disk / "history.db")
        cid = h.new_conversation()
        h.add(cid, "user", "lembra disso")
        h.close()
        assert subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True).returncode == 0
        told: list = []
        h = History(disk / "history.db", lang="pt", on_problem=lambda c, t: told.append(c))
        h.add(cid, "user", "e disso também")
        assert [m["content"] for m in h.messages(cid)] == ["lembra disso", "e disso também"]
        assert h.in_memory and told == ["history-memory"]
        assert not list(disk.glob("*.corrupt-*"))  # read-only is not corrupt: nothing moved


# -- the brain process ----------------------------------------------------------------------------
async def test_50_messages_back_to_back_give_50_rows_in_order(peer: Peer, start_service, bus_env) -> None:
    with FakeOllama(reply=" ".join(["devagar"] * 40) + ".", delay=0.02) as ol:
        start_service("brain", OLLAMA_HOST=ol.url)
        await peer.ready()
        tids = [peer.say(f"mensagem {i:02d}") for i in range(50)]
        await wait_for(lambda: {f.turn_id for f in peer.of("reply-end")} >= set(tids), T * 2)
        ends = {f.turn_id: f for f in peer.of("reply-end")}
        assert ends[tids[-1]]["ok"]  # the last one is answered
        rows = [r for r in db_rows(Path(bus_env["XDG_DATA_HOME"]) / "luna" / "history.db") if r[0] == "user"]
        assert [r[1] for r in rows] == [f"mensagem {i:02d}" for i in range(50)]  # 50 rows, in order
        cut = [t for t in tids if ends[t].get("cancelled")]
        assert len([r for r in rows if r[2]]) == len(cut) and rows[-1][2] == 0  # cancelled ones are marked
        print(f"[history] 50 rapid messages: 50 rows, {len(cut)} turns cancelled by the next one, 0 lost")
        # and the model read the earlier lines as context
        seen = [m["content"] for m in ol.requests[-1]["body"]["messages"] if m["role"] == "user"]
        assert "mensagem 00" in seen and seen[-1] == "mensagem 49"


async def test_a_corrupt_history_db_is_set_aside_and_the_chat_works(peer: Peer, start_service, bus_env) -> None:
    data = Path(bus_env["XDG_DATA_HOME"]) / "luna"
    data.mkdir(parents=True)
    (data / "history.db").write_bytes(b"SQLite format 3\0" + os.urandom(8192))  # a header and garbage pages
    with FakeOllama(reply="Tudo certo por aqui.") as ol:
        svc = start_service("brain", OLLAMA_HOST=ol.url)
        await peer.ready()
        note = await peer.notice("history-corrupt")
        assert "corrompido" in note["text"] and ".corrupt-" in note["text"]
        _, text, end = await peer.reply(peer.say("oi"))
        assert end["ok"] and text == "Tudo certo por aqui."
        assert svc.p.poll() is None  # no crash, no restart loop
        assert len([f for f in peer.of("notice") if f.get("code") == "history-corrupt"]) == 1  # told once
        assert len(list(data.glob("history.db.corrupt-*"))) == 1
        assert [r[1] for r in db_rows(data / "history.db") if r[0] == "user"] == ["oi"]


async def test_a_full_disk_keeps_chat_working_with_one_notice(peer: Peer, start_service, bus_env) -> None:
    data = Path(bus_env["XDG_DATA_HOME"]) / "luna"
    with tiny_disk(data, "512k"), FakeOllama(reply="Ainda estou aqui.") as ol:
        start_service("brain", OLLAMA_HOST=ol.url)
        await peer.ready()
        _, _, end = await peer.reply(peer.say("antes de encher"))
        assert end["ok"]
        fill(data)
        for i in range(5):
            _, text, end = await peer.reply(peer.say(f"depois de encher {i} " + "y" * 1500))
            assert end["ok"] and text == "Ainda estou aqui."
        note = await peer.notice("history-memory")
        assert "memória" in note["text"]
        assert len([f for f in peer.of("notice") if f.get("code") == "history-memory"]) == 1
        # the model still got the whole conversation (from memory)
        seen = [m["content"] for m in ol.requests[-1]["body"]["messages"] if m["role"] == "user"]
        assert seen[0] == "antes de encher" and seen[-1].startswith("depois de encher 4")
