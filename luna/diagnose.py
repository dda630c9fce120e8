"""``luna diagnose``: read service logs (JSON lines) and bus recordings, report what went wrong.

The seed's section 11.5 asked for this script; here it reads structured logs instead of
regexes over free text, so it works on every service's file, and it also reads a
``luna tap --record`` file, where heartbeats carry queue sizes, drops and latencies.
Thresholds are the seed's table 11.4.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from luna import i18n
from shared.health import THRESHOLDS, level


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: Counter[str] = Counter()
        self.slow: list[tuple[str, float, str]] = []
        self.max_queue: dict[str, int] = defaultdict(int)
        self.drops: dict[str, int] = defaultdict(int)
        self.rejects: Counter[str] = Counter()
        self.restarts: Counter[str] = Counter()
        self.restart_why: dict[str, str] = {}
        self._running: set[str] = set()  # started ("ready") and not stopped since
        self._failed: set[str] = set()  # stopped, but after a failure: supervisord starts it again
        self.turns: list[dict[str, Any]] = []
        self.lines = 0

    # -- inputs ----------------------------------------------------------------------
    def add_log_line(self, obj: dict[str, Any]) -> None:
        self.lines += 1
        svc = obj.get("service", "?")
        lvl = obj.get("level", "")
        msg = str(obj.get("msg", ""))
        if lvl in ("ERROR", "CRITICAL"):
            self.errors.append(f"{obj.get('time', '')} {svc}: {msg}"[:300])
        elif lvl == "WARNING":
            self.warnings[f"{svc}: {msg[:80]}"] += 1
        if msg == "ready":
            self._started(svc)
        elif msg == "stopped":
            self._stopped(svc)
        elif lvl in ("ERROR", "CRITICAL") and msg.startswith(("setup failed", "main loop failed")):
            self._failed.add(svc)
        elif svc == "watchdog" and msg.startswith("watchdog: restarting "):
            self._watchdog(msg)

    def add_frame(self, obj: dict[str, Any]) -> None:
        self.lines += 1
        t, data = obj.get("type"), obj.get("data") or {}
        if t == "heartbeat":
            svc = data.get("service", "?")
            c = data.get("counters") or {}
            self.max_queue[svc] = max(self.max_queue[svc], int(c.get("queue", 0)))
            self.drops[svc] = max(self.drops[svc], int(c.get("drops", 0)))
            for reason, n in ((data.get("info") or {}).get("rejects") or {}).items():
                self.rejects[f"{svc}:{reason}"] = max(self.rejects[f"{svc}:{reason}"], int(n))
        elif t == "turn-metrics":
            self.turns.append(data.get("stages") or {})
        elif t == "reply-end" and not data.get("ok") and data.get("error"):
            self.errors.append(i18n.t("diag.reply_failed", None, error=data["error"])[:300])
        elif t == "notice" and data.get("level") in ("warning", "error"):
            self.warnings[f"{data.get('service')}: {data.get('text', '')[:80]}"] += 1
            if data.get("code") == "watchdog-restart":
                self._watchdog(str(data.get("text", "")))
        elif t == "ready":
            self._started(data.get("service", "?"))
        elif t == "stopping":
            self._stopped(data.get("service", "?"))
        if t == "heartbeat" and data.get("state") == "failed":
            self._failed.add(data.get("service", "?"))

    # -- restarts: only the ones supervisord or the watchdog made -----------------------
    # Why: every `make down`/`make up` (and `luna restart`) starts each service again after a
    # clean stop; counting every "ready" after the first called that a restart. A start counts
    # only when the service's previous run never stopped cleanly (killed, crashed: supervisord or
    # the watchdog started it again) or stopped after a failed setup/main loop.
    def _started(self, svc: str) -> None:
        if svc in self._running or svc in self._failed:
            self.restarts[svc] += 1
        self._running.add(svc)
        self._failed.discard(svc)

    def _stopped(self, svc: str) -> None:
        self._running.discard(svc)

    def _watchdog(self, text: str) -> None:
        rest = text.split("watchdog: restarting ", 1)[-1]
        svc, _, why = rest.partition(" ")
        if svc:
            self.restart_why[svc] = why.strip("()")

    def add_file(self, path: Path) -> None:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                raw = raw.strip()
                if not raw.startswith("{"):
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if "type" in obj and "data" in obj:
                    self.add_frame(obj)
                else:
                    self.add_log_line(obj)

    # -- output ----------------------------------------------------------------------
    def render(self, language: str | None = None) -> str:
        """The report, every line from the catalogue (shared/i18n) in the user's language."""
        def tr(key: str, **kw: object) -> str:
            return i18n.t(key, language, **kw)

        def lv(metric: str, value: float) -> str:
            return tr(f"level.{level(metric, value)}")

        out = ["=" * 60, tr("diag.title"), "=" * 60, tr("diag.lines", n=self.lines)]
        recs: list[str] = []
        if self.turns:
            out.append("\n" + tr("diag.turns"))
            keys = sorted({k for t_ in self.turns for k in t_})
            for k in keys:
                vals = sorted(float(t_[k]) for t_ in self.turns if isinstance(t_.get(k), (int, float)))
                if vals:
                    out.append(f"  {k:<24} {vals[len(vals) // 2]:7.3f} / {vals[-1]:7.3f}")
            e2e = [float(t_["total_s"]) for t_ in self.turns if isinstance(t_.get("total_s"), (int, float))]
            if e2e and level("end_to_end_s", max(e2e)) != "ok":
                recs.append(tr("diag.rec_e2e"))
        if self.max_queue:
            out.append("\n" + tr("diag.queues"))
            for svc in sorted(self.max_queue):
                q, d = self.max_queue[svc], self.drops.get(svc, 0)
                out.append(tr("diag.queue_row", svc=svc, q=q, ql=lv("audio_queue", q), d=d, dl=lv("audio_drops", d)))
                if d and svc == "capture":
                    recs.append(tr("diag.rec_drops"))
                if q > THRESHOLDS["audio_queue"][0]:
                    recs.append(tr("diag.rec_queue", svc=svc))
        if self.rejects:
            out.append("\n" + tr("diag.rejects"))
            out += [f"  {k}: {n}" for k, n in self.rejects.most_common(10)]
            recs.append(tr("diag.rec_rejects"))
        restarts = {s: n for s, n in self.restarts.items() if n}
        if restarts:
            out.append("\n" + tr("diag.restarts"))
            out += [f"  {s}: {n}" + (tr("diag.restart_why", why=self.restart_why[s]) if s in self.restart_why else "")
                    for s, n in sorted(restarts.items())]
            recs.append(tr("diag.rec_restarts"))
        if self.errors:
            out.append("\n" + tr("diag.errors", n=len(self.errors)))
            out += [f"  {e}" for e in self.errors[:10]]
        if self.warnings:
            out.append("\n" + tr("diag.warnings"))
            out += [f"  {n:>4} x {w}" for w, n in self.warnings.most_common(8)]
        out.append("\n" + tr("diag.recs"))
        out += [f"  - {r}" for r in dict.fromkeys(recs)] or ["  - " + tr("diag.nothing")]
        return "\n".join(out)


def diagnose(paths: Iterable[Path], language: str | None = None) -> str:
    r = Report()
    for p in paths:
        r.add_file(p)
    return r.render(language)


def default_logs() -> list[Path]:
    from shared.logs import state_dir

    return sorted(state_dir().glob("*.jsonl"))
