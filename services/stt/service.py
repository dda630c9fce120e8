"""stt: audio frames -> VAD -> speech-start / speech-end -> Whisper (own worker thread) -> transcript.

VAD runs on the event loop for every 20 ms frame (about 0.2 ms of CPU per 32 ms
chunk); Whisper runs in this process's single worker thread, so a long
transcription never delays end-of-speech decisions or barge-in (the GIL is
released inside CTranslate2). The model is loaded in a thread during setup, so
heartbeats keep flowing and ``ready`` is only published once it can transcribe.

End of turn (issue 14): with smart-turn v3 on disk, each pause of ``TURN_PAUSE_MS``
asks the model, in a second worker thread (about 0.1 s), whether the turn is
complete. Complete: the utterance ends at once and goes to Whisper, without waiting
out the silence window. Incomplete: the segmenter waits up to
``TURN_MAX_SILENCE_MS``, so a thinking pause is not cut, and no speculative Whisper
pass is spent on it. No model, or a call slower than ``TURN_BUDGET_MS``: the VAD's
silence rule and the pause partial decide, as before. The :class:`ListenGate` then
decides whether the words may leave stt at all (``LISTEN_MODE``). In ``wake`` mode a
wake-word model (services/stt/wake.py) takes every frame first and the VAD gets audio
only after it fires. In ``name`` and ``wake`` modes the VAD's speech-start (which cuts
Luna off) is held until the words are accepted, so a TV cannot interrupt her; a wake
word is a deliberate call and cuts her off at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from typing import Any

import numpy as np

from services.stt.echo import EchoFilter
from services.stt.endofturn import SmartTurn, dangling, model_path
from services.stt.engines import Engine, OpenAIWhisper, load_local
from services.stt.listen import ListenGate, strip_name
from services.stt.vad import Event, Segmenter, SileroVAD
from services.stt.wake import LISTEN_AFTER_S, WakeError, WakeWord
from shared.epochs import EVENTS as EPOCH_EVENTS
from shared.epochs import EpochWindow
from shared.messages import Frame
from shared.service import Service

#: Utterances waiting for Whisper beyond this are dropped (counted): never an unbounded backlog.
MAX_PENDING = 4


class SttService(Service):
    name = "stt"
    consumes = ("audio",)
    listens = (*EPOCH_EVENTS, "speaking", "idle")  # the epoch, echo text, listen-mode/talk commands

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
        self.turn: SmartTurn | None = None  # the end-of-turn model, when it is on disk
        self.eot_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="endofturn")
        self._eot_token = 0  # the pause the model is being asked about; 0 = none
        self._eot_timer: asyncio.TimerHandle | None = None
        self._eot_busy = False
        self._eot_ms: list[float] = []  # recent call times, for the heartbeat
        self.listen = ListenGate()
        self.wake: WakeWord | None = None  # LISTEN_MODE=wake's detector, loaded when that mode is first set
        self._wake_fed = False  # the last frame went to the detector (not the VAD)
        self._held: dict[str, Any] | None = None  # this utterance's speech-start, held until its words are accepted

    async def setup(self) -> None:
        s = self.settings
        self.segmenter = Segmenter(SileroVAD(), threshold=s.VAD_THRESHOLD, min_silence_ms=s.VAD_MIN_SILENCE_MS,
                                   min_speech_ms=s.VAD_MIN_SPEECH_MS, pad_ms=s.VAD_SPEECH_PAD_MS,
                                   max_s=s.STT_MAX_UTTERANCE_S, spec_ms=s.STT_SPECULATIVE_MS,
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

    def _release_start(self, held: dict[str, Any] | None) -> None:
        """The utterance's words were accepted: its speech-start (barge-in) goes out now."""
        if held and not held.get("sent"):
            held["sent"] = True
            self.publish("speech-start", epoch=held["epoch"], t_audio_ns=held["t_audio_ns"])

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

    def _reset_utterance(self) -> None:
        """Forget a half-heard utterance (the listen mode changed under it)."""
        seg = self.segmenter
        if seg is not None and seg.in_speech:
            seg.in_speech, seg._speech, seg._announced, seg._paused, seg._eot_asked = False, [], False, False, False
            seg.hold = seg.pending = False
        self._drop_spec()
        self._eot_token = 0
        self._held = None

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

    def _on_vad(self, ev: Event) -> None:
        now = time.monotonic_ns()
        if ev.kind == "start":
            self._utt = {"speech_start_ns": ev.t_ns, "vad_start_ns": now}
            self._drop_spec()
            self.counters["utterances"] += 1
            self._held = {"epoch": self.epochs.latest, "t_audio_ns": ev.t_ns}
            if self.listen.held_barge_in():
                self.counters["barge_in_held"] += 1  # goes out when the words are accepted (_release_start)
            else:
                self._release_start(self._held)
            return
        if ev.kind == "pause":
            if self.turn is not None and self.segmenter is not None and self.segmenter.eot_ms:
                return  # the end-of-turn model decides; Whisper waits for its answer (or its timeout)
            self._drop_spec()
            self._start_spec(ev, now)
            return
        if ev.kind == "eot":
            self._ask_model(ev, now)
            return
        if ev.kind == "resume":
            self._eot_token = 0
            self._cancel_eot_timer()
            self._drop_spec()
            return
        self._eot_token = 0
        self._cancel_eot_timer()
        if self._spec is not None and not ev.same_as_pause:
            self._drop_spec()  # more audio came after the pause (a forced cut): that guess is worthless
        spec, self._spec = self._spec, None
        turn_id, self._spec_turn = self._spec_turn, ""
        if spec is None:
            turn_id = uuid.uuid4().hex
        timings = {**self._utt, "last_voice_ns": ev.t_ns, "vad_end_ns": now}
        self._utt = {}
        held, self._held = self._held, None
        dur = 0.0 if ev.audio is None else len(ev.audio) / 16000
        self.publish("speech-end", t_audio_ns=ev.t_ns, duration_s=round(dur, 3))
        if ev.audio is None or len(ev.audio) == 0 or self.pending >= MAX_PENDING:
            self._retract(turn_id)  # the brain may have started on its pause partial: call it off
            if ev.audio is None or len(ev.audio) == 0:
                return
            self.counters["drops"] += 1
            self.notice("warning", self.say("stt.behind"), "stt-behind")
            return
        self.pending += 1
        if spec is not None and ev.same_as_pause:
            self.counters["speculative_used"] += 1
            timings["speculative"] = 1
        else:
            spec = asyncio.get_running_loop().run_in_executor(self.pool, self._timed, ev.audio)
        asyncio.get_running_loop().create_task(self._transcribe(spec, timings, turn_id, held))

    def _start_spec(self, ev: Event, now: int, commit: bool = False) -> None:
        """The speaker may be done: start Whisper now, while the silence window runs, and
        publish the words as a pause partial so the brain can start answering too. If
        they go on talking, the guess is retracted and never used."""
        if ev.audio is not None and len(ev.audio) and self.pending < MAX_PENDING:
            loop = asyncio.get_running_loop()
            self._spec = loop.run_in_executor(self.pool, self._timed, ev.audio)
            self._spec.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._spec_turn = uuid.uuid4().hex
            self._utt["pause_ns"] = now
            loop.create_task(self._early(self._spec, self._spec_turn,
                                         {**self._utt, "last_voice_ns": ev.t_ns}, commit))
            self.counters["speculative"] += 1

    def _ask_model(self, ev: Event, now: int) -> None:
        """Ask smart-turn about this pause, off the event loop; a late answer is never waited for."""
        if self.turn is None or ev.audio is None or not len(ev.audio):
            return
        if self._eot_busy:  # the previous call is still running (a loaded CPU): silence decides this one
            self.counters["eot_skipped"] += 1
            self._start_spec(ev, now)
            return
        self._eot_token += 1
        token = self._eot_token
        self._eot_busy = True
        if self.segmenter is not None:
            self.segmenter.pending = True  # the silence window waits for the answer (up to the budget)
        self.counters["eot_calls"] += 1
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self.eot_pool, self.turn.timed, ev.audio)
        self._cancel_eot_timer()
        self._eot_timer = loop.call_later(self.settings.TURN_BUDGET_MS / 1000, self._eot_late, token, ev, now)
        job.add_done_callback(lambda f: self._eot_done(f, token, ev, now))

    def _cancel_eot_timer(self) -> None:
        if self._eot_timer is not None:
            self._eot_timer.cancel()
            self._eot_timer = None

    def _eot_late(self, token: int, ev: Event, now: int) -> None:
        """The model did not answer within its budget: fall back to the silence rule for this pause."""
        if token != self._eot_token:
            return
        self._eot_token = 0
        self.counters["eot_late"] += 1
        if self.segmenter is not None:
            self.segmenter.pending = False  # the next chunk closes the turn if the silence window is over
        self._start_spec(ev, now)

    def _eot_done(self, job: asyncio.Future[Any], token: int, ev: Event, asked_ns: int) -> None:
        self._eot_busy = False
        if job.cancelled() or job.exception() is not None:
            if not job.cancelled():
                self.counters["eot_errors"] += 1
            return
        prob, ms = job.result()
        self._eot_ms = (self._eot_ms + [ms])[-50:]
        self.info["eot_ms_p50"] = round(float(np.median(self._eot_ms)), 1)
        self.info["eot_last_ms"] = round(ms, 1)
        if token != self._eot_token or self.segmenter is None:
            return  # they went on talking, or the budget ran out first
        self._cancel_eot_timer()
        self._eot_token = 0
        self._utt["eot_prob_pct"] = round(prob * 100)
        self._utt["eot_ms"] = round(ms)
        if prob >= self.settings.TURN_COMPLETE_PROB:
            # Sounds finished: transcribe now; unless the words stop mid-phrase, the turn ends
            # the moment they are in (see _early), and that pass is the final transcript. The
            # silence window still waits for the words (pending), within the same budget.
            self.counters["eot_complete"] += 1
            self._start_spec(ev, asked_ns, commit=True)
        else:
            self.counters["eot_incomplete"] += 1
            self.segmenter.pending = False
            self.segmenter.hold = True  # a thinking pause: wait up to TURN_MAX_SILENCE_MS

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

    async def _early(self, job: asyncio.Future[Any], turn_id: str, timings: dict[str, int],
                     commit: bool = False) -> None:
        """Publish the pause's guess as a partial transcript, unless the speaker already went on.

        ``commit``: smart-turn called this pause complete; end the utterance now, unless the
        words end on one that needs more ("eu queria saber se", "can you tell me"), which a
        flat voice can hide from the model's ear.
        """
        try:
            res, t0, t1 = await job
        except BaseException:  # cancelled or failed: the final path reports errors
            return
        text = res.text.strip()
        if turn_id != self._spec_turn:
            return
        if commit and self.segmenter is not None:
            self.segmenter.pending = False
        if commit and text and dangling(text, res.language):
            self.counters["eot_text_incomplete"] += 1
            if self.segmenter is not None:
                self.segmenter.hold = True  # mid-phrase after all: wait up to TURN_MAX_SILENCE_MS
            return
        if commit:
            self._utt["eot_commit_ns"] = time.monotonic_ns()
        if text and not self.echo.is_echo(text) and self.listen.peek(text, time.monotonic()):
            self._release_start(self._held)
            self._publish_early(turn_id, text, res, timings, t0, t1)
        if commit and self.segmenter is not None:
            for e in self.segmenter.end_now():
                self._on_vad(e)

    def _publish_early(self, turn_id: str, text: str, res: Any, timings: dict[str, int], t0: int, t1: int) -> None:
        self._early_sent = turn_id
        self.counters["early_published"] += 1
        said = self._said(text)
        self.publish("transcript-partial", turn_id=turn_id, text=said.pop("text", text), pause=True, **said,
                     timings={**timings, "stt_start_ns": t0, "stt_end_ns": t1, "transcript_ns": time.monotonic_ns()},
                     model=self.engine.model if self.engine else "", language=res.language)

    def _said(self, text: str) -> dict[str, str]:
        """Name mode: the brain answers the words without "Luna," ({text, said}); the UI shows what was said."""
        if self.listen.mode != "name":
            return {}
        bare = strip_name(text)
        return {"text": bare, "said": text} if bare != text else {}

    def _timed(self, audio: np.ndarray) -> tuple[Any, int, int]:
        t0 = time.monotonic_ns()
        r = self.engine.transcribe(audio)  # type: ignore[union-attr]
        return r, t0, time.monotonic_ns()

    async def _transcribe(self, job: asyncio.Future[Any], timings: dict[str, int], turn_id: str,
                          held: dict[str, Any] | None = None) -> None:
        assert self.engine is not None
        try:
            try:
                res, t0, t1 = await job
            except Exception as exc:
                self.counters["stt_errors"] += 1
                self.notice("error", self.say("stt.failed", err=f"{type(exc).__name__}: {str(exc)[:160]}"),
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
            was_listening = self.listen.in_follow_up(time.monotonic())
            if self.listen.call_only(text, time.monotonic()):
                self.counters["called"] += 1  # "Luna." alone: the next words are the turn
                self._release_start(held)  # a call is for Luna: it may cut her off
                self._retract(turn_id)
                self._publish_listen()
                return
            if not self.listen.accept(text, time.monotonic()):
                self.counters["not_for_luna"] += 1  # no name, no follow-up window: never published
                self._retract(turn_id)
                self.log.info("ignored a turn that does not call Luna (LISTEN_MODE=name)")
                return
            if self.listen.mode == "name" and not was_listening:
                self._publish_listen()
            self._release_start(held)
            timings["transcript_ns"] = time.monotonic_ns()
            self.counters["transcripts"] += 1
            self.info["last_stt_ms"] = round((t1 - t0) / 1e6)
            said = self._said(text)
            self.publish("transcript", turn_id=turn_id, text=said.pop("text", text), timings=timings,
                         model=self.engine.model, language=res.language, **said)
        finally:
            self.pending -= 1

    async def teardown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.eot_pool.shutdown(wait=False, cancel_futures=True)
