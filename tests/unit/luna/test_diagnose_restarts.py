"""``luna diagnose`` counts only the restarts supervisord or the watchdog made (issue 15).

A ``make down`` / ``make up`` (or ``luna restart``) stops each service cleanly and starts
it again: that is no restart to report. A service killed (watchdog) or crashed
(supervisord's autorestart) starts again with no clean stop before it, and one whose
setup failed is started again by supervisord: those count.
"""

from __future__ import annotations

import json
from pathlib import Path

from luna.diagnose import diagnose


def _log(path: Path, svc: str, *lines: tuple[str, str]) -> Path:
    path.write_text("\n".join(json.dumps({"time": f"t{i}", "level": lvl, "service": svc, "msg": msg})
                              for i, (lvl, msg) in enumerate(lines)) + "\n")
    return path


def _rec(path: Path, frames: list[tuple[str, dict]]) -> Path:
    path.write_text("\n".join(json.dumps({"type": t, "data": d, "ts": 0, "seq": i, "source": d.get("service", "x"),
                                          "turn_id": ""}) for i, (t, d) in enumerate(frames)) + "\n")
    return path


def test_down_up_is_no_restart(tmp_path: Path) -> None:
    ready, stopped = ("INFO", "ready"), ("INFO", "stopped")
    logs = [_log(tmp_path / f"{s}.jsonl", s, ready, stopped, ready, stopped, ready) for s in ("stt", "brain", "tts")]
    text = diagnose(logs, "en")
    assert "[RESTARTS]" not in text and "services restarted" not in text, text


def test_kills_crashes_and_failed_setups_count(tmp_path: Path) -> None:
    ready, stopped = ("INFO", "ready"), ("INFO", "stopped")
    files = [
        _log(tmp_path / "capture.jsonl", "capture", ready, stopped, ready, ready),  # down/up, then a kill -9
        _log(tmp_path / "watchdog.jsonl", "watchdog",
             ("WARNING", "watchdog: restarting capture (audio frames frozen for 9 s)")),
        _log(tmp_path / "brain.jsonl", "brain", ready, stopped,
             ("ERROR", "setup failed: no model"), stopped, ready),  # supervisord started it again
        _log(tmp_path / "stt.jsonl", "stt", ready, stopped, ready),
        _rec(tmp_path / "bus-rec.jsonl", [("ready", {"service": "tts"}), ("stopping", {"service": "tts"}),
                                          ("ready", {"service": "tts"}), ("ready", {"service": "playback"}),
                                          ("ready", {"service": "playback"})]),
    ]
    text = diagnose(files, "en")
    section = text.split("[RESTARTS]", 1)[1].split("\n\n", 1)[0]
    assert "capture: 1 (watchdog: audio frames frozen for 9 s)" in section, text
    assert "brain: 1" in section and "playback: 1" in section, text
    assert "stt" not in section and "tts" not in section, section
