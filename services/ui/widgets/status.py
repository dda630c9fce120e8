"""Status bar (services, providers/models, mic level, latency) and the thinking/speaking/listening indicator."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from services.ui.busclient import SERVICES
from services.ui.i18n import t

_STYLE = {"ready": ("●", "green"), "up": ("●", "green"), "degraded": ("●", "yellow"),
          "no-device": ("◌", "yellow"), "starting": ("◐", "yellow"), "down": ("○", "red"),
          "failed": ("✖", "red"), "stopping": ("○", "red")}
_BARS = " ▁▂▃▄▅▆▇█"


def mic_level(info: dict[str, Any]) -> float | None:
    """The capture heartbeat's level, whatever the capture service calls it (0..1 or dBFS)."""
    for key in ("level", "mic_level", "rms", "peak", "level_db", "dbfs"):
        v = info.get(key)
        if isinstance(v, (int, float)):
            if v < 0:  # dBFS: -60..0
                return max(0.0, min(1.0, (v + 60) / 60))
            return max(0.0, min(1.0, float(v)))
    return None


class StatusBar(Static):
    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }"

    def render_status(self, states: dict[str, str], functions: dict[str, dict[str, Any]],
                      level: float | None, muted: bool, latency_ms: float | None, echo: str = "",
                      health: str = "ok") -> None:
        line = Text()
        for svc in SERVICES:
            st = states.get(svc, "down")
            sym, color = _STYLE.get(st, ("●", "yellow"))
            line.append(f"{sym}", style=color)
            line.append(f"{svc}", style="" if st != "down" else "dim")
            if st not in ("ready", "up", "down"):
                line.append(f"({st})", style=color)
            line.append(" ")
        line.append("│ ", style="dim")
        if muted:
            line.append(f"{t('mic')} 🔇 ", style="red")
        elif level is not None:
            line.append(f"{t('mic')} {_BARS[min(8, int(level * 8.999))]} ")
        else:
            line.append(f"{t('mic')} – ", style="dim")
        if echo:  # ECHO_MODE as capture runs it now (aec degrades to half-duplex without a reference)
            line.append(f"{echo} ", style="dim")
        if latency_ms is not None:
            line.append("│ ", style="dim")
            line.append(f"{latency_ms:.0f} ms ")
        if health != "ok":  # the seed's thresholds (11.4): F6 shows which metric
            line.append(f"{t('h_' + health)} ", style="yellow" if health == "warning" else "bold red")
        for fn in ("chat", "code", "vision"):
            d = functions.get(fn)
            if d:
                line.append("│ ", style="dim")
                line.append(f"{fn} ", style="dim")
                line.append(f"{d.get('provider', '?')}/{d.get('model', '?')} ")
        self.update(line)


class Indicator(Static):
    """Luna's state: idle / thinking / speaking / listening."""

    DEFAULT_CSS = """
    Indicator { height: 1; padding: 0 1; color: $text-muted; background: $surface; }
    Indicator.thinking { color: $warning; }
    Indicator.speaking { color: $success; }
    Indicator.listening { color: $accent; }
    """
    STATES = ("idle", "thinking", "speaking", "listening")

    def __init__(self, **kw: Any) -> None:
        super().__init__("", **kw)
        self.state = "idle"
        self.extra = ""

    def on_mount(self) -> None:
        self.set_state("idle")

    def set_state(self, state: str, extra: str = "") -> None:
        self.state = state
        self.extra = extra
        for s in self.STATES:
            self.set_class(s == state, s)
        sym = {"idle": "☾", "thinking": "…", "speaking": "♪", "listening": "🎤"}[state]
        self.update(Text(f"{sym} {t('luna')} {t('state_' + state)} {extra}".rstrip()))
