"""Watchdog rules: a silent heartbeat or frozen audio means restart; loading and idle do not."""

from __future__ import annotations

from services.watchdog.rules import FROZEN_S, SILENT_S, Track, observe, verdict

LIVE = {"source": "device"}


def hb(track: Track, t: float, svc: str = "capture", state: str = "ready", out: int = 0, info=None, pid=1) -> None:
    observe(track, t, svc, state, {"audio_out": out}, LIVE if info is None else info, pid)


def test_silent_heartbeat_is_a_restart() -> None:
    t = Track()
    hb(t, 0.0, "brain")
    assert verdict(t, SILENT_S - 1, "brain", running=True) is None
    assert "heartbeat silent" in verdict(t, SILENT_S + 1, "brain", running=True)


def test_not_running_is_left_to_supervisord() -> None:
    t = Track()
    hb(t, 0.0, "brain")
    assert verdict(t, 100.0, "brain", running=False) is None
    assert verdict(Track(), 100.0, "brain", running=True) is None  # never heard: nothing to judge


def test_frozen_audio_counter_is_a_restart() -> None:
    t = Track()
    for i in range(10):
        hb(t, float(i), out=50 * i)  # moving
    assert verdict(t, 10.0, "capture", True) is None
    for i in range(10, 10 + int(FROZEN_S) + 2):
        hb(t, float(i), out=450)  # frozen while it should move
    assert "audio frames frozen" in verdict(t, 10 + FROZEN_S + 2, "capture", True)


def test_no_device_muted_or_end_of_file_is_not_frozen() -> None:
    # (a file held whole until stt is up says waiting_for: it is not frozen either)
    for info in ({"source": "none"}, {"source": "file", "ended": "file"},
                 {"source": "file", "device": "file:q.wav", "waiting_for": "stt"}):
        t = Track()
        for i in range(20):
            hb(t, float(i), out=7, info=info)
        assert verdict(t, 19.5, "capture", True) is None
    t = Track()
    for i in range(20):
        observe(t, float(i), "capture", "ready", {"audio_out": 7, "muted": 50 * i}, LIVE, 1)
    assert verdict(t, 19.5, "capture", True) is None  # muted frames still count as moving


def test_a_new_process_starts_a_fresh_track() -> None:
    t = Track()
    for i in range(10):
        hb(t, float(i), out=5)
    hb(t, 10.0, out=0, pid=2)
    assert verdict(t, 10.5, "capture", True) is None


def test_a_busy_service_is_not_a_frozen_one() -> None:
    """Issue 13 (6): a late heartbeat from a process burning CPU on a flood is not a restart."""
    from services.watchdog.rules import BUSY_SILENT_S, observe_proc

    t = Track()
    hb(t, 0.0, "stt")
    for i in range(1, int(SILENT_S) + 5):
        observe_proc(t, float(i), ("R", 100 * i))  # CPU time keeps growing: working, only slow to say so
    assert verdict(t, SILENT_S + 4, "stt", running=True) is None and t.spared == 1
    assert "heartbeat silent" in verdict(t, BUSY_SILENT_S + 1, "stt", running=True)  # not forever


def test_a_stopped_or_idle_silent_service_is_frozen() -> None:
    from services.watchdog.rules import observe_proc

    for state, ticks in (("T", lambda i: 100 * i), ("S", lambda i: 100)):  # SIGSTOP; blocked with no CPU
        t = Track()
        hb(t, 0.0, "stt")
        for i in range(1, int(SILENT_S) + 3):
            observe_proc(t, float(i), (state, ticks(i)))
        assert "heartbeat silent" in verdict(t, SILENT_S + 2, "stt", running=True), state


def test_frame_counters_moving_in_the_last_heartbeats_count_as_busy() -> None:
    t = Track()
    for i in range(5):
        observe(t, float(i), "stt", "ready", {"frames_in": 1000 * i}, {}, 1)
    assert verdict(t, 4 + SILENT_S + 1, "stt", running=True) is None  # no /proc (another host): counters decide
    observe(t, 5.0, "stt", "ready", {"frames_in": 4000}, {}, 1)  # stood still in its last heartbeat
    assert "heartbeat silent" in verdict(t, 5 + SILENT_S + 1, "stt", running=True)


def test_proc_sample_reads_this_process() -> None:
    import os

    from services.watchdog.rules import proc_sample

    state, ticks = proc_sample(os.getpid())
    assert state in "RS" and ticks >= 0
    assert proc_sample(2**22 + 7) is None


def test_a_restart_is_logged_in_english_and_told_in_the_users_language() -> None:
    """The log line stays English (``luna diagnose`` counts restarts by it); the person reads Portuguese."""
    from shared import i18n

    t = Track()
    hb(t, 0.0, "brain")
    why = verdict(t, SILENT_S + 1, "brain", running=True)
    assert why == f"heartbeat silent for {SILENT_S + 1:.0f} s"
    told = i18n.say("watchdog.restart", "pt", svc="brain", why=i18n.say(why.key, "pt", **why.fields))
    assert told == f"vigia: reiniciando brain (sem sinal de vida há {SILENT_S + 1:.0f} s)"
