"""A synthetic room for the echo-cancellation tests and bench: Luna's Piper reply as it reaches the
microphone (delayed, reverberated, mixed at -6 dB) plus a user's espeak-ng sentence.

Everything is 16 kHz mono int16, deterministic (fixed seed), made from real speech.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.support.audio import RATE, espeak_speech, piper_speech, to_16k

LUNA_TEXT = ("Sure. Here is what I found about your question. The weather in London will be mild "
             "tomorrow, with some clouds in the morning and sunshine in the afternoon.")
USER_TEXT = "Please open the terminal and list the files in my home folder."
#: The same with a barge-in word in front: AEC3 attenuates the first ~250 ms of double talk,
#: so "Stop" is usually lost; the bench reports this variant too.
BARGE_TEXT = "Wait."
BARGE_GAP_S = 0.8
USER_TEXT_STOP = "Stop, please open the terminal and list the files in my home folder."


def room_impulse(decay_s: float = 0.15, length_s: float = 0.3, seed: int = 7) -> np.ndarray:
    """Exponentially decaying noise tail (RT60-like ``decay_s``: -60 dB at decay_s) after a direct path."""
    rng = np.random.default_rng(seed)
    n = int(length_s * RATE)
    t = np.arange(n) / RATE
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / decay_s)
    h = 0.35 * tail / np.sqrt(np.sum(tail ** 2))
    h[0] = 1.0  # direct sound
    return h / np.sqrt(np.sum(h ** 2))


def echo_of(ref: np.ndarray, delay_s: float, gain_db: float = -6.0, decay_s: float = 0.15) -> np.ndarray:
    """What the microphone hears of ``ref``: delayed, reverberated, scaled; same length as ``ref``."""
    x = ref.astype(np.float64)
    y = np.convolve(x, room_impulse(decay_s))[:len(x)]
    y *= np.sqrt(np.mean(x ** 2) / max(np.mean(y ** 2), 1e-9)) * 10 ** (gain_db / 20)
    d = int(delay_s * RATE)
    out = np.zeros(len(x))
    out[d:] = y[:len(x) - d]
    return out


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def luna_reply() -> np.ndarray:
    return to_16k(*piper_speech(LUNA_TEXT))


def user_sentence(text: str = USER_TEXT) -> np.ndarray:
    return to_16k(*espeak_speech(text))


@dataclass
class Scene:
    ref: np.ndarray  # what playback handed to the device (16 kHz)
    mic: np.ndarray  # what the microphone heard
    echo: np.ndarray  # the echo part alone (float)
    user: np.ndarray  # the user part alone (float, zeros when no user)
    delay_s: float


def scene(delay_s: float, with_user: bool = False, user_at_s: float = 1.0, tail_s: float = 1.0,
          cut_at_s: float | None = None, user_text: str = USER_TEXT, barge_text: str = "") -> Scene:
    """Luna speaking into the room; optionally the user talking from ``user_at_s``.

    ``cut_at_s``: playback stops there (barge-in), the reference is silent afterwards.
    """
    luna = luna_reply()
    user = user_sentence(user_text) if with_user else np.zeros(0, dtype=np.int16)
    if with_user and barge_text:  # "Wait!" over Luna, then the sentence once she stopped
        user = np.concatenate([user_sentence(barge_text), np.zeros(int(BARGE_GAP_S * RATE), np.int16), user])
    n = max(len(luna), int(user_at_s * RATE) + len(user)) + int(tail_s * RATE)
    n = n // 160 * 160
    ref = np.zeros(n, dtype=np.int16)
    ref[:len(luna)] = luna
    if cut_at_s is not None:
        ref[int(cut_at_s * RATE):] = 0
    echo = echo_of(ref, delay_s)
    u = np.zeros(n)
    if with_user:
        a = int(user_at_s * RATE)
        u[a:a + len(user)] = user.astype(np.float64)
    return Scene(ref, to_int16(echo + u), echo, u, delay_s)


def erle_db(mic: np.ndarray, out: np.ndarray, ref: np.ndarray, lo_s: float, hi_s: float,
            delay_s: float = 0.0) -> float:
    """Echo return loss enhancement over [lo_s, hi_s) counting only 10 ms frames where the echo is active.

    ``mic`` holds only echo there (Luna-only segment). 10*log10(power in / power out).
    """
    a, b = int(lo_s * RATE), int(hi_s * RATE)
    m = mic[a:b].astype(np.float64)
    o = out[a:b].astype(np.float64)
    n = len(m) // 160 * 160
    pm = (m[:n].reshape(-1, 160) ** 2).mean(axis=1)
    po = (o[:n].reshape(-1, 160) ** 2).mean(axis=1)
    active = pm > (10 ** (-50 / 10)) * pm.max()  # frames where there is echo to cancel
    if not active.any():
        return 0.0
    return float(10 * np.log10(pm[active].sum() / max(po[active].sum(), 1e-9)))


def run_canceller(c, mic: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float]:
    """(cleaned signal, CPU ms per second of audio)."""
    from services.capture.aec import process_signal

    t0 = time.process_time()
    out = process_signal(c, mic, ref)
    cpu = time.process_time() - t0
    return out, 1000 * cpu / (len(out) / RATE)


class Listener:
    """stt's own pieces over a 16 kHz signal: silero VAD segmenter + faster-whisper tiny.en."""

    def __init__(self) -> None:
        from services.stt.engines import load_local

        self.engine, _ = load_local("tiny.en", "int8", "en")

    def hear(self, audio: np.ndarray, ref: np.ndarray | None = None) -> tuple[list[float], list[str]]:
        """(times speech-start is published in s, transcripts of each utterance)."""
        utts = self.utterances(audio, ref)
        return [u[0] for u in utts], [u[1] for u in utts if u[1]]

    def utterances(self, audio: np.ndarray, ref: np.ndarray | None = None) -> list[tuple[float, str]]:
        """[(time speech-start is published in s, transcript)] per utterance.

        The time is when the segmenter announces the start (the end of the chunk that
        completed the minimum of voiced audio): what barge-in reacts to. The event's own
        stamp is the utterance's first voiced chunk, which may be a trace of residual echo
        just before the user's word that the word then extended.

        ``ref``: Luna's far-end signal; from its first to its last sample the segmenter is told
        Luna speaks, as stt is by playback's ``speaking`` / ``idle`` with ECHO_MODE=aec.
        """
        from services.stt.vad import Segmenter, SileroVAD
        from shared import config

        s, _ = config.load_lenient(env={}, path=Path("/nonexistent"))  # the defaults stt runs with
        seg = Segmenter(SileroVAD(), threshold=s.VAD_THRESHOLD, min_silence_ms=s.VAD_MIN_SILENCE_MS,
                        min_speech_ms=s.VAD_MIN_SPEECH_MS, pad_ms=s.VAD_SPEECH_PAD_MS,
                        barge_min_speech_ms=s.VAD_BARGE_IN_MIN_SPEECH_MS)
        on = np.flatnonzero(ref) if ref is not None else np.zeros(0, dtype=np.int64)
        speaking = (int(on[0]), int(on[-1])) if len(on) else (-1, -1)
        out: list[tuple[float, str]] = []
        start = 0.0
        step = 320
        pad = np.concatenate([audio.astype(np.int16), np.zeros(RATE, dtype=np.int16)])
        for i in range(0, len(pad) - step + 1, step):
            seg.luna_speaking(speaking[0] <= i <= speaking[1])
            for ev in seg.feed(pad[i:i + step], i * 1_000_000_000 // RATE):
                if ev.kind == "start":
                    start = (i + step) / RATE
                elif ev.kind == "end" and ev.audio is not None:
                    out.append((start, self.engine.transcribe(ev.audio).text.strip()))
        return out
