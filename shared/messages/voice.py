"""Voice on the bus: speech start/end from the VAD, partial and final transcripts, what is being
spoken and when playback goes idle, and the per-turn stage timings.

Why one domain: these carry the control loops of the voice path (speaking/idle gate stt,
epochs gate barge-in) and their timestamps are all CLOCK_MONOTONIC device times.
"""

from __future__ import annotations

from shared import catalogue as cat
from shared.messages.spec import _B, _D, _I, _NUM, _S, EVENT, declare

declare("speech-start", 1, EVENT, {}, {"epoch": _I, "t_audio_ns": _I})
declare("speech-end", 1, EVENT, {}, {"t_audio_ns": _I, "duration_s": _NUM})
declare("transcript-partial", 1, EVENT, {"text": _S},
        {"pause": _B, "timings": _D, "model": _S, "language": _S, "said": _S, "continues": _S},
        doc="stt: the words so far; pause=True: the speaker paused, this may be the whole utterance (its final "
            "transcript will carry the same turn_id), so the brain may start answering before the VAD is sure; "
            "continues: as on transcript",
        shapes={"timings": cat.TRANSCRIPT_TIMINGS})
declare("transcript-retract", 1, EVENT, {},
        doc="stt: the speaker went on after the pause of this turn_id's partial transcript: it was not the end")
declare("transcript", 1, EVENT, {"text": _S},
        {"timings": _D, "model": _S, "language": _S, "said": _S, "continues": _S},
        doc="stt: the final words; said: the words as heard when text differs (LISTEN_MODE=name takes Luna's "
            "name out of text, the UI shows said); continues: the turn_id of the spoken turn these words go on "
            "with (the speaker resumed within STT_CONTINUE_MS): text is the whole of both, and it replaces that "
            "turn in the history and on screen",
        shapes={"timings": cat.TRANSCRIPT_TIMINGS})
declare("speaking", 1, EVENT, {"text": _S}, {"epoch": _I, "t_tts_ns": _I},
        doc="a sentence started playing (ts = first sample to the device; t_tts_ns = turn's first PCM made)")
declare("idle", 1, EVENT, {}, {"epoch": _I, "text": _S, "played": _B})
declare("turn-metrics", 1, EVENT, {"stages": _D}, {"epoch": _I, "marks_ms": _D},
        doc="brain: seconds each stage added to the wait; marks_ms: when each stage ended, ms after the first",
        shapes={"stages": cat.STAGES, "marks_ms": cat.MARKS})
