"""When is a service stuck? Pure functions over heartbeats, so they are tested without processes.

supervisord already restarts a process that *exits*; these rules catch the ones
that are still running but no longer working: a heartbeat that stopped (a hung
event loop, SIGSTOP, a deadlock) or an audio counter that froze while audio should
be moving (a dead PortAudio callback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SILENT_S = 8.0  # eight missed heartbeats: a hung loop, not a busy CPU
FROZEN_S = 5.0
#: Counters whose sum must grow while capture has a live source: ``captured`` counts every
#: frame read from the source (sent, muted, gated or buffered while stt is away); the
#: others are for captures that predate it.
CAPTURE_MOVING = ("captured", "audio_out", "muted", "gated")


@dataclass
class Track:
    last_seen: float = 0.0
    pid: int | None = None
    moving_total: int = -1
    moving_since: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    state: str = ""


def capture_should_move(hb_state: str, info: dict[str, Any]) -> bool:
    """Capture is expected to produce frames: ready, a real source, not at the end of a file."""
    return hb_state == "ready" and info.get("source") not in (None, "none", "") and not info.get("ended")


def observe(track: Track, now: float, service: str, state: str, counters: dict[str, Any],
            info: dict[str, Any], pid: int | None) -> None:
    """Fold one heartbeat into the track."""
    if pid != track.pid:  # a new process: start afresh
        track.pid, track.moving_total, track.moving_since = pid, -1, now
    track.last_seen, track.state, track.info = now, state, info
    if service == "capture":
        total = sum(int(counters.get(k, 0)) for k in CAPTURE_MOVING)
        if total != track.moving_total or not capture_should_move(state, info):
            track.moving_total, track.moving_since = total, now


def verdict(track: Track, now: float, service: str, running: bool) -> str | None:
    """Why ``service`` should be restarted now, or None."""
    if not running or track.pid is None:
        return None  # supervisord handles processes that are not running
    if now - track.last_seen > SILENT_S:
        return f"heartbeat silent for {now - track.last_seen:.0f} s"
    if service == "capture" and capture_should_move(track.state, track.info) \
            and now - track.moving_since > FROZEN_S:
        return f"audio frames frozen for {now - track.moving_since:.0f} s"
    return None
