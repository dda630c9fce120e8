"""stt's pause partials and the end-of-turn model: what happens between "they paused" and "the turn is over".

Why one owner: a pause starts a speculative Whisper pass (its words go out as a
``transcript-partial`` so the brain can start answering), asks smart-turn whether the
turn is complete, and may end the utterance early. Each of those can be overtaken by
the speaker going on (``resume``: the guess is retracted and never used), by the final
``end`` (the guess becomes the transcript when no voice came after it) or by a model
slower than its budget (the silence rule decides, as without a model). Keeping the
guess, its turn id and the model's pending question together is what makes sure a
retracted guess is never published and a late answer is never acted on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from typing import Any

import numpy as np

from services.stt.endofturn import SmartTurn, dangling
from services.stt.vad import Event

#: Utterances waiting for Whisper beyond this are dropped (counted): never an unbounded backlog.
MAX_PENDING = 4


class Speculation:
    """The pause partial's lifecycle and smart-turn's questions; mixed into :class:`SttService`."""

    def _init_speculation(self) -> None:
        self._spec: asyncio.Future[Any] | None = None  # speculative transcription of the current pause
        self._spec_turn = ""  # the turn_id that guess would become
        self._early_sent = ""  # the last turn_id published as a pause partial
        self.turn: SmartTurn | None = None  # the end-of-turn model, when it is on disk
        self.eot_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="endofturn")
        self._eot_token = 0  # the pause the model is being asked about; 0 = none
        self._eot_timer: asyncio.TimerHandle | None = None
        self._eot_busy = False
        self._eot_ms: list[float] = []  # recent call times, for the heartbeat

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
