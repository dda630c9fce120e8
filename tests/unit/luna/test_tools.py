"""The bus tools: tap --record, replay, diagnose."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from luna import bustools as cli
from luna.diagnose import Report, diagnose, level
from shared.bus import Bus
from tests.conftest import wait_for


def test_thresholds_follow_the_seed() -> None:
    assert level("stt_s", 0.5) == "ok" and level("stt_s", 2) == "warning" and level("stt_s", 4) == "critical"
    assert level("audio_drops", 0) == "ok" and level("audio_drops", 1) == "warning"
    assert level("audio_drops", 11) == "critical" and level("audio_queue", 120) == "critical"


def test_diagnose_reads_logs_and_recordings(tmp_path: Path) -> None:
    log = tmp_path / "stt.jsonl"
    log.write_text("\n".join(json.dumps(x) for x in [
        {"time": "t", "level": "ERROR", "service": "stt", "msg": "whisper exploded"},
        {"time": "t", "level": "INFO", "service": "stt", "msg": "ready"},
        {"time": "t", "level": "INFO", "service": "stt", "msg": "ready"},
    ]) + "\nnot json\n")
    rec = tmp_path / "bus.jsonl"
    rec.write_text("\n".join(json.dumps({"type": t, "data": d, "ts": 0, "seq": 1, "source": "x", "turn_id": ""})
                             for t, d in [
        ("heartbeat", {"service": "capture", "state": "ready", "counters": {"queue": 120, "drops": 30},
                       "info": {"rejects": {"bad-msgpack": 4}}}),
        ("turn-metrics", {"stages": {"stt_s": 0.3, "total_s": 12.0}}),
        ("reply-end", {"ok": False, "error": "ollama: timeout"}),
    ]))
    text = diagnose([log, rec], "en")  # the English catalogue (pt: tests/unit/luna/test_cli_i18n.py)
    assert "whisper exploded" in text and "ollama: timeout" in text
    assert "capture   queue 120   (critical)  drops 30 (critical)" in text
    assert "capture dropped audio" in text and "end-to-end above 5 s" in text
    assert "stt: 1" in text  # one restart (two readies)
    assert "capture:bad-msgpack: 4" in text


def test_diagnose_with_nothing_wrong() -> None:
    assert "nothing to fix" in Report().render("en")
    assert "nada a corrigir" in Report().render("pt")


async def test_record_then_replay_reproduces_the_input(bus_env, tmp_path: Path) -> None:
    rec = tmp_path / "rec.jsonl"
    tap = asyncio.create_task(cli.tap(set(), set(), rec, count=3))
    ui = Bus("ui")
    await asyncio.sleep(0.8)
    ui.publish("user-text", turn_id="t1", text="oi Luna, minha chave é sk-x")
    ui.publish("heartbeat", service="ui", state="ready", counters={})
    ui.publish("command", name="cancel")
    await asyncio.wait_for(tap, 10)
    ui.close()
    rows = [json.loads(x) for x in rec.read_text().splitlines()]
    assert [r["type"] for r in rows] == ["user-text", "heartbeat", "command"]

    brain = Bus("brain")  # plays the stack receiving the replay
    brain.subscribe()
    got: list = []

    async def collect():
        while True:
            got.append(await brain.recv_event())

    col = asyncio.create_task(collect())
    await asyncio.sleep(0.5)
    assert await cli.replay(rec, speed=10.0, everything=False) == 0
    await wait_for(lambda: [f.type for f in got if f.source == "ctl"] == ["user-text", "command"], 10)
    u = next(f for f in got if f.type == "user-text")
    assert u.turn_id == "t1" and u["text"].startswith("oi Luna")
    assert u["queue"] is True  # queued behind the reply in progress, as `luna send` is
    col.cancel()
    brain.close()
