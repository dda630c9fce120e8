"""Metrics panel (F6, /metricas): the seed's metrics graded by its thresholds, live, with sparklines.

It reads what the app already has (the peers' heartbeats and the last turns'
``turn-metrics``, through the ``source`` it is given), so opening it costs the bus nothing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Sparkline, Static

from services.ui.i18n import t
from shared.health import grade, snapshot

_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red"}
_UNIT = {"audio_queue": "", "audio_drops": ""}


class MetricsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    MetricsScreen { align: center middle; }
    #metrics { width: 80%; height: auto; max-height: 90%; border: round $accent; background: $surface; padding: 0 1; }
    #metrics-title { text-style: bold; height: 1; }
    #metrics Sparkline { height: 2; margin: 0 0 1 0; }
    .spark-label { color: $text-muted; height: 1; }
    """
    BINDINGS = [("escape", "close", "Fechar")]

    def __init__(self, source: Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        super().__init__()
        self.source = source  # () -> (the peers' heartbeat info, the last turns' stages, oldest first)
        self.chunks_rate: deque[float] = deque(maxlen=60)
        self._last_captured: tuple[float, float] | None = None
        self.rows: list[tuple[str, str, str]] = []  # what the table shows (metric, value, health)

    def compose(self) -> ComposeResult:
        with Vertical(id="metrics"):
            yield Label(t("metrics_title"), id="metrics-title")
            yield Static("", id="metrics-table")
            yield Label(t("metrics_ttfa"), classes="spark-label")
            yield Sparkline([], id="spark-ttfa")
            yield Label(t("metrics_stt"), classes="spark-label")
            yield Sparkline([], id="spark-stt")
            yield Label(t("metrics_chunks"), classes="spark-label")
            yield Sparkline([], id="spark-chunks")

    def on_mount(self) -> None:
        self.refresh_metrics()
        self.set_interval(1.0, self.refresh_metrics)

    def action_close(self) -> None:
        self.dismiss(None)

    def refresh_metrics(self) -> None:
        info, turns = self.source()
        values = snapshot(info, turns[-1] if turns else None)
        grades = grade(values)
        cap = (info.get("capture") or {}).get("counters") or {}
        captured = cap.get("captured")
        if isinstance(captured, (int, float)):
            now = time.monotonic()
            if self._last_captured and now > self._last_captured[0]:
                self.chunks_rate.append(max(0.0, (captured - self._last_captured[1]) / (now - self._last_captured[0])))
            self._last_captured = (now, float(captured))
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column(t("metrics_metric"))
        table.add_column(t("metrics_value"), justify="right")
        table.add_column(t("metrics_health"))
        self.rows = []
        for key, value in values.items():
            unit = _UNIT.get(key, " s")
            lvl = grades.get(key, "ok")
            row = (t(f"m_{key}"), f"{value:.2f}{unit}" if unit else f"{value:.0f}", t(f"h_{lvl}"))
            self.rows.append(row)
            table.add_row(row[0], row[1], Text(row[2], style=_STYLE[lvl]))
        if self.chunks_rate:
            table.add_row(t("m_chunks"), f"{self.chunks_rate[-1]:.0f}/s", "")
        if not values:
            table.add_row(t("metrics_none"), "", "")
        self.query_one("#metrics-table", Static).update(table)
        self.query_one("#spark-ttfa", Sparkline).data = [
            float(s.get("time_to_first_audio_s") or s.get("total_s") or 0) for s in turns]
        self.query_one("#spark-stt", Sparkline).data = [float(s.get("stt_s") or 0) for s in turns if "stt_s" in s]
        self.query_one("#spark-chunks", Sparkline).data = list(self.chunks_rate)
