"""tts: sentences -> speech, one synthesis per sentence in a worker thread, PCM pushed in ~150 ms chunks.

Each sentence arrives as the voice should say it (the brain's services/brain/speech
cleans and cuts the reply): tts synthesizes it as it is.

Synthesis never waits for playback (seed section 11.2, problem 1): the worker only
produces audio and hands it to the event loop, which pushes it to playback.
Cancelling (a ``command cancel``, a ``flush``, or speech-start in barge-in mode)
drops every pending sentence whose epoch is not newer than the cancelled one and
stops the sentence being synthesized between chunks. A ``held`` sentence (a preemptive
reply the user may not be done asking for) is synthesized at once but its audio is
parked until the brain's ``release`` (services/tts/held.py).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

from services.tts.engines import BilingualVoice, ChatterboxEngine, ElevenLabsEngine, chatterbox_usable, load_offline
from services.tts.held import HeldSpeech
from services.tts.pieces import clauses
from shared.epochs import EVENTS as EPOCH_EVENTS
from shared.epochs import EpochWindow
from shared.messages import Frame
from shared.service import Service

CHUNK_S = 0.15
#: How long a chunk may wait for playback to take it before it is dropped (counted).
PUSH_PATIENCE_S = 2.0


class TtsService(Service):
    name = "tts"
    consumes = ("sentence",)
    produces = ("pcm",)
    listens = (*EPOCH_EVENTS, "speaking", "idle")

    def __init__(self) -> None:
        super().__init__()
        self.engine: Any = None
        self.fallback: Any = None
        self.jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.epochs = EpochWindow(self.counters)  # see shared/epochs.py: no epoch that never started
        self.held = HeldSpeech(self.counters)  # audio of a preemptive reply, until its release
        self.speaking = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: threading.Thread | None = None
        self._warned_playback = False

    # -- setup -------------------------------------------------------------------------
    async def setup(self) -> None:
        self._loop = asyncio.get_running_loop()
        s = self.settings
        piper, why = await asyncio.to_thread(load_offline, s.TTS_VOICE, s.LANGUAGE)
        self.fallback = piper
        self.engine = piper
        if s.TTS_PROVIDER == "elevenlabs":
            try:
                self.engine = ElevenLabsEngine(s.ELEVENLABS_API_KEY, s.ELEVENLABS_VOICE_ID, s.ELEVENLABS_MODEL,
                                               s.ELEVENLABS_BASE_URL, s.ELEVENLABS_OUTPUT_FORMAT)
                why = None
            except Exception as exc:
                self.notice("warning", self.say("tts.eleven-down", err=exc), "tts-fallback")
        elif s.TTS_PROVIDER == "chatterbox" or s.TTS_LOCAL_ENGINE == "chatterbox":
            ok, reason = chatterbox_usable(s.LANGUAGE)
            if ok:
                try:
                    self.engine = await asyncio.to_thread(ChatterboxEngine)
                    why = None
                except Exception as exc:
                    reason = self.say("tts.chatterbox-load", err=f"{type(exc).__name__}: {str(exc)[:120]}")
                    ok = False
            if not ok:
                self.notice("warning", self.say("tts.to-piper", why=reason), "tts-fallback")
        if why and self.engine is piper:
            self.info["fallback"] = (self.say("tts.fallback-bilingual", why=why, model=piper.english.model)
                                     if isinstance(piper, BilingualVoice) else
                                     self.say("tts.fallback-english", why=why, model=piper.model))
            self.notice("warning", self.info["fallback"], "tts-fallback")
        self.info.update(model=self.engine.model, provider=s.TTS_PROVIDER)
        if self.engine is piper:  # the first ONNX run is several times slower: pay it before ready
            t0 = time.monotonic()
            english = piper.english if isinstance(piper, BilingualVoice) else piper  # Kokoro warms up as it loads
            await asyncio.to_thread(lambda: list(english.synthesize("Ready.", lambda: False)))
            if isinstance(piper, BilingualVoice):
                # Ready means every voice Luna may need now speaks: a Portuguese reply that
                # arrived while Kokoro was still loading would otherwise wait in silence.
                await asyncio.to_thread(piper.wait_ready, 120)
            self.info["warmup_ms"] = round((time.monotonic() - t0) * 1000)
        self._worker = threading.Thread(target=self._work, name="tts-worker", daemon=True)
        self._worker.start()

    def queue_depth(self) -> int:
        return self.jobs.qsize() + self.out.qsize()

    # -- cancel ------------------------------------------------------------------------
    def cancel(self, epoch: int | None) -> bool:
        """Cut speech up to ``epoch`` (None: the newest); False when that epoch never started (ignored)."""
        before = self.epochs.cut
        n = self.epochs.cut_to(epoch)
        if n is not None and n > before:
            self.log.info("cancelled speech up to epoch %d", n)
            self._nothing_queued()
        return n is not None

    def _nothing_queued(self) -> None:
        """Tell a voice that paces its pieces by the audio it has handed out (Kokoro) that none of it
        is still to play: speech was cut. Without it, the reply after a barge-in would get the long first
        piece of a reply with seconds of audio queued. (Not on ``idle``: playback says it at the end
        of every sentence, with the next one already queued.)"""
        for engine in {id(e): e for e in (self.engine, self.fallback) if e is not None}.values():
            if hasattr(engine, "nothing_queued"):
                engine.nothing_queued()

    def stale(self, epoch: int) -> bool:
        return self.epochs.stale(epoch)

    async def on_event(self, f: Frame) -> None:
        cut_before = self.epochs.cut
        if self.epochs.observe(f, self.settings.ECHO_MODE) is not None and self.epochs.cut > cut_before:
            self.log.info("cancelled speech up to epoch %d", self.epochs.cut)
            self.held.drop_through(self.epochs.cut)
            self._nothing_queued()
        elif f.type == "speaking":
            self.speaking = True
        elif f.type == "idle":
            self.speaking = False

    async def on_stream(self, stream: str, f: Frame) -> None:
        if f.type == "flush":
            if self.cancel(f["epoch"] - 1):
                self.held.drop_through(f["epoch"] - 1)
                self.out.put_nowait({"flush": f["epoch"], "turn_id": f.turn_id})
            return
        if f.type == "release":
            if self.held.holds(f["epoch"]):  # in order behind the chunks already made
                self.out.put_nowait({"release": f["epoch"]})
            return
        if f.type != "sentence":
            return
        if not self.epochs.start(f["epoch"]) or self.stale(f["epoch"]):
            self.counters["cancelled"] += 1
            return
        if f.get("held"):
            self.held.hold(f["epoch"])
            self.counters["held"] += 1
        self.jobs.put({"text": f["text"], "epoch": f["epoch"], "index": f.get("index") or 0,
                       "turn_id": f.turn_id, "t_in_ns": f.ts})

    # -- synthesis (worker thread) -----------------------------------------------------
    def _emit(self, item: dict[str, Any]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.out.put_nowait, item)

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if self.stale(job["epoch"]):
                self.counters["cancelled"] += 1
                continue
            text = job["text"]  # already what the voice says: the brain cleaned it (services/brain/speech)
            if not text.strip():
                continue
            try:
                self._synthesize(job, text, self.engine)
            except Exception as exc:
                self.counters["tts_errors"] += 1
                fallback = self.fallback if self.engine is not self.fallback else None
                msg = f"speech synthesis failed: {type(exc).__name__}: {str(exc)[:160]}"
                if fallback is not None:
                    msg += "; this sentence is spoken with Piper"
                self._loop.call_soon_threadsafe(self.notice, "error", msg, "tts-error")  # type: ignore[union-attr]
                if fallback is not None:
                    try:
                        self._synthesize(job, text, fallback)
                    except Exception:
                        self.log.exception("Piper fallback failed too")

    def _synthesize(self, job: dict[str, Any], text: str, engine: Any) -> None:
        epoch = job["epoch"]
        t0 = time.monotonic_ns()
        first = True
        rate = 0

        def cancelled() -> bool:
            return self.stale(epoch)

        pieces = clauses(text) if engine is self.fallback else [text]  # Piper: first clause first
        for rate, audio in (x for piece in pieces for x in engine.synthesize(piece, cancelled)):
            step = max(1, int(rate * CHUNK_S))
            for i in range(0, len(audio), step):
                if cancelled():
                    self.counters["cancelled"] += 1
                    return
                item = {"rate": rate, "epoch": epoch, "text": text, "index": job["index"], "first": first,
                        "last": False, "turn_id": job["turn_id"], "payload": audio[i:i + step].tobytes()}
                if first:
                    item["t_first_ns"] = time.monotonic_ns()
                    self.info["last_first_chunk_ms"] = round((item["t_first_ns"] - t0) / 1e6, 1)
                first = False
                self._emit(item)
        if not cancelled() and not first:
            self._emit({"rate": rate, "epoch": epoch, "text": text, "index": job["index"], "first": False,
                        "last": True, "turn_id": job["turn_id"], "payload": b""})
            self.counters["sentences"] += 1

    # -- pushing to playback (event loop) ----------------------------------------------
    async def main(self) -> None:
        while not self.stopping.is_set():
            item = await self.out.get()
            if "flush" in item:
                self.bus.push("pcm", "flush", epoch=item["flush"], turn_id=item["turn_id"])
            elif "release" in item:
                for chunk in self.held.release(item["release"]):
                    await self._push(chunk)
            elif self.held.holds(item["epoch"]):
                self.held.park(item)
            else:
                await self._push(item)

    async def _push(self, item: dict[str, Any]) -> None:
        """One chunk to playback, waiting up to PUSH_PATIENCE_S for it to take it."""
        if self.stale(item["epoch"]):
            return
        consumer = self.consumer_of("pcm")
        deadline = time.monotonic() + PUSH_PATIENCE_S
        while True:
            if self.peers.is_ready(consumer):
                data = {k: item[k] for k in ("rate", "epoch", "text", "index", "first", "last")}
                if self.bus.push("pcm", "pcm", turn_id=item["turn_id"], payload=item["payload"], **data):
                    return
                self.bus.dropped["pcm"] -= 1
            if time.monotonic() > deadline or self.stale(item["epoch"]):
                self.counters["drops"] += 1
                if not self._warned_playback:
                    self._warned_playback = True
                    self.notice("warning", self.say("tts.playback-down"), "playback-down")
                return
            await asyncio.sleep(0.01)

    async def teardown(self) -> None:
        self.jobs.put(None)
