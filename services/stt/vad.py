"""Voice activity: silero VAD's ONNX model through onnxruntime (no torch), and a segmenter.

The silero-vad Python package imports torch, so only its bundled ``data/silero_vad.onnx``
is used, found through the package's spec without importing it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 16000
CHUNK = 512  # samples per silero call at 16 kHz (32 ms)
CONTEXT = 64  # silero v5 looks at the previous 64 samples too


def silero_model_path() -> Path:
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("silero-vad is not installed (pip install --no-deps silero-vad)")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "data" / "silero_vad.onnx"
        if p.is_file():
            return p
    raise FileNotFoundError("silero-vad is installed but data/silero_vad.onnx is missing")


class SileroVAD:
    """Speech probability for each 512-sample chunk of 16 kHz audio (stateful, streaming)."""

    def __init__(self, path: str | Path | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path or silero_model_path()), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self._sr = np.array(RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def prob(self, chunk: np.ndarray) -> float:
        """``chunk``: 512 float32 samples in [-1, 1]."""
        x = np.concatenate([self._context, chunk.astype(np.float32, copy=False)])[None, :]
        out, self._state = self.session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = x[0, -CONTEXT:]
        return float(out[0, 0])


@dataclass
class Event:
    kind: str  # "start" | "pause" | "resume" (voice again after a pause) | "end"
    # (with eot_ms: "eot", a pause long enough to ask the end-of-turn model; its audio is the utterance so far)
    t_ns: int  # capture time: first voiced sample (start) or end of last voiced chunk (end)
    audio: np.ndarray | None = None  # int16, the whole utterance (end only)
    forced: bool = False  # cut because it ran past the maximum length
    same_as_pause: bool = False  # end: no voice since the last "pause", so its audio is this audio
    continues: bool = False  # start/pause/eot/end: the speaker went on within continue_ms of the last end,
    # so this utterance's audio begins with that one's (see Segmenter.continue_ms)


@dataclass
class Segmenter:
    """Cuts a stream of 16 kHz int16 frames into utterances using VAD probabilities.

    Speech starts when a chunk crosses ``threshold``; it ends after ``min_silence_ms``
    below ``threshold - 0.15`` (hysteresis). Bursts shorter than ``min_speech_ms``
    are discarded; ``pad_ms`` of audio before the start is kept so the first
    phoneme is not clipped. Utterances longer than ``max_s`` are cut.
    """

    vad: SileroVAD
    threshold: float = 0.5
    min_silence_ms: int = 500
    min_speech_ms: int = 250
    pad_ms: int = 200
    max_s: float = 30.0
    spec_ms: int = 0  # > 0: a "pause" event after this much silence (speculative transcription)
    barge_min_speech_ms: int = 0  # > 0: min_speech_ms while Luna speaks (see luna_speaking)
    eot_ms: int = 0  # > 0: an "eot" event after this much silence (ask the end-of-turn model)
    max_silence_ms: int = 0  # > 0: the silence that ends a turn the model called incomplete (see hold)
    hold: bool = False  # set by the model's "incomplete": wait max_silence_ms instead of min_silence_ms
    pending: bool = False  # the model is still thinking about this pause: the silence rule waits for it ...
    pending_ms: int = 0  # ... until eot_ms + this much silence (audio time: a file read fast cannot outrun it)
    commit_ms: int = 0  # a turn the model called complete ends once the silence has lasted this long
    continue_ms: int = 0  # > 0: voice again this soon after an end continues that utterance (see _open)
    _commit: bool = False  # the model called it complete; the silence has not lasted commit_ms yet
    _quiet_min_speech_ms: int = -1
    _buf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    _buf_t: int = 0  # capture time of _buf[0]
    _pre: list[np.ndarray] = field(default_factory=list)
    _speech: list[np.ndarray] = field(default_factory=list)
    in_speech: bool = False
    _silence: int = 0  # samples of silence since the last voiced chunk
    _voiced: int = 0  # voiced samples in the current utterance
    _start_t: int = 0
    _last_voice_t: int = 0
    _announced: bool = False
    _paused: bool = False
    _eot_asked: bool = False
    _prev: np.ndarray | None = None  # the last utterance's audio, while the speaker may still go on with it
    _prev_voice_t: int = 0  # its last voiced sample (capture time)
    _prev_voice_n: int = 0  # ... and in samples fed (audio time)
    _n: int = 0  # samples fed before the chunk being read: audio time, which a file read fast keeps
    _last_voice_n: int = 0  # _last_voice_t in audio time
    _continues: bool = False  # the current utterance began with _prev's audio
    last_prob: float = 0.0

    def luna_speaking(self, on: bool) -> None:
        """Use ``barge_min_speech_ms`` while Luna speaks (echo cancellation on), else ``min_speech_ms``.

        Why: during double talk AEC3 lets only the first 160-190 ms of a short word like
        "Wait." through before it suppresses the rest as echo; with the usual 250 ms
        minimum that barge-in is dropped as a click (about 1 scene in 12). Luna's own
        voice, cancelled, makes no such bursts (0 speech-starts on 24 Luna-only scenes).
        """
        if self._quiet_min_speech_ms < 0:
            self._quiet_min_speech_ms = self.min_speech_ms
        self.min_speech_ms = (self.barge_min_speech_ms if on and self.barge_min_speech_ms
                              else self._quiet_min_speech_ms)

    @property
    def neg_threshold(self) -> float:
        return max(self.threshold - 0.15, 0.01)

    def feed(self, pcm: np.ndarray, t_ns: int) -> list[Event]:
        """Feed int16 frames (any length) with the capture time of their first sample."""
        # Follow the capture clock: after a gap (half-duplex gate, a restart) the stamps jump.
        expected = self._buf_t + len(self._buf) * 1_000_000_000 // RATE
        if len(self._buf) == 0 or abs(t_ns - expected) > 60_000_000:
            self._buf_t = t_ns - len(self._buf) * 1_000_000_000 // RATE
        self._buf = np.concatenate([self._buf, pcm])
        events: list[Event] = []
        while len(self._buf) >= CHUNK:
            chunk, self._buf = self._buf[:CHUNK], self._buf[CHUNK:]
            t = self._buf_t
            self._buf_t += CHUNK * 1_000_000_000 // RATE
            events.extend(self._chunk(chunk, t))
            self._n += CHUNK
        return events

    def _chunk(self, chunk: np.ndarray, t: int) -> list[Event]:
        p = self.vad.prob(chunk.astype(np.float32) / 32768.0)
        self.last_prob = p
        chunk_ns = CHUNK * 1_000_000_000 // RATE
        if not self.in_speech:
            self._pre.append(chunk)
            keep = max(1, int(self.pad_ms * RATE / 1000 / CHUNK) + 1)
            del self._pre[:-keep]
            if p >= self.threshold:
                self.in_speech = True
                self._speech = self._open(t)
                self._pre = []
                self._silence = 0
                self._voiced = CHUNK
                self._start_t = t
                self._last_voice_t, self._last_voice_n = t + chunk_ns, self._n + CHUNK
                self._announced = False
                return self._maybe_announce()
            return []
        self._speech.append(chunk)
        events: list[Event] = []
        if p >= self.neg_threshold:
            self._silence = 0
            if self._paused or self._eot_asked:  # they went on: the "pause" guess was not the end
                events.append(Event("resume", t))
            self._paused = False
            self._eot_asked = False
            self.hold = False
            self.pending = False
            self._commit = False
            if p >= self.threshold:
                self._voiced += CHUNK
            self._last_voice_t, self._last_voice_n = t + chunk_ns, self._n + CHUNK
        else:
            self._silence += CHUNK
        events += self._maybe_announce()
        total = sum(len(c) for c in self._speech)
        limit = self.min_silence_ms
        if self._commit:
            limit = self.commit_ms
        elif self.hold and self.max_silence_ms:
            limit = self.max_silence_ms
        elif self.pending:
            limit = max(limit, self.eot_ms + self.pending_ms)
        if self._silence * 1000 >= limit * RATE:
            return events + self._close(forced=False)
        if (self.eot_ms and self._announced and not self._eot_asked and self._silence
                and self._silence * 1000 >= self.eot_ms * RATE):
            self._eot_asked = True
            events.append(Event("eot", self._last_voice_t, self._trimmed(), continues=self._continues))
        if (self.spec_ms and self._announced and not self._paused and self._silence
                and self._silence * 1000 >= self.spec_ms * RATE):
            self._paused = True
            events.append(Event("pause", self._last_voice_t, self._trimmed(), continues=self._continues))
        if total >= self.max_s * RATE:
            return events + self._close(forced=True)
        return events

    def _maybe_announce(self) -> list[Event]:
        # speech-start only once enough voiced audio came: a click must not cut Luna off
        if not self._announced and self._voiced * 1000 >= max(self.min_speech_ms, 1) * RATE:
            self._announced = True
            return [Event("start", self._start_t, continues=self._continues)]
        return []

    def _trimmed(self) -> np.ndarray:
        audio = np.concatenate(self._speech) if self._speech else np.zeros(0, dtype=np.int16)
        if self._silence > 0:
            # keep ~pad of the trailing silence, drop the rest
            keep = len(audio) - self._silence + int(self.pad_ms * RATE / 1000)
            audio = audio[:max(keep, 0)]
        return audio

    def end_now(self, force: bool = False) -> list[Event]:
        """End the utterance at once: the "end" event, or none.

        The end-of-turn model is sure (``force`` False: only inside a silence, since voice
        that came back after the question means it was not the end), or the push-to-talk
        key was released (``force``).
        """
        if not self.in_speech or not (self._silence or force):
            return []
        return self._close(forced=False)

    def commit(self) -> list[Event]:
        """The model and the words say the turn is complete: end it once the silence has lasted
        ``commit_ms`` (now, if it has), unless voice comes back first.

        Why a floor: a speaker's breath inside a sentence ("Obrigado, Luna, por hoje é só
        isso", 160-190 ms) already sounds finished to smart-turn (P 0.90-0.95), and a
        Whisper pass of 0.1-0.3 s no longer outlasts it.
        """
        if not self.in_speech or not self._silence:
            return []
        if self._silence * 1000 >= self.commit_ms * RATE:
            return self._close(forced=False)
        self._commit = True
        return []

    def _open(self, t: int) -> list[np.ndarray]:
        """The new utterance's first audio: the pad before its voice, after the last utterance's
        audio when the voice came back within ``continue_ms`` of that one's end.

        Why: a speaker's pause inside a sentence can outlast the silence window or sound
        finished to smart-turn ("Desculpe," | "eu não entendi a sua pergunta"; Kokoro's
        0.6-0.7 s pause before "dbt"). Transcribed apart, each half loses the other's context
        ("O modelo do debate." | "Faiou no teste"); joined, Whisper hears the sentence it was,
        and stt says which turn it completes (``continues``) so the brain and the UI merge them.
        The pause between the two is kept only as the pads around it (at most 2 * pad_ms).
        The pause is the longer of capture time (frames the half-duplex gate held back never
        reach here) and audio time (a file read fast stamps its frames in a rush: by capture
        time its 2 s of silence took milliseconds, and two sentences were joined on CI).
        """
        prev = self._prev  # kept until this one is announced: a click after it must not lose it
        gap_ns = max(t - self._prev_voice_t, (self._n - self._prev_voice_n) * 1_000_000_000 // RATE)
        self._continues = bool(self.continue_ms and prev is not None
                               and 0 <= gap_ns <= self.continue_ms * 1_000_000
                               and len(prev) + CHUNK * (len(self._pre) + 1) < self.max_s * RATE)
        return ([prev] if self._continues and prev is not None else []) + list(self._pre)

    def forget_last(self) -> None:
        """The last utterance is not one to go on with (its words were dropped: an echo, a call;
        the listen mode changed): voice after it starts a new one."""
        self._prev, self._continues = None, False

    def _close(self, forced: bool) -> list[Event]:
        audio = self._trimmed()
        self._commit = False
        same = self._paused and not forced
        self._eot_asked = False
        self.hold = False
        self.pending = False
        announced = self._announced
        self._paused = False
        self.in_speech = False
        self._announced = False
        self._speech = []
        self._silence = 0
        self._voiced = 0
        continues, self._continues = self._continues, False
        if not announced:
            return []  # too short: a click or a cough, not speech
        # a forced cut is the length limit: the next piece is not joined to it
        self._prev, self._prev_voice_t = (None, 0) if forced else (audio, self._last_voice_t)
        self._prev_voice_n = self._last_voice_n
        return [Event("end", self._last_voice_t, audio, forced, same_as_pause=same, continues=continues)]
