"""Issue 13 against the whole stack (real supervisord, watchdog, fake Ollama): what the user sees.

One stack serves the module, in this order:

1. a rogue client on every socket sends well-formed hostile values (huge and
   never-started epochs, huge strings, unknown commands, a path in config-set);
   the next reply is still shown *and spoken*, nothing of the rogue's is applied;
2. 100k audio frames into stt: its heartbeat keeps its period, the watchdog
   restarts nothing (figure: restarts under flood);
3. stt SIGSTOPped for 10 s: chat keeps working, the watchdog restarts the frozen
   stt (a notice says so), it comes back ready;
4. the runtime dir deleted while running: rebuilt, a new UI still reaches every service,
   and ``luna status`` / ``luna restart`` and the watchdog still reach supervisord;
5. kill -9 of supervisord: the services go on, chat works, nothing is lost; ``luna
   status`` says so in one line, ``luna up`` stops the orphans and starts one fresh set
   (exactly one process per program), chat works again and history is intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import threading
import time
import uuid

import pytest
import zmq

from shared import endpoints
from shared.bus import Bus
from shared.messages import MAX_EPOCH, Frame, encode_event, encode_stream, make
from tests.conftest import wait_for
from tests.support.fakes.ollama import FakeOllama
from tests.support.stack import Client, client, start_stack

pytestmark = pytest.mark.integration
REPLY = "Estou aqui. Continuo falando com você."
FLOOD_N = 100_000


@pytest.fixture(scope="module")
def ollama():
    fake = FakeOllama(reply=REPLY)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, ollama):
    st = start_stack(tmp_path_factory.mktemp("trust"), ollama.url)
    yield st
    st.stop()
    os.environ.pop("LUNA_RUN_DIR", None)


def raw(type_: str, **data) -> Frame:
    """A frame that skips make()'s checks: what a rogue that does not use Luna's code sends."""
    return Frame(type=type_, data=data, source="ctl", seq=1, turn_id="rogue", ts=time.monotonic_ns())


async def spoken(c: Client, tid: str, timeout: float = 90) -> None:
    """The reply of ``tid`` was played: playback said ``speaking`` for it."""
    await wait_for(lambda: any(f.type == "speaking" and f.turn_id == tid for f in c.frames), timeout)


PROGRAMS = ("capture", "stt", "brain", "tts", "playback", "watchdog")


def our_processes(stack) -> dict[int, str]:
    """pid -> program for every process of this stack, read from /proc (not through luna's own code)."""
    want = f"LUNA_RUN_DIR={stack.tmp / 'run'}".encode()
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        mods = [a.decode() for a in argv if a.startswith(b"services.")]
        if b"-m" in argv and mods and want in env and mods[0].split(".")[1] in PROGRAMS:
            out[int(d)] = mods[0].split(".")[1]
    return out


def user_rows(stack) -> list[str]:
    db = stack.tmp / "data" / "luna" / "history.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return [r[0] for r in con.execute("SELECT content FROM messages WHERE role='user' ORDER BY id")]
    finally:
        con.close()


async def test_hostile_values_on_every_socket_do_not_mute_luna(stack) -> None:
    c = await client()
    try:
        first = await c.turn("oi")  # a reply has started: the epoch window knows where the brain is
        await spoken(c, first[0].turn_id)
        slot, _fd = endpoints.claim_ctl()
        rogue = Bus(slot)
        for s in ("sentence", "pcm", "audio"):
            rogue.produce(s)
        await asyncio.sleep(1.0)
        big = "A" * 300_000
        hostile_events = [
            raw("command", name="cancel", args={"epoch": 2**62}),
            raw("command", name="cancel", args={"epoch": MAX_EPOCH}),  # in range, but never started
            raw("reply-start", intent="chat", provider="x", model="y", epoch=MAX_EPOCH),
            raw("speech-start", epoch=2**62),
            raw("command", name="rm-rf"),
            raw("command", name="config-set", args={"function": "chat", "provider": "ollama",
                                                    "model": "../../../../etc/shadow"}),
            raw("user-text", text=big),
            raw("notice", service="brain", level="error", text=big),
        ]
        for f in hostile_events:
            rogue.pub_socket.send_multipart(encode_event(f))
        for stream, f in (("sentence", raw("flush", epoch=MAX_EPOCH)), ("pcm", raw("flush", epoch=MAX_EPOCH)),
                          ("sentence", raw("sentence", text="ROGUE fala", epoch=MAX_EPOCH)),
                          ("sentence", raw("flush", epoch=2**62)),
                          ("audio", raw("audio", rate=2**40, channels=1))):
            parts = encode_stream(f)
            if f.type == "audio":
                parts.append(b"\0" * 640)
            rogue._push[stream].send_multipart(parts)
        rogue.publish("command", name="cancel", args={"epoch": MAX_EPOCH - 1})  # valid frame, never-started epoch
        await asyncio.sleep(2.5)
        frames = await c.turn("e agora, você ainda fala?")
        end = next(f for f in frames if f.type == "reply-end")
        assert end["ok"] and "".join(f["text"] for f in frames if f.type == "token") == REPLY
        await spoken(c, end.turn_id)  # not muted: the reply is heard
        await asyncio.sleep(1.5)
        for svc in ("tts", "playback"):
            hb = c.latest(svc)
            assert hb["counters"]["rejected"] > 0 and hb["counters"].get("epoch_rejected", 0) > 0, (svc, hb.data)
        assert c.latest("brain")["counters"]["rejected"] > 0
        # nothing of the rogue's was applied or shown
        assert not any("ROGUE" in str(f.data) or "shadow" in str(f.data) for f in c.frames if f.type != "heartbeat")
        assert not any(f.type == "config" for f in c.frames)
        assert big not in user_rows(stack)
        rogue.close()
        os.close(_fd)
    finally:
        c.close()


async def test_a_100k_frame_flood_into_stt_restarts_nothing(stack) -> None:
    c = await client()
    try:
        await wait_for(lambda: c.latest("stt") is not None, 10)
        pid = c.latest("stt")["pid"]
        frame = encode_stream(make("audio", rate=16000, channels=1, t_capture_ns=time.monotonic_ns(),
                                   payload=b"\0" * 640))
        ctx = zmq.Context.instance()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 1000)
        push.connect(endpoints.stream_endpoint("audio"))
        t0 = time.monotonic()

        def flood() -> None:
            for _ in range(FLOOD_N):
                push.send_multipart(frame, copy=False)

        th = threading.Thread(target=flood)
        th.start()
        await asyncio.to_thread(th.join, 300)
        took = time.monotonic() - t0
        await asyncio.sleep(12)  # longer than the watchdog's silence window
        push.close(linger=0)
        beats = [f for f in c.frames if f.type == "heartbeat" and f["service"] == "stt"]
        gaps = [(b.ts - a.ts) / 1e9 for a, b in zip(beats, beats[1:], strict=False)]
        restarts = [f for f in c.frames if f.type == "notice" and f.get("code") == "watchdog-restart"]
        print(f"\n[trust] stt flood: {FLOOD_N} frames in {took:.1f} s, max heartbeat gap {max(gaps):.2f} s, "
              f"watchdog restarts {len(restarts)}")
        assert not restarts, [f["text"] for f in restarts]
        assert c.latest("stt")["pid"] == pid and c.latest("stt")["state"] == "ready"
        assert max(gaps) < 3.0, gaps
    finally:
        c.close()


async def test_stt_stopped_for_10_s_is_restarted_and_chat_never_stops(stack) -> None:
    """Frozen (SIGSTOP) is not busy: the watchdog replaces stt after its silence window; typing never stops."""
    c = await client()
    try:
        pid = stack.pid("stt")
        os.kill(pid, signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            frames = await c.turn("você me ouve enquanto o stt está parado?", timeout=60)
            assert next(f for f in frames if f.type == "reply-end")["ok"]  # typing still works
            restarted = lambda: next((f for f in c.frames if f.type == "notice"  # noqa: E731
                                      and f.get("code") == "watchdog-restart" and "stt" in f["text"]), None)
            with contextlib.suppress(AssertionError):
                # 10 s, plus 5 s of slack for a watchdog tick on 2 loaded cores (its window is 8 s)
                await wait_for(restarted, max(0.5, 15 - (time.monotonic() - t0)))
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)  # 10 s are over (or the watchdog already replaced it)
        wd = c.latest("watchdog")
        note = restarted()
        print(f"\n[trust] stt stopped {time.monotonic() - t0:.1f} s: restart notice "
              f"{note['text'] if note else None!r}; watchdog {wd.data if wd else None}")
        assert note is not None and "sem sinal de vida" in note["text"], note  # told in the user's language (pt)
        await wait_for(lambda: (hb := c.latest("stt")) is not None and hb["pid"] != pid and hb["state"] == "ready",
                       120)
        frames = await c.turn("e agora?", timeout=60)
        assert next(f for f in frames if f.type == "reply-end")["ok"]
    finally:
        c.close()


async def test_the_runtime_dir_deleted_while_running_is_rebuilt(stack) -> None:
    """``rm -rf`` of the sockets' directory: a UI started afterwards still talks to every service."""
    import shutil

    run = stack.tmp / "run"
    shutil.rmtree(run)
    await wait_for(lambda: all((run / f"ev-{s}.sock").exists() for s in ("stt", "brain", "tts", "playback"))
                   and (run / "st-sentence.sock").exists() and (run / "st-pcm.sock").exists(), 10)
    assert run.stat().st_mode & 0o777 == 0o700
    c = await client()  # a new UI process
    try:
        frames = await c.turn("a pasta sumiu, você ainda me ouve?", timeout=60)
        end = next(f for f in frames if f.type == "reply-end")
        assert end["ok"] and "".join(f["text"] for f in frames if f.type == "token") == REPLY
        await spoken(c, end.turn_id)
        await wait_for(lambda: all(c.latest(s) is not None for s in ("capture", "stt", "brain", "tts", "playback")),
                       10)
        # supervisord's socket and pid file live outside the runtime dir: the CLI and the watchdog still reach it
        st = stack.cli("status")
        assert st.returncode == 0 and all(f"{p} " in st.stdout and "RUNNING" in st.stdout for p in PROGRAMS), st
        wd = stack.pid("watchdog")
        r = stack.cli("restart", "watchdog")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert stack.pid("watchdog") != wd
        await wait_for(lambda: (hb := c.latest("watchdog")) is not None and hb["pid"] != wd
                       and not any("supervisord" in p for p in (hb.get("info") or {}).get("problems", [])), 30)
    finally:
        c.close()


async def test_kill_9_of_supervisord_keeps_chat_and_history(stack) -> None:
    c = await client()
    try:
        await wait_for(lambda: all(c.latest(s) is not None for s in ("brain", "tts", "playback")), 10)
        pids = {s: c.latest(s)["pid"] for s in ("brain", "tts", "playback")}
        before = len(user_rows(stack))
        stack.proc.send_signal(signal.SIGKILL)
        stack.proc.wait(10)
        tag = uuid.uuid4().hex[:6]
        frames = await c.turn(f"supervisord morreu {tag}, e você?", timeout=60)
        end = next(f for f in frames if f.type == "reply-end")
        assert end["ok"] and "".join(f["text"] for f in frames if f.type == "token") == REPLY
        await spoken(c, end.turn_id)
        # the orphaned watchdog tells the person once, in pt, that nothing supervises Luna now
        await wait_for(lambda: any(f.type == "notice" and f.get("code") == "supervisord-lost" for f in c.frames), 15)
        lost = [f["text"] for f in c.frames if f.type == "notice" and f.get("code") == "supervisord-lost"]
        assert len(lost) == 1 and lost[0].startswith("o supervisord parou") and "`luna up`" in lost[0], lost
        rows = rows_after_kill = user_rows(stack)
        assert len(rows) == before + 1 and rows[-1].endswith(f"{tag}, e você?")

        # `luna status` says what happened, in one line, in pt
        st = stack.cli("status")
        assert st.returncode == 1 and len(st.stdout.strip().splitlines()) == 1, st
        assert st.stdout.startswith("o supervisord não está rodando, mas 6 serviço(s) do Luna seguem sem supervisão")
        # `luna up` again: the orphans are stopped, one fresh set starts, never a second one
        up = stack.cli("up", "--no-ui", "--offline", "--timeout", "240", timeout=300)
        assert up.returncode == 0, (up.stdout, up.stderr, stack.logs())
        assert "o supervisord tinha parado: encerrei 6 serviço(s)" in up.stdout, up.stdout
        procs = our_processes(stack)
        assert sorted(procs.values()) == sorted(PROGRAMS), procs  # exactly one process per program
        assert not set(procs) & set(pids.values())  # the orphans are gone, not adopted twice
    finally:
        c.close()
        # the orphans supervisord left behind (if `luna up` did not run): end them by pid
        for svc in ("capture", "stt", "brain", "tts", "playback", "watchdog"):
            hb = c.latest(svc)
            for pid in {pids.get(svc), hb.get("pid") if hb is not None else None} - {None}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
    c = await client()  # the fresh stack: chat works, the history before the crash is intact
    try:
        frames = await c.turn(f"de volta {tag}?", timeout=90)
        end = next(f for f in frames if f.type == "reply-end")
        assert end["ok"] and "".join(f["text"] for f in frames if f.type == "token") == REPLY
        rows = user_rows(stack)
        assert rows[:before + 1] == rows_after_kill and rows[-1].endswith(f"de volta {tag}?")
    finally:
        c.close()
        down = stack.cli("down")
        assert down.returncode == 0, down
        await wait_for(lambda: not our_processes(stack), 30)
