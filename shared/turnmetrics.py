"""Per-turn latency breakdown, assembled from the monotonic stamps every stage puts on its frames.

Why one place: users of every voice assistant complain that latencies cannot be
reconciled across stages. All of Luna's processes stamp ``time.monotonic_ns()``
(CLOCK_MONOTONIC, shared by the processes of one machine), so a turn's marks can
simply be subtracted. The brain feeds the marks it sees and publishes the result
as ``turn-metrics``; ``luna diagnose`` and the UI read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Marks in pipeline order; each stage is the time from the previous present mark.
ORDER = (
    "end_of_speech",   # last voiced audio frame (capture clock) - or the typed message
    "vad_decision",    # VAD decided the utterance ended
    "transcript",      # transcript published
    "first_token",     # first LLM token
    "first_sentence",  # first complete sentence sent to TTS
    "first_tts_audio",  # first synthesized PCM of the turn
    "first_played",    # first sample handed to the output device
)
STAGE_NAMES = {
    "vad_decision": "vad_s", "transcript": "stt_s", "first_token": "first_token_s",
    "first_sentence": "first_sentence_s", "first_tts_audio": "tts_s", "first_played": "output_s",
}


@dataclass
class TurnClock:
    """Collects the first time each mark happens for one turn."""

    turn_id: str
    marks: dict[str, int] = field(default_factory=dict)
    spoken: bool = False

    def mark(self, name: str, ns: int | None) -> None:
        if ns and name in ORDER and name not in self.marks:
            self.marks[name] = int(ns)

    def from_transcript_timings(self, timings: dict[str, Any]) -> None:
        """Take the stt's stamps (``last_voice_ns``, ``vad_end_ns``, ``transcript_ns``)."""
        self.spoken = True
        self.mark("end_of_speech", timings.get("last_voice_ns"))
        self.mark("vad_decision", timings.get("vad_end_ns"))
        self.mark("transcript", timings.get("transcript_ns"))

    def complete(self) -> bool:
        return "first_played" in self.marks

    def stages(self) -> dict[str, float]:
        """Seconds each stage *added to the wait*, ``total_s`` (first mark to last), and each mark's offset.

        A stage that ran while an earlier one was still going (Whisper and the LLM start
        during the VAD's silence window when the reply is preemptive) only counts from
        the moment the earlier stage finished, so it may be 0; :meth:`offsets` keeps when
        each mark really happened.
        """
        out: dict[str, float] = {}
        prev: int | None = None
        for name in ORDER:
            t = self.marks.get(name)
            if t is None:
                continue
            if prev is not None and name in STAGE_NAMES:
                out[STAGE_NAMES[name]] = round(max(t - prev, 0) / 1e9, 4)
            prev = t if prev is None else max(prev, t)
        if len(self.marks) >= 2:
            first = min(self.marks.values())
            out["total_s"] = round((max(self.marks.values()) - first) / 1e9, 4)
            if "first_played" in self.marks:
                out["time_to_first_audio_s"] = round((self.marks["first_played"] - first) / 1e9, 4)
        return out

    def offsets(self) -> dict[str, float]:
        """Milliseconds from the first mark to each mark (when each stage really ended)."""
        if not self.marks:
            return {}
        first = min(self.marks.values())
        return {name: round((t - first) / 1e6, 1) for name, t in self.marks.items()}
