"""Status bar (services, providers/models, mic level, latency) and the thinking/speaking/listening indicator."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from services.ui.busclient import SERVICES
from services.ui.i18n import t
from shared.health import grade, snapshot, worst

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


def ears(info: dict[str, dict[str, Any]], muted: bool) -> tuple[float | None, bool, str]:
    """From capture's and stt's heartbeats: the mic level, whether the mic is muted (here or at capture),
    and how Luna listens (ECHO_MODE as capture runs it; LISTEN_MODE when it is not "always", as F7 set it)."""
    cap = info.get("capture", {})
    level = mic_level(cap)
    muted = muted or bool(cap.get("muted"))
    echo = str(cap.get("echo_mode_effective") or cap.get("echo_mode") or "")
    stt = info.get("stt", {})
    if stt.get("listen_mode") in ("name", "wake", "push"):
        echo = " ".join(x for x in (echo, t("listen_" + stt["listen_mode"]),
                                    t("talk_open") if stt.get("talk_open") else "") if x)
    return level, muted, echo


#: Shorter service names for a narrow terminal (the symbol's colour still tells the state).
_SHORT = {"capture": "cap", "playback": "play"}


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(1, n - 1)] + "…"


class StatusBar(Static):
    """One line: services, mic, latency, health, then provider/model per function.

    Nothing is ever cut off the right edge: when the line is wider than the bar, it is
    rebuilt shorter, level by level (short service names, no provider prefix, names only
    for services not ready, shortened model names), so the last entry (vision) always shows.
    """

    DEFAULT_CSS = "StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }"
    LEVELS = 7

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._args: tuple = ()
        self.level = 0
        self.marker = ""  # fallbacks in use, from the fallback banner (widgets/banner.py)
        self.drawn: tuple = ()  # what the line was last drawn from: the same again redraws nothing

    def refresh_from(self, states: dict[str, str], functions: dict[str, dict[str, Any]],
                     info: dict[str, dict[str, Any]], muted: bool, latency_ms: float | None,
                     last_turn: dict[str, Any] | None, marker: str) -> None:
        """The line from the services' states and heartbeats, the brain's functions, the last turn's stages."""
        level, muted, echo = ears(info, muted)
        health = worst(grade(snapshot(info, last_turn)))  # the seed's thresholds; F6 shows which metric
        key = (tuple(states.values()), repr(functions), level, muted, latency_ms, echo, health, marker)
        if key == self.drawn:
            return
        self.drawn = key
        self.render_status(states, functions, level, muted, latency_ms, echo, health)

    def render_status(self, states: dict[str, str], functions: dict[str, dict[str, Any]],
                      level: float | None, muted: bool, latency_ms: float | None, echo: str = "",
                      health: str = "ok") -> None:
        self._args = (states, functions, level, muted, latency_ms, echo, health)
        self._fit()

    def on_resize(self) -> None:
        if self._args:
            self._fit()

    def _fit(self) -> None:
        width = (self.size.width or self.app.size.width - 2) or 200
        line = Text()
        for lvl in range(self.LEVELS):
            line = self.build(*self._args, compact=lvl)
            self.level = lvl
            if line.cell_len <= width:
                break
        self.update(line)

    def build(self, states: dict[str, str], functions: dict[str, dict[str, Any]], level: float | None,
              muted: bool, latency_ms: float | None, echo: str = "", health: str = "ok",
              compact: int = 0) -> Text:
        line = Text()
        for svc in SERVICES:
            st = states.get(svc, "down")
            sym, color = _STYLE.get(st, ("●", "yellow"))
            line.append(f"{sym}", style=color)
            name = _SHORT.get(svc, svc) if compact >= 1 else svc
            if compact >= 3 and st in ("ready", "up") or compact >= 5:
                name = ""  # ready (or no room at all): the dot's colour says it
            line.append(name, style="" if st != "down" else "dim")
            if st not in ("ready", "up", "down") and compact < 2:
                line.append(f"({st})", style=color)
            if compact < 3:
                line.append(" ")
        if compact >= 3:
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
        if self.marker:  # "⚠ reserva: ouvidos, voz" (narrow: "⚠ reserva"); the banner said why and the fix
            line.append(f"{self.marker if compact < 3 else self.marker.split(':')[0]} ", style="yellow")
        model_len = {0: 99, 1: 99, 2: 99, 3: 16, 4: 12, 5: 10, 6: 8}[compact]
        for fn in ("chat", "code", "vision"):
            d = functions.get(fn)
            if d:
                line.append("│ ", style="dim")
                line.append(f"{t(('fn_short_' if compact >= 4 else 'fn_') + fn)} ", style="dim")
                model = _cut(str(d.get("model", "?")), model_len)
                who = model if compact >= 2 else f"{d.get('provider', '?')}/{model}"
                line.append(f"{who} ")
        line.rstrip()
        return line


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

    def show(self, listening: bool, speaking: bool, thinking: bool, extra: str = "") -> None:
        """Listening wins over speaking (the user talks over Luna), speaking over thinking."""
        state = "listening" if listening else "speaking" if speaking else "thinking" if thinking else "idle"
        self.set_state(state, extra)

    def set_state(self, state: str, extra: str = "") -> None:
        self.state = state
        self.extra = extra
        for s in self.STATES:
            self.set_class(s == state, s)
        sym = {"idle": "☾", "thinking": "…", "speaking": "♪", "listening": "🎤"}[state]
        self.update(Text(f"{sym} {t('luna')} {t('state_' + state)} {extra}".rstrip()))
