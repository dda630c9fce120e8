"""stt's pause partials and the end-of-turn model: what happens between "they paused" and "the turn is over".

Why one owner: a pause starts a speculative Whisper pass (its words go out as a
``transcript-partial`` so the brain can start answering), asks smart-turn whether the
turn is complete, and may end the utterance early. Each of those can be overtaken by
the speaker going on (``resume``: the guess is retracted and never used), by the final
``end`` (the guess becomes the transcript when no voice came after it) or by a model
slower than its budget (the silence rule decides, as without a model). Keeping the
guess, its turn id and the model's pending question together is what makes sure a
retracted guess is never published and a late answer is never acted on. With a
model, the pass and the question start together; the words and the verdict come back
in either order, and services/stt/turnrule.py says what each combination does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from typing import Any

import numpy as np

from services.stt.endofturn import SmartTurn
from services.stt.turnrule import COMPLETE, HOLD, INCOMPLETE, SILENCE, UNSURE, WAIT, decide, verdict
from services.stt.vad import RATE, Event

#: Utterances waiting for Whisper beyond this are dropped (counted): never an unbounded backlog.
MAX_PENDING = 4


class Speculation:
    """The pause partial's lifecycle and smart-turn's questions; mixed into :class:`SttService`."""

    def _init_speculation(self) -> None:
        self._spec: asyncio.Future[Any] | None = None  # speculative transcription of the current pause
        self._spec_turn = ""  # the turn_id that guess would become
        self._early_sent = ""  # the last turn_id published as a pause partial
        self._spec_voice_ns = 0  # the guess's last voiced sample (capture time)
        self._spec_speech_ms = 0.0  # how much audio the guess heard
        self._verdict: str | None = None  # smart-turn's verdict on the guess's pause (None: not yet)
        self._words: tuple[Any, int, int] | None = None  # the guess's (result, stt start, stt end), once in
        self.turn: SmartTurn | None = None  # the end-of-turn model, when it is on disk
        self.eot_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="endofturn")
        self._eot_token = 0  # the pause the model is being asked about; 0 = none
        self._eot_timer: asyncio.TimerHandle | None = None
        self._eot_busy = False
        self._eot_ms: list[float] = []  # recent call times, for the heartbeat

    def _start_spec(self, ev: Event, now: int, v: str | None = SILENCE) -> None:
        """The speaker may be done: start Whisper now, while the silence window runs (and,
        ``v`` None, while smart-turn decides), so the words are ready when the turn ends.
        Without a model they go out as a pause partial, so the brain can start answering
        too. If they go on talking, the guess is retracted and never used."""
        self._verdict, self._words = v, None
        if ev.audio is not None and len(ev.audio) and self.pending < MAX_PENDING:
            loop = asyncio.get_running_loop()
            self._spec = loop.run_in_executor(self.pool, self._timed, ev.audio)
            self._spec.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._spec_turn = uuid.uuid4().hex
            self._utt["pause_ns"] = now
            self._spec_voice_ns = ev.t_ns
            self._spec_speech_ms = len(ev.audio) * 1000 / RATE
            loop.create_task(self._early(self._spec, self._spec_turn))
            self.counters["speculative"] += 1

    def _ask_model(self, ev: Event, now: int) -> None:
        """Ask smart-turn about this pause, off the event loop, and start Whisper on the same
        audio at once; a late answer is never waited for."""
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
        self._drop_spec()
        self._start_spec(ev, now, v=None)  # the words, while the model listens

    def _cancel_eot_timer(self) -> None:
        if self._eot_timer is not None:
            self._eot_timer.cancel()
            self._eot_timer = None

    def _eot_late(self, token: int, ev: Event, now: int) -> None:
        """The model did not answer within its budget: fall back to the silence rule for this pause."""
        if token != self._eot_token:
            return
        self._eot_token = 0
        self._cancel_eot_timer()
        self.counters["eot_late"] += 1
        if self._spec is None:  # Whisper was too far behind to take this pause: ask it now, as before
            self._start_spec(ev, now)
        self._verdict = SILENCE
        self._settle()

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
        s = self.settings
        v = verdict(prob, ms, s.TURN_COMPLETE_PROB, s.TURN_BUDGET_MS, max(s.TURN_SURE_PROB, s.TURN_COMPLETE_PROB))
        if v == SILENCE:  # over budget, the event loop was only slower to notice
            self._eot_late(token, ev, asked_ns)
            return
        self._cancel_eot_timer()
        self._eot_token = 0
        self._utt["eot_prob_pct"] = round(prob * 100)
        self._utt["eot_ms"] = round(ms)
        self.counters[{COMPLETE: "eot_complete", INCOMPLETE: "eot_incomplete", UNSURE: "eot_unsure"}[v]] += 1
        self._verdict = v
        self._settle()

    def _settle(self) -> None:
        """Act on what is known of the current pause: the verdict, the words, both (see turnrule.decide)."""
        if not self._spec_turn and self._verdict != INCOMPLETE:
            # no pass for this pause (Whisper's queue is full): the silence window ends the turn
            if self.segmenter is not None and self._verdict is not None:
                self.segmenter.pending = False
            return
        res = self._words[0] if self._words is not None else None
        step = decide(self._verdict, None if res is None else res.text, getattr(res, "language", ""),
                      self._spec_speech_ms)
        seg = self.segmenter
        if seg is not None:
            seg.pending = step.silence == WAIT
            seg.hold = step.silence == HOLD
        if step.mid_phrase:
            self.counters["eot_text_incomplete"] += 1
        if step.commit:
            self._utt["eot_commit_ns"] = time.monotonic_ns()
        if step.publish and self._words is not None:
            res, t0, t1 = self._words
            text = res.text.strip()
            if text and not self.echo.is_echo(text) and self.listen.peek(text, time.monotonic()):
                self._release_start(self._held)
                self._publish_early(self._spec_turn, text, res, {**self._utt, "last_voice_ns": self._spec_voice_ns},
                                    t0, t1)
        if step.commit and seg is not None:
            for e in seg.commit():  # at once, or when the silence reaches TURN_COMMIT_MIN_MS
                self._on_vad(e)

    def _drop_spec(self) -> None:
        if self._spec is not None and not self._spec.done():
            self._spec.cancel()  # still queued: never runs
        self._spec = None
        self._verdict, self._words = None, None
        self._utt.pop("pause_ns", None)
        self._retract(self._spec_turn)
        self._spec_turn = ""

    def _retract(self, turn_id: str) -> None:
        """Take back the pause partial of ``turn_id``, if one was published."""
        if turn_id and turn_id == self._early_sent:
            self.publish("transcript-retract", turn_id=turn_id)
            self.counters["early_retracted"] += 1
            self._early_sent = ""

    async def _early(self, job: asyncio.Future[Any], turn_id: str) -> None:
        """The pause's words are in: act on them, unless the speaker already went on."""
        try:
            got = await job
        except BaseException:  # cancelled or failed: the final path reports errors
            return
        if turn_id != self._spec_turn:
            return
        self._words = got
        self._settle()

    def _publish_early(self, turn_id: str, text: str, res: Any, timings: dict[str, int], t0: int, t1: int) -> None:
        self._early_sent = turn_id
        self.counters["early_published"] += 1
        said = self._said(text)
        if self._continues:
            said["continues"] = self._continues
        self.publish("transcript-partial", turn_id=turn_id, text=said.pop("text", text), pause=True, **said,
                     timings={**timings, "stt_start_ns": t0, "stt_end_ns": t1, "transcript_ns": time.monotonic_ns()},
                     model=self.engine.model if self.engine else "", language=res.language)
