"""When is a service stuck? Pure functions over heartbeats, so they are tested without processes.

supervisord already restarts a process that *exits*; these rules catch the ones
that are still running but no longer working: a heartbeat that stopped (a hung
event loop, SIGSTOP, a deadlock) or an audio counter that froze while audio should
be moving (a dead PortAudio callback).

Busy is not frozen (issue 13, 6): a flood of 100k frames once starved stt's heartbeat
for 8 s and the watchdog killed a service that was working. A late heartbeat alone
is no longer a verdict: if the process is still burning CPU (``/proc/<pid>/stat``
utime+stime moving, not stopped) or its frame counters were moving in its last
heartbeats, it is *busy* and gets :data:`BUSY_SILENT_S` before it is judged hung.
A stopped (SIGSTOP), zombie or idle-and-silent process is restarted after
:data:`SILENT_S` as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.catalogue import CAPTURE_COUNTERS as CAP
from shared.catalogue import CAPTURE_INFO, COMMON_COUNTERS

SILENT_S = 8.0  # eight missed heartbeats: a hung loop, not a busy CPU
#: How long a silent process that is visibly working (CPU or frame counters moving) is given.
BUSY_SILENT_S = 45.0
#: Counters whose growth shows a service is handling frames.
FRAMES = (COMMON_COUNTERS.frames_in, COMMON_COUNTERS.frames_out, CAP.captured, CAP.audio_out)
FROZEN_S = 5.0
#: Counters whose sum must grow while capture has a live source: ``captured`` counts every
#: frame read from the source (sent, muted, gated or buffered while stt is away); the
#: others are for captures that predate it.
CAPTURE_MOVING = (CAP.captured, CAP.audio_out, CAP.muted, CAP.gated)


@dataclass
class Track:
    last_seen: float = 0.0
    pid: int | None = None
    moving_total: int = -1
    moving_since: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    state: str = ""
    frames: int = -1
    frames_moved: float = 0.0  # when the frame counters last grew
    cpu: int = -1  # utime+stime ticks at the last check
    cpu_moved: float = 0.0  # when the CPU time last grew
    stopped: bool = False
    spared: int = 0  # verdicts withheld because the service was busy, not frozen


def capture_should_move(hb_state: str, info: dict[str, Any]) -> bool:
    """Capture is expected to produce frames: ready, a real source, not at the end of a file,
    not holding its file for stt (``waiting_for``)."""
    return hb_state == "ready" and info.get(CAPTURE_INFO.source) not in (None, "none", "") \
        and not info.get(CAPTURE_INFO.ended) and not info.get(CAPTURE_INFO.waiting_for)


def observe(track: Track, now: float, service: str, state: str, counters: dict[str, Any],
            info: dict[str, Any], pid: int | None) -> None:
    """Fold one heartbeat into the track."""
    if pid != track.pid:  # a new process: start afresh
        track.pid, track.moving_total, track.moving_since = pid, -1, now
        track.frames, track.cpu, track.stopped = -1, -1, False
    track.last_seen, track.state, track.info = now, state, info
    frames = sum(int(counters.get(k, 0) or 0) for k in FRAMES)
    if track.frames >= 0 and frames > track.frames:
        track.frames_moved = now
    track.frames = frames
    if service == "capture":
        total = sum(int(counters.get(k, 0)) for k in CAPTURE_MOVING)
        if total != track.moving_total or not capture_should_move(state, info):
            track.moving_total, track.moving_since = total, now


def proc_sample(pid: int) -> tuple[str, int] | None:
    """(state letter, utime+stime ticks) of ``pid`` from /proc, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except OSError:
        return None
    rest = raw.rsplit(")", 1)[-1].split()  # the command name may hold spaces and parentheses
    try:
        return rest[0], int(rest[11]) + int(rest[12])
    except (IndexError, ValueError):
        return None


def observe_proc(track: Track, now: float, sample: tuple[str, int] | None) -> None:
    """Fold one /proc sample in: CPU time that grows while not stopped means the process is working."""
    if sample is None:
        return
    state, ticks = sample
    track.stopped = state in ("T", "t", "Z", "X")  # stopped or dead: never busy
    if track.stopped:
        track.cpu, track.cpu_moved = ticks, 0.0
        return
    if track.cpu >= 0 and ticks > track.cpu:
        track.cpu_moved = now
    track.cpu = ticks


def busy(track: Track, now: float) -> bool:
    """Working right now, only slow to say so.

    With /proc (same host): its CPU time moved within the silence window and it is
    not stopped. Without (a satellite's service): its frame counters were still
    growing in the last heartbeat it sent.
    """
    if track.cpu >= 0 or track.stopped:
        return not track.stopped and now - track.cpu_moved <= SILENT_S
    return track.frames_moved > 0 and track.frames_moved >= track.last_seen


class Reason(str):
    """Why a restart is due: English text for the log (``luna diagnose`` reads it) that also
    carries its catalogue key and fields, so the person is told in their own language."""

    key: str
    fields: dict[str, object]

    @classmethod
    def of(cls, key: str, english: str, **fields: object) -> Reason:
        r = cls(english.format(**fields))
        r.key, r.fields = key, fields
        return r


def verdict(track: Track, now: float, service: str, running: bool) -> str | None:
    """Why ``service`` should be restarted now, or None."""
    if not running or track.pid is None:
        return None  # supervisord handles processes that are not running
    silent = now - track.last_seen
    if silent > SILENT_S:
        if silent <= BUSY_SILENT_S and busy(track, now):
            track.spared += 1
            return None
        return Reason.of("watchdog.silent", "heartbeat silent for {s} s", s=f"{silent:.0f}")
    if service == "capture" and capture_should_move(track.state, track.info) \
            and now - track.moving_since > FROZEN_S:
        return Reason.of("watchdog.frozen", "audio frames frozen for {s} s", s=f"{now - track.moving_since:.0f}")
    return None
