"""stt: audio frames -> VAD -> speech-start / speech-end -> Whisper (own worker thread) -> transcript.

VAD runs on the event loop for every 20 ms frame (about 0.2 ms of CPU per 32 ms
chunk); Whisper runs in this process's single worker thread, so a long
transcription never delays end-of-speech decisions or barge-in (the GIL is
released inside CTranslate2). The model is loaded in a thread during setup, so
heartbeats keep flowing and ``ready`` is only published once it can transcribe.

End of turn (issue 14): with smart-turn v3 on disk, each pause of ``TURN_PAUSE_MS``
asks the model, in a second worker thread (about 0.1 s), whether the turn is
complete, and starts Whisper on the same audio at the same moment (one after the
other cost more than the silence window on a loaded CPU). Complete: the utterance
ends as soon as both the verdict and the words are in (unless the words stop
mid-phrase), without waiting out the silence window, and those words are the final
transcript. Incomplete: the segmenter waits up to ``TURN_MAX_SILENCE_MS``, so a
thinking pause is not cut, and nothing is published for it. No model, or a call
slower than ``TURN_BUDGET_MS``: the VAD's silence rule and the pause partial decide,
as before (services/stt/turnrule.py holds these rules).

The :class:`ListenGate` then decides whether the words may leave stt at all
(``LISTEN_MODE``). In ``wake`` mode a wake-word model (services/stt/wake.py) takes
every frame first and the VAD gets audio only after it fires. In ``name`` and ``wake`` modes the VAD's speech-start (which cuts
Luna off) is held until the words are accepted, so a TV cannot interrupt her; a wake
word is a deliberate call and cuts her off at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any

import numpy as np

from services.stt.echo import EchoFilter
from services.stt.endofturn import SmartTurn, model_path
from services.stt.engines import Engine, OpenAIWhisper, load_local
from services.stt.listen import ListenGate
from services.stt.speculation import Speculation
from services.stt.utterance import Utterances
from services.stt.vad import Segmenter, SileroVAD
from services.stt.wake import LISTEN_AFTER_S, WakeError, WakeWord
from shared.epochs import EVENTS as EPOCH_EVENTS
from shared.epochs import EpochWindow
from shared.messages import Frame
from shared.service import Service


class SttService(Utterances, Speculation, Service):
    """Life and dispatch: load the models, route events, commands and audio frames.

    The utterance's life is :class:`Utterances` (services/stt/utterance.py); the pause
    partials and the end-of-turn model are :class:`Speculation` (services/stt/speculation.py).
    """

    name = "stt"
    consumes = ("audio",)
    listens = (*EPOCH_EVENTS, "speaking", "idle")  # the epoch, echo text, listen-mode/talk commands

    def __init__(self) -> None:
        super().__init__()
        self.engine: Engine | None = None
        self.segmenter: Segmenter | None = None
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="whisper")
        self.epochs = EpochWindow(self.counters)  # a hostile reply-start cannot move it far
        self.echo = EchoFilter()
        self._init_utterance()
        self._init_speculation()
        self.listen = ListenGate()
        self.wake: WakeWord | None = None  # LISTEN_MODE=wake's detector, loaded when that mode is first set
        self._wake_fed = False  # the last frame went to the detector (not the VAD)

    async def setup(self) -> None:
        s = self.settings
        self.segmenter = Segmenter(SileroVAD(), threshold=s.VAD_THRESHOLD, min_silence_ms=s.VAD_MIN_SILENCE_MS,
                                   min_speech_ms=s.VAD_MIN_SPEECH_MS, pad_ms=s.VAD_SPEECH_PAD_MS,
                                   max_s=s.STT_MAX_UTTERANCE_S, spec_ms=s.STT_SPECULATIVE_MS,
                                   continue_ms=s.STT_CONTINUE_MS,
                                   barge_min_speech_ms=s.VAD_BARGE_IN_MIN_SPEECH_MS if s.ECHO_MODE == "aec" else 0)
        loop = asyncio.get_running_loop()
        self.listen.set_mode(s.LISTEN_MODE)
        self.listen.follow_up_s = s.FOLLOW_UP_S
        if self.listen.mode == "wake":
            self._load_wake()
        await self._load_turn_model(loop)
        if s.STT_PROVIDER == "openai":
            self.engine = OpenAIWhisper(s.OPENAI_API_KEY, s.STT_OPENAI_MODEL, s.STT_LANGUAGE, s.OPENAI_BASE_URL)
        else:
            t0 = time.monotonic()
            self.engine, why = await loop.run_in_executor(
                self.pool, load_local, s.STT_LOCAL, s.STT_COMPUTE_TYPE, s.STT_LANGUAGE, s.LANGUAGE)
            self.info["load_s"] = round(time.monotonic() - t0, 2)
            if why:
                note = self.say("stt.english-only") if getattr(self.engine, "english_only", False) else ""
                self.info["fallback"] = self.say("stt.fallback", why=why, model=self.engine.model, note=note)
                self.notice("warning", self.info["fallback"], "stt-fallback")
        if s.STT_PROVIDER != "openai":  # first inference allocates and is slow: pay it before ready
            t0 = time.monotonic()
            await loop.run_in_executor(self.pool, self.engine.transcribe, np.zeros(16000, dtype=np.int16))
            self.info["warmup_ms"] = round((time.monotonic() - t0) * 1000)
        self.info.update(model=self.engine.model, provider=s.STT_PROVIDER,
                         language=getattr(self.engine, "language", "") or "auto")
        self.info["listen_mode"] = self.listen.mode
        self._publish_listen()

    async def _load_turn_model(self, loop: asyncio.AbstractEventLoop) -> None:
        s = self.settings
        path = model_path(s.TURN_MODEL)
        if path is None:
            self.info["end_of_turn"] = "silence"
            if s.TURN_MODEL.lower() != "off":
                self.notice("info", self.say("stt.turn-missing", ms=s.VAD_MIN_SILENCE_MS), "stt-turn-model")
            return
        try:
            t0 = time.monotonic()
            self.turn = await loop.run_in_executor(self.eot_pool, SmartTurn, path)
            await loop.run_in_executor(self.eot_pool, self.turn.prob, np.zeros(16000, dtype=np.int16))  # warm-up
            self.info["turn_model_load_ms"] = round((time.monotonic() - t0) * 1000)
        except Exception as exc:  # a corrupt file: the silence rule still works
            self.turn = None
            self.info["end_of_turn"] = "silence"
            self.notice("warning", self.say("stt.turn-failed", err=f"{type(exc).__name__}: {str(exc)[:120]}"),
                        "stt-turn-model")
            return
        self.info["end_of_turn"] = "smart-turn-v3"
        self.segmenter.eot_ms = s.TURN_PAUSE_MS  # type: ignore[union-attr]
        self.segmenter.pending_ms = s.TURN_BUDGET_MS  # type: ignore[union-attr]
        self.segmenter.commit_ms = s.TURN_COMMIT_MIN_MS  # type: ignore[union-attr]
        self.segmenter.max_silence_ms = max(s.TURN_MAX_SILENCE_MS, s.VAD_MIN_SILENCE_MS)  # type: ignore[union-attr]

    def _load_wake(self) -> bool:
        """Wake mode needs its model; without it nothing is heard (never everything), and the user is told."""
        if self.wake is not None:
            return True
        try:
            self.wake = WakeWord(self.settings.WAKE_MODEL, self.settings.WAKE_THRESHOLD)
        except WakeError as exc:
            self.notice("error", self.say("stt.wake-failed", err=exc), "stt-wake-model")
            return False
        self.info["wake_model"] = self.wake.name
        return True

    def _feed_wake(self, pcm: np.ndarray, t_ns: int) -> None:
        """Wake mode, no window open: the frame goes to the wake-word model only."""
        self.counters["not_listening"] += 1
        if self.wake is None:
            return
        if not self._wake_fed:
            self.wake.reset()  # what it heard before the last window must not fire now
            self._wake_fed = True
        if self.wake.feed(pcm):
            self.counters["wake_detections"] += 1
            self.info["wake_prob"] = round(float(self.wake.last_prob), 3)
            self.listen.woke(time.monotonic(), LISTEN_AFTER_S)
            self.publish("speech-start", epoch=self.epochs.latest, t_audio_ns=t_ns)  # a call: cut Luna off
            self._publish_listen()

    def queue_depth(self) -> int:
        return self.pending

    def _publish_listen(self) -> None:
        self.publish("status", service=self.name, data=self.listen.status(time.monotonic()))

    async def on_event(self, f: Frame) -> None:
        self.epochs.sync(f)
        if f.type == "speaking":
            self.echo.said(f["text"])
            self.listen.luna_speaking(True, time.monotonic())
            if self.segmenter is not None:
                self.segmenter.luna_speaking(True)
        elif f.type == "idle":
            self.listen.luna_speaking(False, time.monotonic())
            if self.segmenter is not None:
                self.segmenter.luna_speaking(False)
        elif f.type == "command":
            await self._command(f["name"], f.get("args") or {})

    async def _command(self, name: str, args: dict[str, Any]) -> None:
        if name == "listen-mode":
            if not self.listen.set_mode(str(args.get("mode") or "")):
                self.notice("warning", self.say("stt.listen-mode", mode=repr(args.get("mode"))), "stt-listen-mode")
            elif self.listen.mode == "wake":
                self._load_wake()
            self._reset_utterance()
        elif name in ("talk-open", "talk-close", "talk-toggle"):
            was = self.listen.talk_open
            self.listen.talk_open = (not was) if name == "talk-toggle" else name == "talk-open"
            if was and not self.listen.talk_open and self.segmenter is not None:
                # the key was released: what was said so far is the turn (as if the silence came now)
                for ev in self.segmenter.end_now(force=True):
                    self._on_vad(ev)
        else:
            return
        self.info["listen_mode"] = self.listen.mode
        self.info["talk_open"] = self.listen.talk_open
        self._publish_listen()

    async def on_stream(self, stream: str, f: Frame) -> None:
        if self.segmenter is None or f.payload is None:
            return
        pcm = np.frombuffer(f.payload, dtype=np.int16)
        if f["rate"] != 16000 or f["channels"] != 1:
            self.counters["bad_format"] += 1
            return
        t = f.get("t_capture_ns") or time.monotonic_ns()
        if self.listen.mode == "wake" and not self.segmenter.in_speech and not self.listen.hears_audio():
            self._feed_wake(pcm, t)
            return
        self._wake_fed = False
        if not self.listen.hears_audio(time.monotonic()) and self.listen.mode != "wake":
            self.counters["not_listening"] += 1  # push mode, key up: the frame is never looked at
            return
        for ev in self.segmenter.feed(pcm, t):
            self._on_vad(ev)

    async def teardown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.eot_pool.shutdown(wait=False, cancel_futures=True)
