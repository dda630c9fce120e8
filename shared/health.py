"""Health per the design document's thresholds (seed table 11.4), from heartbeats and turn metrics.

One module so the status bar, the metrics panel and ``luna diagnose`` grade the same
numbers the same way.
"""

from __future__ import annotations

from typing import Any

from shared.catalogue import COMMON_COUNTERS as C
from shared.catalogue import STAGES, STT_INFO, TTS_INFO

#: metric -> (warning at or above, critical above), seconds or counts
THRESHOLDS: dict[str, tuple[float, float]] = {
    "tts_s": (2.0, 5.0),
    "stt_s": (1.0, 3.0),
    "llm_first_token_s": (3.0, 8.0),
    "end_to_end_s": (5.0, 10.0),
    "audio_queue": (50, 100),
    "audio_drops": (1, 10),
}
LEVELS = ("ok", "warning", "critical")


def level(metric: str, value: float) -> str:
    """``ok`` / ``warning`` / ``critical`` for a metric value."""
    warn, crit = THRESHOLDS[metric]
    if value > crit:
        return "critical"
    return "warning" if value >= warn else "ok"


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def snapshot(info: dict[str, dict[str, Any]], stages: dict[str, Any] | None) -> dict[str, float]:
    """The seed's metrics (11.3) from the services' heartbeat info and the last turn's stages."""
    out: dict[str, float] = {}
    stages = stages or {}
    stt = _num((info.get("stt") or {}).get(STT_INFO.last_stt_ms))
    if stt is not None:
        out["stt_s"] = stt / 1000
    tts = _num(stages.get(STAGES.tts_s))
    if tts is None:
        ms = _num((info.get("tts") or {}).get(TTS_INFO.last_first_chunk_ms))
        tts = None if ms is None else ms / 1000
    if tts is not None:
        out["tts_s"] = tts
    for key, src in (("llm_first_token_s", STAGES.first_token_s), ("end_to_end_s", STAGES.time_to_first_audio_s)):
        v = _num(stages.get(src))
        if v is not None:
            out[key] = v
    if "end_to_end_s" not in out and _num(stages.get(STAGES.total_s)) is not None:
        out["end_to_end_s"] = float(stages[STAGES.total_s])
    cap = (info.get("capture") or {}).get("counters") or {}
    stt_c = (info.get("stt") or {}).get("counters") or {}
    if cap or stt_c:
        out["audio_queue"] = float((_num(cap.get(C.queue)) or 0) + (_num(stt_c.get(C.queue)) or 0))
        out["audio_drops"] = float((_num(cap.get(C.drops)) or 0) + (_num(stt_c.get(C.drops)) or 0))
    return out


def grade(values: dict[str, float]) -> dict[str, str]:
    return {k: level(k, v) for k, v in values.items() if k in THRESHOLDS}


def worst(grades: dict[str, str]) -> str:
    return max(grades.values(), key=LEVELS.index, default="ok")
