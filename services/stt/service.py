"""stt: audio frames -> VAD -> speech-start / speech-end -> Whisper (own worker thread) -> transcript.

VAD runs on the event loop for every 20 ms frame (about 0.2 ms of CPU per 32 ms
chunk); Whisper runs in this process's single worker thread, so a long
transcription never delays end-of-speech decisions or barge-in (the GIL is
released inside CTranslate2). The model is loaded in a thread during setup, so
heartbeats keep flowing and ``ready`` is only published once it can transcribe.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from typing import Any

import numpy as np

from services.stt.echo import EchoFilter
from services.stt.engines import Engine, OpenAIWhisper, load_local
from services.stt.vad import Event, Segmenter, SileroVAD
from shared.epochs import EpochWindow
from shared.messages import Frame
from shared.service import Service

#: Utterances waiting for Whisper beyond this are dropped (counted): never an unbounded backlog.
MAX_PENDING = 4


class SttService(Service):
    name = "stt"
    consumes = ("audio",)

    def __init__(self) -> None:
        super().__init__()
        self.engine: Engine | None = None
        self.segmenter: Segmenter | None = None
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="whisper")
        self.pending = 0
        self.epochs = EpochWindow(self.counters)  # a hostile reply-start cannot move it far
        self.echo = EchoFilter()
        self._utt: dict[str, Any] = {}
        self._spec: asyncio.Future[Any] | None = None  # speculative transcription of the current pause
        self._spec_turn = ""  # the turn_id that guess would become
        self._early_sent = ""  # the last turn_id published as a pause partial

    async def setup(self) -> None:
        s = self.settings
        self.segmenter = Segmenter(SileroVAD(), threshold=s.VAD_THRESHOLD, min_silence_ms=s.VAD_MIN_SILENCE_MS,
                                   min_speech_ms=s.VAD_MIN_SPEECH_MS, pad_ms=s.VAD_SPEECH_PAD_MS,
                                   max_s=s.STT_MAX_UTTERANCE_S, spec_ms=s.STT_SPECULATIVE_MS,
                                   barge_min_speech_ms=s.VAD_BARGE_IN_MIN_SPEECH_MS if s.ECHO_MODE == "aec" else 0)
        loop = asyncio.get_running_loop()
        if s.STT_PROVIDER == "openai":
            self.engine = OpenAIWhisper(s.OPENAI_API_KEY, s.STT_OPENAI_MODEL, s.STT_LANGUAGE, s.OPENAI_BASE_URL)
        else:
            t0 = time.monotonic()
            self.engine, why = await loop.run_in_executor(
                self.pool, load_local, s.STT_LOCAL, s.STT_COMPUTE_TYPE, s.STT_LANGUAGE)
            self.info["load_s"] = round(time.monotonic() - t0, 2)
            if why:
                self.info["fallback"] = (f"{why}; using the bundled {self.engine.model} (English only). "
                                         "Download the model once with network access, or set STT_LOCAL to a "
                                         "model folder.")
                self.notice("warning", self.info["fallback"], "stt-fallback")
        if s.STT_PROVIDER != "openai":  # first inference allocates and is slow: pay it before ready
            t0 = time.monotonic()
            await loop.run_in_executor(self.pool, self.engine.transcribe, np.zeros(16000, dtype=np.int16))
            self.info["warmup_ms"] = round((time.monotonic() - t0) * 1000)
        self.info.update(model=self.engine.model, provider=s.STT_PROVIDER,
                         language=getattr(self.engine, "language", "") or "auto")

    def queue_depth(self) -> int:
        return self.pending

    async def on_event(self, f: Frame) -> None:
        self.epochs.sync(f)
        if f.type == "speaking":
            self.echo.said(f["text"])
            if self.segmenter is not None:
                self.segmenter.luna_speaking(True)
        elif f.type == "idle" and self.segmenter is not None:
            self.segmenter.luna_speaking(False)

    async def on_stream(self, stream: str, f: Frame) -> None:
        if self.segmenter is None or f.payload is None:
            return
        pcm = np.frombuffer(f.payload, dtype=np.int16)
        if f["rate"] != 16000 or f["channels"] != 1:
            self.counters["bad_format"] += 1
            return
        t = f.get("t_capture_ns") or time.monotonic_ns()
        for ev in self.segmenter.feed(pcm, t):
            self._on_vad(ev)

    def _on_vad(self, ev: Event) -> None:
        now = time.monotonic_ns()
        if ev.kind == "start":
            self._utt = {"speech_start_ns": ev.t_ns, "vad_start_ns": now}
            self._drop_spec()
            self.counters["utterances"] += 1
            self.publish("speech-start", epoch=self.epochs.latest, t_audio_ns=ev.t_ns)
            return
        if ev.kind == "pause":
            # The speaker may be done: start Whisper now, while the silence window runs, and
            # publish the words as a pause partial so the brain can start answering too. If
            # they go on talking, the guess is retracted and never used.
            self._drop_spec()
            if ev.audio is not None and len(ev.audio) and self.pending < MAX_PENDING:
                loop = asyncio.get_running_loop()
                self._spec = loop.run_in_executor(self.pool, self._timed, ev.audio)
                self._spec.add_done_callback(lambda f: f.cancelled() or f.exception())
                self._spec_turn = uuid.uuid4().hex
                self._utt["pause_ns"] = now
                loop.create_task(self._early(self._spec, self._spec_turn,
                                             {**self._utt, "last_voice_ns": ev.t_ns}))
                self.counters["speculative"] += 1
            return
        if ev.kind == "resume":
            self._drop_spec()
            return
        if self._spec is not None and not ev.same_as_pause:
            self._drop_spec()  # more audio came after the pause (a forced cut): that guess is worthless
        spec, self._spec = self._spec, None
        turn_id, self._spec_turn = self._spec_turn, ""
        if spec is None:
            turn_id = uuid.uuid4().hex
        timings = {**self._utt, "last_voice_ns": ev.t_ns, "vad_end_ns": now}
        self._utt = {}
        dur = 0.0 if ev.audio is None else len(ev.audio) / 16000
        self.publish("speech-end", t_audio_ns=ev.t_ns, duration_s=round(dur, 3))
        if ev.audio is None or len(ev.audio) == 0 or self.pending >= MAX_PENDING:
            self._retract(turn_id)  # the brain may have started on its pause partial: call it off
            if ev.audio is None or len(ev.audio) == 0:
                return
            self.counters["drops"] += 1
            self.notice("warning", "speech recognition is falling behind; an utterance was skipped", "stt-behind")
            return
        self.pending += 1
        if spec is not None and ev.same_as_pause:
            self.counters["speculative_used"] += 1
            timings["speculative"] = 1
        else:
            spec = asyncio.get_running_loop().run_in_executor(self.pool, self._timed, ev.audio)
        asyncio.get_running_loop().create_task(self._transcribe(spec, timings, turn_id))

    def _drop_spec(self) -> None:
        if self._spec is not None and not self._spec.done():
            self._spec.cancel()  # still queued: never runs
        self._spec = None
        self._utt.pop("pause_ns", None)
        self._retract(self._spec_turn)
        self._spec_turn = ""

    def _retract(self, turn_id: str) -> None:
        """Take back the pause partial of ``turn_id``, if one was published."""
        if turn_id and turn_id == self._early_sent:
            self.publish("transcript-retract", turn_id=turn_id)
            self.counters["early_retracted"] += 1
            self._early_sent = ""

    async def _early(self, job: asyncio.Future[Any], turn_id: str, timings: dict[str, int]) -> None:
        """Publish the pause's guess as a partial transcript, unless the speaker already went on."""
        try:
            res, t0, t1 = await job
        except BaseException:  # cancelled or failed: the final path reports errors
            return
        text = res.text.strip()
        if turn_id != self._spec_turn or not text or self.echo.is_echo(text):
            return
        self._early_sent = turn_id
        self.counters["early_published"] += 1
        self.publish("transcript-partial", turn_id=turn_id, text=text, pause=True,
                     timings={**timings, "stt_start_ns": t0, "stt_end_ns": t1, "transcript_ns": time.monotonic_ns()},
                     model=self.engine.model if self.engine else "", language=res.language)

    def _timed(self, audio: np.ndarray) -> tuple[Any, int, int]:
        t0 = time.monotonic_ns()
        r = self.engine.transcribe(audio)  # type: ignore[union-attr]
        return r, t0, time.monotonic_ns()

    async def _transcribe(self, job: asyncio.Future[Any], timings: dict[str, int], turn_id: str) -> None:
        assert self.engine is not None
        try:
            try:
                res, t0, t1 = await job
            except Exception as exc:
                self.counters["stt_errors"] += 1
                self.notice("error", f"speech recognition failed: {type(exc).__name__}: {str(exc)[:160]}",
                            "stt-error")
                return
            timings.update(stt_start_ns=t0, stt_end_ns=t1)
            text = res.text.strip()
            if not text:
                self.counters["empty"] += 1
                return
            if self.echo.is_echo(text):
                self.counters["echo_dropped"] += 1
                self.log.info("dropped transcript that repeats Luna's own words: %r", text[:80])
                return
            timings["transcript_ns"] = time.monotonic_ns()
            self.counters["transcripts"] += 1
            self.info["last_stt_ms"] = round((t1 - t0) / 1e6)
            self.publish("transcript", turn_id=turn_id, text=text, timings=timings,
                         model=self.engine.model, language=res.language)
        finally:
            self.pending -= 1

    async def teardown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
