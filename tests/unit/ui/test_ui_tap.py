"""``luna tap`` (what ``make tap`` runs): heartbeats no longer drown the other frames (issue 15)."""

from __future__ import annotations

import asyncio

from luna import bustools as cli
from shared.bus import Bus


async def _run(capsys, heartbeats: bool) -> list[str]:
    tap = asyncio.create_task(cli.tap(set(), set(), None, count=8, heartbeats=heartbeats))
    peer = Bus("capture")
    await asyncio.sleep(0.8)  # the subscription reaches the publisher (ZeroMQ slow joiner)
    for state in ("ready", "ready", "ready", "degraded", "degraded", "ready"):
        peer.publish("heartbeat", service="capture", state=state, counters={})
    peer.publish("notice", service="capture", level="info", text="um aviso")
    peer.publish("heartbeat", service="capture", state="ready", counters={})
    await asyncio.wait_for(tap, 10)
    peer.close()
    return [line for line in capsys.readouterr().out.splitlines() if line.strip()]


async def test_tap_prints_heartbeats_only_on_a_change(bus_env, capsys) -> None:
    lines = await _run(capsys, heartbeats=False)
    beats = [ln for ln in lines if " heartbeat " in ln]
    assert len(beats) == 3, lines  # ready, degraded, ready again: the changes
    assert any(" notice " in ln and "um aviso" in ln for ln in lines)


async def test_tap_heartbeats_flag_prints_them_all(bus_env, capsys) -> None:
    lines = await _run(capsys, heartbeats=True)
    assert len([ln for ln in lines if " heartbeat " in ln]) == 7, lines
