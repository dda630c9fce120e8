"""The nested shapes of the bus contract: the keys inside a frame's dict fields.

Why here and not in each service: heartbeat ``counters`` and ``info``, ``status.data``,
``timings`` and ``turn-metrics.stages`` are read by other processes (the watchdog,
:mod:`shared.health`, the UI, ``luna diagnose``). When their names lived only in
the writer, renaming one silently blinded the reader. Now a reader names a key
through its declaration (``CAPTURE_COUNTERS.captured``: a typo is an
``AttributeError`` at import), and a strict run (``LUNA_STRICT_CATALOGUE=1``, set by
the tests) rejects a frame carrying a key that is not declared here, so a writer
cannot add one without saying so.

:mod:`shared.messages` attaches these shapes to its frame specs; ``luna catalogue``
prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_S, _I, _B, _D, _L = str, int, bool, dict, list
_NUM = (int, float)
_ANYV = (str, int, float, bool, list, dict)


@dataclass(frozen=True)
class Shape:
    """The keys one dict field may hold: name -> type, plus key families by prefix.

    Attribute access returns a declared key's name, so readers spell keys through
    the declaration: ``STT_INFO.last_stt_ms == "last_stt_ms"``.
    """

    name: str
    keys: dict[str, Any]
    prefixes: tuple[str, ...] = ()  # families such as ``early_<why>`` (one counter per reason)
    doc: str = ""

    def __getattr__(self, key: str) -> str:
        if key.startswith("__") or key not in self.keys:
            raise AttributeError(f"{self.name} declares no key {key!r}")
        return key

    def allows(self, key: str) -> bool:
        return key in self.keys or any(key.startswith(p) for p in self.prefixes)

    def undeclared(self, value: dict[str, Any]) -> list[str]:
        """Keys of ``value`` this shape does not declare, or whose value has the wrong type."""
        bad = []
        for k, v in value.items():
            if not isinstance(k, str) or not self.allows(k):
                bad.append(f"{k!r}")
            elif k in self.keys and v is not None and not isinstance(v, self.keys[k]):
                bad.append(f"{k}: {type(v).__name__}")
        return bad

    def describe(self) -> str:
        keys = ", ".join(list(self.keys) + [f"{p}*" for p in self.prefixes])
        return f"{{{keys}}}"


@dataclass(frozen=True)
class ByService:
    """A dict field whose keys depend on the frame's ``service``: one :class:`Shape` per service."""

    name: str
    shapes: dict[str, Shape]
    common: Shape = field(default_factory=lambda: Shape("none", {}))

    def shape(self, service: str) -> Shape | None:
        own = self.shapes.get(service)
        if own is None:
            return None
        return Shape(f"{self.name}[{service}]", {**self.common.keys, **own.keys},
                     self.common.prefixes + own.prefixes)


def counters(name: str, *keys: str, prefixes: tuple[str, ...] = (), doc: str = "") -> Shape:
    """Counters are integers, every one."""
    return Shape(name, {k: int for k in keys}, prefixes, doc)


# --- heartbeat counters -----------------------------------------------------------
#: Every service's counters (shared/service.py and the bus).
COMMON_COUNTERS = counters("counters", "frames_in", "frames_out", "rejected", "drops", "queue", "rebinds",
                           doc="frames handled, frames rejected by validation, frames dropped, queue depth, "
                               "sockets bound again after the runtime dir vanished")
#: Counted by shared/epochs.py for the services that keep an epoch window.
_EPOCHS = ("epoch_rejected",)
CAPTURE_COUNTERS = counters(
    "capture.counters", "captured", "audio_out", "muted", "gated", "reference_in", "reference_ms",
    "aec_frames", "aec_warmup_gated", "aec_ref_zeros", "aec_clock_jumps", "aec_resets", "ring_drops", "ring",
    doc="captured: every frame read from the source (the watchdog's proof that audio moves)")
PLAYBACK_COUNTERS = counters(
    "playback.counters", "samples_in", "sentences_played", "sentences_cut", "stale_dropped", "reference_out",
    "reference_dropped", "reference_clock_jumps", *_EPOCHS)
STT_COUNTERS = counters(
    "stt.counters", "utterances", "transcripts", "empty", "echo_dropped", "called", "not_for_luna",
    "not_listening", "bad_format", "stt_errors", "speculative", "speculative_used", "early_published",
    "early_retracted", "eot_calls", "eot_skipped", "eot_late", "eot_errors", "eot_complete", "eot_incomplete", "eot_unsure",
    "eot_text_incomplete", "wake_detections", "barge_in_held", "continued", *_EPOCHS,
    doc="continued: utterances that went on with the last one (the VAD joined their audio; the transcript "
        "carries continues)")
TTS_COUNTERS = counters("tts.counters", "sentences", "cancelled", "tts_errors", "held", "held_released",
                        "held_dropped", *_EPOCHS,
                        doc="held: sentences of a preemptive reply synthesized before the turn was sure; "
                            "held_released: held replies spoken; held_dropped: held replies never said, and "
                            "chunks past a held reply's 30 s cap")
BRAIN_COUNTERS = counters(
    "brain.counters", "sentences", "fallbacks", "turns_ok", "turns_failed", "turns_cancelled",
    "early_started", "early_committed", "self_address_removed", "turns_continued",
    prefixes=("early_", "replies_cut_"),
    doc="early_<why>: a speculative reply dropped (retracted, changed, ...); replies_cut_<reason>: the loop guard; "
        "self_address_removed: the assistant's own name taken out where a reply addressed the user with it; "
        "turns_continued: spoken turns replaced by the transcript that went on with them")
WATCHDOG_COUNTERS = counters("watchdog.counters", "restarts", "busy_spared")
HEARTBEAT_COUNTERS = ByService("heartbeat.counters", {
    "capture": CAPTURE_COUNTERS, "playback": PLAYBACK_COUNTERS, "stt": STT_COUNTERS, "tts": TTS_COUNTERS,
    "brain": BRAIN_COUNTERS, "watchdog": WATCHDOG_COUNTERS, "ui": counters("ui.counters"),
}, COMMON_COUNTERS)

# --- heartbeat info (also ready.detail) --------------------------------------------
COMMON_INFO = Shape("info", {"problems": _L, "rejects": _D},
                    doc="problems: config errors in words; rejects: rejected frames by reason")
_DEVICE = {"device": _S, "rate": _I, "echo_mode": _S}
CAPTURE_INFO = Shape("capture.info", {
    **_DEVICE, "source": _S, "echo_mode_effective": _S, "muted": _B, "gated": _B, "aec": _S, "aec_warm": _B,
    "ended": _S, "waiting_for": _S, "level": _NUM, "level_db": _NUM})
PLAYBACK_INFO = Shape("playback.info", {**_DEVICE, "output": _S, "latency_ms": _NUM, "underruns": _I})
_ENGINE = {"model": _S, "provider": _S, "fallback": _S, "warmup_ms": _NUM}
STT_INFO = Shape("stt.info", {
    **_ENGINE, "language": _S, "load_s": _NUM, "listen_mode": _S, "talk_open": _B, "end_of_turn": _S,
    "turn_model_load_ms": _NUM, "eot_ms_p50": _NUM, "eot_last_ms": _NUM, "last_stt_ms": _NUM,
    "wake_model": _S, "wake_prob": _NUM},
    doc="last_stt_ms: the last transcription's time (shared.health grades it)")
TTS_INFO = Shape("tts.info", {**_ENGINE, "last_first_chunk_ms": _NUM})
#: What the brain shows the UI (``status.data``), also in its heartbeat info.
BRAIN_STATUS = Shape("brain.status", {
    "functions": _D, "ollama": _S, "embedded": _B, "embedded_model": _S, "embedded_last_resort": _B,
    "ollama_models": _L, "missing_models": _L, "conversation_id": _S, "pull": _D, "preparing": _D},
    doc="functions: {function: {provider, model, configured, configured_model, chain, skipped, ...}}; "
        "pull: a model download's progress; preparing: llama.cpp still compiling {step: 'n/m', held: turns waiting}")
BRAIN_INFO = Shape("brain.info", {**BRAIN_STATUS.keys, "epoch": _I}, doc="epoch: the last reply's number")
HEARTBEAT_INFO = ByService("heartbeat.info", {
    "capture": CAPTURE_INFO, "playback": PLAYBACK_INFO, "stt": STT_INFO, "tts": TTS_INFO, "brain": BRAIN_INFO,
    "watchdog": Shape("watchdog.info", {}), "ui": Shape("ui.info", {}),
}, COMMON_INFO)

# --- status.data ------------------------------------------------------------------
PULL = Shape("status.data.pull", {"model": _S, "status": _S, "completed": _I, "total": _I, "error": _S})
PREPARING = Shape("status.data.preparing", {"step": _S, "held": _I})
STATUS_DATA = ByService("status.data", {
    "brain": BRAIN_STATUS,
    "capture": Shape("capture.status", {"muted": _B}),
    "stt": Shape("stt.status", {"listen_mode": _S, "listening": _B}),
})

# --- timings and turn metrics -------------------------------------------------------
#: stt's monotonic stamps on a transcript (ns), and its end-of-turn model's verdict.
TRANSCRIPT_TIMINGS = Shape("transcript.timings", {
    "speech_start_ns": _I, "vad_start_ns": _I, "pause_ns": _I, "last_voice_ns": _I, "vad_end_ns": _I,
    "stt_start_ns": _I, "stt_end_ns": _I, "transcript_ns": _I, "eot_prob_pct": _I, "eot_ms": _NUM,
    "eot_commit_ns": _I, "speculative": _I})
REPLY_TIMINGS = Shape("reply-end.timings", {"route_us": _NUM, "first_token_ms": _NUM, "total_ms": _NUM, "chunks": _I, "cut": _S})
#: Seconds each stage added to the wait (shared/turnmetrics.py).
STAGES = Shape("turn-metrics.stages", {
    "vad_s": _NUM, "stt_s": _NUM, "first_token_s": _NUM, "first_sentence_s": _NUM, "tts_s": _NUM,
    "output_s": _NUM, "total_s": _NUM, "time_to_first_audio_s": _NUM})
MARKS = Shape("turn-metrics.marks_ms", {
    "end_of_speech": _NUM, "vad_decision": _NUM, "transcript": _NUM, "first_token": _NUM,
    "first_sentence": _NUM, "first_tts_audio": _NUM, "first_played": _NUM})

# --- list items ------------------------------------------------------------------------
HISTORY_ITEM = Shape("history.conversations[]", {"id": _S, "title": _S, "created": (str, int, float), "updated": (str, int, float),
                                                 "count": _I})
