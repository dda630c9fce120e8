"""stt's utterance state machine: the VAD's start / pause / end become speech-start, speech-end and a transcript.

Why here and not in the service: an utterance has a life of its own (its speech-start
may be held until its words are accepted, its audio waits in a bounded Whisper queue,
its final words pass the echo filter and the listen gate before they may leave stt),
and that life is the same whatever started the process or fed it audio.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import numpy as np

from services.stt.listen import strip_name
from services.stt.speculation import MAX_PENDING
from services.stt.vad import Event


class Utterances:
    """The current utterance from the VAD's start to its published transcript; mixed into :class:`SttService`."""

    def _init_utterance(self) -> None:
        self.pending = 0  # utterances queued for (or in) Whisper
        self._utt: dict[str, Any] = {}  # the current utterance's timings
        self._held: dict[str, Any] | None = None  # this utterance's speech-start, held until its words are accepted
        self._last_turn = ""  # the turn_id of the last utterance that ended
        self._continues = ""  # the turn the current utterance goes on with (the VAD joined their audio)

    def _release_start(self, held: dict[str, Any] | None) -> None:
        """The utterance's words were accepted: its speech-start (barge-in) goes out now."""
        if held and not held.get("sent"):
            held["sent"] = True
            self.publish("speech-start", epoch=held["epoch"], t_audio_ns=held["t_audio_ns"])

    def _reset_utterance(self) -> None:
        """Forget a half-heard utterance (the listen mode changed under it)."""
        seg = self.segmenter
        if seg is not None and seg.in_speech:
            seg.in_speech, seg._speech, seg._announced, seg._paused, seg._eot_asked = False, [], False, False, False
            seg.hold = seg.pending = False
        if seg is not None:
            seg.forget_last()
        self._drop_spec()
        self._eot_token = 0
        self._held = None

    def _on_vad(self, ev: Event) -> None:
        now = time.monotonic_ns()
        if ev.kind == "start":
            self._utt = {"speech_start_ns": ev.t_ns, "vad_start_ns": now}
            self._continues = self._last_turn if ev.continues else ""
            if self._continues:
                self.counters["continued"] += 1
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
                return  # the "eot" event starts Whisper and the end-of-turn model together (speculation.py)
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
        continues, self._continues = (self._continues if ev.continues else ""), ""
        self._last_turn = turn_id
        dur = 0.0 if ev.audio is None else len(ev.audio) / 16000
        self.publish("speech-end", t_audio_ns=ev.t_ns, duration_s=round(dur, 3))
        if ev.audio is None or len(ev.audio) == 0 or self.pending >= MAX_PENDING:
            self._retract(turn_id)  # the brain may have started on its pause partial: call it off
            self._not_continued(turn_id)
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
        asyncio.get_running_loop().create_task(self._transcribe(spec, timings, turn_id, held, continues))

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

    def _not_continued(self, turn_id: str) -> None:
        """``turn_id``'s words were dropped: voice after it must not be joined to its audio."""
        if turn_id == self._last_turn and self.segmenter is not None:
            self.segmenter.forget_last()

    async def _transcribe(self, job: asyncio.Future[Any], timings: dict[str, int], turn_id: str,
                          held: dict[str, Any] | None = None, continues: str = "") -> None:
        assert self.engine is not None
        published = False
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
            if continues:
                said["continues"] = continues
            self.publish("transcript", turn_id=turn_id, text=said.pop("text", text), timings=timings,
                         model=self.engine.model, language=res.language, **said)
            published = True
        finally:
            self.pending -= 1
            if not published:
                self._not_continued(turn_id)
