"""Per-turn breakdown from monotonic stamps."""

from __future__ import annotations

from shared.turnmetrics import TurnClock

MS = 1_000_000


def test_spoken_turn_breakdown_adds_up() -> None:
    c = TurnClock("t")
    c.from_transcript_timings({"last_voice_ns": 1000 * MS, "vad_end_ns": 1620 * MS, "transcript_ns": 1900 * MS})
    c.mark("first_token", 2300 * MS)
    c.mark("first_sentence", 2500 * MS)
    c.mark("first_tts_audio", 2560 * MS)
    c.mark("first_played", 2600 * MS)
    c.mark("first_played", 9999 * MS)  # only the first time counts
    s = c.stages()
    assert c.spoken and c.complete()
    assert s == {"vad_s": 0.62, "stt_s": 0.28, "first_token_s": 0.4, "first_sentence_s": 0.2, "tts_s": 0.06,
                 "output_s": 0.04, "total_s": 1.6, "time_to_first_audio_s": 1.6}
    assert abs(sum(v for k, v in s.items() if k.endswith("_s") and k not in ("total_s", "time_to_first_audio_s"))
               - s["total_s"]) < 1e-9


def test_typed_turn_without_audio() -> None:
    c = TurnClock("t")
    c.mark("end_of_speech", 100 * MS)  # the typed message
    c.mark("first_token", 400 * MS)
    c.mark("unknown", 5)
    s = c.stages()
    assert s == {"first_token_s": 0.3, "total_s": 0.3} and not c.complete()
