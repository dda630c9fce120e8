"""The CLI speaks the user's language (issue 15): ``luna up``'s progress and ``luna diagnose`` in pt.

The progress printer runs for real: services' heartbeats on a private bus (starting, then
ready; capture without a microphone), read by :func:`luna.stack.wait_ready` as ``luna up``
does, then the summary it leaves for the UI. Every line is checked with the UI's i18n walk
(tests/system/test_ui_live.py): an English word outside the allow-list of names fails. A service's
own problem text, in parentheses, is the service's words, not the CLI's, so it is left out.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest

from luna import stack
from luna.diagnose import diagnose
from shared import i18n
from shared.bus import Bus
from shared.endpoints import SUPERVISED
from tests.system.test_ui_live import english_words

#: Names the CLI prints as they are: services, files, commands, metric keys.
CLI_NAMES = {"supervisord", "make", "logs", "luna", "up", "watchdog", "first", "token", "service", "heartbeat",
             "stt_s", "total_s", "queue",
             "download", "downloads"}  # a loanword in Brazilian Portuguese ("download interrompido")


#: The CLI's lines in the one catalogue (shared/i18n; the UI's and the services' are walked by their own tests).
OURS = ("state.", "up.", "not_running", "orphans.", "check.", "logs.", "diag.", "level.", "models.")
STRINGS = {lang: {k: v for k, v in lines.items() if k.startswith(OURS)} for lang, lines in i18n.STRINGS.items()}


def english(lines: list[str]) -> set[str]:
    text = re.sub(r"\([^()]*\)", " ", "\n".join(lines))  # a service's own problem text
    text = re.sub(r"`[^`]*`|\bmake \w+|\{\w+[^}]*\}", " ", text)  # commands to type, {placeholders}
    return english_words(text) - CLI_NAMES


async def _stack_comes_up(buses: dict[str, Bus]) -> None:
    """Heartbeats as the five services send them: starting, then ready (capture: no microphone)."""
    for _ in range(4):
        for s, b in buses.items():
            b.publish("heartbeat", service=s, state="starting", counters={}, info={}, pid=os.getpid())
        await asyncio.sleep(0.2)
    for _ in range(10):
        for s, b in buses.items():
            st, info = ("no-device", {"problems": ["microphone: none found"]}) if s == "capture" else ("ready", {})
            b.publish("heartbeat", service=s, state=st, counters={}, info=info, pid=os.getpid())
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("lang", ["pt", "en"])
async def test_up_progress_and_summary_speak_the_language(bus_env, monkeypatch, capsys, lang: str) -> None:
    monkeypatch.setenv("LANGUAGE", lang)
    buses = {s: Bus(s) for s in SUPERVISED}
    try:
        feeder = asyncio.create_task(_stack_comes_up(buses))
        details: dict[str, str] = {}
        shown = await stack.wait_ready(list(SUPERVISED), 15, details=details)
        await feeder
    finally:
        for b in buses.values():
            b.close()
    lines = capsys.readouterr().out.splitlines() + stack.up_summary(shown, details, 15)
    assert shown == {**dict.fromkeys(SUPERVISED, "ready"), "capture": "no-device"}, shown
    if lang == "pt":
        assert any(re.match(r"\s+stt\s+iniciando$", x) for x in lines), lines
        assert any(re.match(r"\s+brain\s+pronto$", x) for x in lines), lines
        assert "todos os serviços prontos" in lines and any(
            x.startswith("capture") and "sem dispositivo" in x and "microphone: none found" in x for x in lines), lines
        assert not english(lines), (english(lines), lines)
    else:  # the same check can fail: the English catalogue trips it
        assert "all services ready" in lines and english(lines), lines


def test_up_summary_names_what_is_not_ready(monkeypatch) -> None:
    monkeypatch.setenv("LANGUAGE", "pt")
    lines = stack.up_summary({"stt": "starting", "brain": "ready", "capture": "degraded"},
                             {"capture": "waiting for stt"}, 600)
    assert lines[0] == "não ficaram prontos em 600 s: stt (veja `make logs`)", lines
    assert lines[1:] == ["stt       iniciando", "capture   degradado  (waiting for stt)"], lines


def _logs(tmp: Path) -> list[Path]:
    (tmp / "stt.jsonl").write_text("\n".join(json.dumps(x) for x in [
        {"time": "t1", "level": "INFO", "service": "stt", "msg": "ready"},
        {"time": "t2", "level": "ERROR", "service": "stt", "msg": "whisper: out of memory"},
        {"time": "t3", "level": "INFO", "service": "stt", "msg": "ready"},  # killed, started again
        {"time": "t4", "level": "WARNING", "service": "stt", "msg": "slow"},
    ]) + "\n")
    (tmp / "bus.jsonl").write_text("\n".join(json.dumps({"type": t, "data": d, "ts": 0, "seq": 1, "source": "x",
                                                         "turn_id": ""}) for t, d in [
        ("heartbeat", {"service": "capture", "state": "ready", "counters": {"queue": 120, "drops": 30},
                       "info": {"rejects": {"bad-msgpack": 4}}}),
        ("turn-metrics", {"stages": {"stt_s": 0.3, "total_s": 12.0}}),
        ("reply-end", {"ok": False, "error": "ollama: timeout"}),
    ]) + "\n")
    return [tmp / "stt.jsonl", tmp / "bus.jsonl"]


def test_diagnose_in_portuguese(tmp_path: Path, monkeypatch) -> None:
    """Every section and recommendation of a report that has them all, in LANGUAGE=pt."""
    monkeypatch.setenv("LANGUAGE", "pt")
    lines = diagnose(_logs(tmp_path)).splitlines()
    text = "\n".join(lines)
    for head in ("DIAGNÓSTICO", "[TURNOS]", "[FILAS]", "[QUADROS REJEITADOS]", "[REINÍCIOS]", "[ERROS] 2",
                 "[AVISOS]", "[RECOMENDAÇÕES]", "crítico", "resposta falhou: ollama: timeout"):
        assert head in text, (head, text)
    # log messages and frame texts are the services' words, quoted as they are
    ours = [x for x in lines if "whisper:" not in x and "stt: slow" not in x]
    assert not english(ours), (english(ours), text)
    monkeypatch.setenv("LANGUAGE", "en")
    assert english(diagnose(_logs(tmp_path)).splitlines())  # the check can fail


def test_catalogue_languages_have_the_same_keys() -> None:
    assert set(STRINGS["pt"]) == set(STRINGS["en"])


def test_every_portuguese_line_of_the_catalogue() -> None:
    """Lines no test above prints (orphans, models' failures) are checked straight from the catalogue."""
    bad = {k: english([v]) for k, v in STRINGS["pt"].items() if english([v])}
    assert not bad, bad
    assert english(list(STRINGS["en"].values()))
