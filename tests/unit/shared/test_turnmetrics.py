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


def test_preemptive_turn_counts_only_exposed_time() -> None:
    """Whisper and the LLM ran inside the silence window: they add nothing until it closes."""
    c = TurnClock("t")
    c.from_transcript_timings({"last_voice_ns": 1000 * MS, "transcript_ns": 1260 * MS})  # the pause partial
    c.mark("first_token", 1430 * MS)
    c.from_transcript_timings({"last_voice_ns": 1000 * MS, "vad_end_ns": 1535 * MS, "transcript_ns": 1540 * MS})
    c.mark("first_sentence", 1760 * MS)
    c.mark("first_tts_audio", 1880 * MS)
    c.mark("first_played", 1900 * MS)
    s = c.stages()
    assert s["vad_s"] == 0.535 and s["stt_s"] == 0.0 and s["first_token_s"] == 0.0
    assert s["first_sentence_s"] == 0.225 and s["tts_s"] == 0.12 and s["output_s"] == 0.02
    assert s["time_to_first_audio_s"] == 0.9
    assert abs(sum(v for k, v in s.items() if k not in ("total_s", "time_to_first_audio_s")) - s["total_s"]) < 1e-9
    assert c.offsets() == {"end_of_speech": 0.0, "transcript": 260.0, "first_token": 430.0, "vad_decision": 535.0,
                           "first_sentence": 760.0, "first_tts_audio": 880.0, "first_played": 900.0}
