"""The streams (push/pull, one consumer each): microphone audio, sentences to speak, synthesized PCM,
flush, and the echo reference playback hands back to capture.

Why streams and not events: they are ordered, bounded by a high-water mark and carry a
binary payload that is never copied into msgpack; ``flush`` travels on the same stream so
it stays in order with what it drops.
"""

from __future__ import annotations

from shared.messages.spec import _B, _I, _S, STREAM, declare

declare("audio", 1, STREAM, {"rate": _I, "channels": _I}, {"t_capture_ns": _I}, payload=True,
        doc="microphone PCM, int16 little-endian, capture -> stt")
declare("sentence", 1, STREAM, {"text": _S, "epoch": _I}, {"final": _B, "index": _I, "held": _B},
        doc="one sentence to speak, brain -> tts; held: a preemptive reply's, synthesized now and spoken only "
            "after a release for its epoch (a flush drops it unheard)")
declare("release", 1, STREAM, {"epoch": _I},
        doc="brain -> tts: the turn of this epoch's held sentences is confirmed: speak them, in order")
declare("pcm", 1, STREAM, {"rate": _I, "epoch": _I}, {"text": _S, "first": _B, "last": _B, "index": _I},
        payload=True, doc="synthesized PCM int16 mono, tts -> playback")
declare("flush", 1, STREAM, {"epoch": _I}, doc="drop everything older than epoch (sent on a stream so it stays in order)")

# --- aec: playback -> capture ------------------------------------------------------
declare("reference", 1, STREAM, {"rate": _I, "t_ns": _I}, {"epoch": _I}, payload=True,
        doc="far-end PCM exactly as handed to the output device (int16 mono 16 kHz, 10 ms multiples), "
            "t_ns = device time of its first sample; playback -> capture (echo cancellation)")
