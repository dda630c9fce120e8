"""playback: PCM chunks -> one persistent output stream; ``speaking`` / ``idle`` per sentence.

A ``command cancel`` (or speech-start in barge-in mode) cuts the sentence playing at
once (only what already sits in the device buffer, ~40 ms on PulseAudio, still
sounds) and drops queued audio of that epoch and older; frames of a cancelled epoch
that arrive later are discarded, never played.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import soxr

from services.playback.player import Player
from services.playback.reference import ReferenceTap
from services.playback.sinks import ClockSink, DeviceSink
from shared.audiodev import NoDevice
from shared.epochs import EVENTS as EPOCH_EVENTS
from shared.epochs import EpochWindow, cut_request
from shared.messages import Frame
from shared.service import Service

CHECK_S = 1.0
REOPEN_S = 5.0


class PlaybackService(Service):
    name = "playback"
    consumes = ("pcm",)
    produces = ("reference",)  # ECHO_MODE=aec: the far-end reference for capture's echo canceller
    listens = EPOCH_EVENTS  # cancel, barge-in and the brain's epoch

    def __init__(self) -> None:
        super().__init__()
        self.player = Player(self._notify)
        self.sink: DeviceSink | ClockSink | None = None
        self.epochs = EpochWindow(self.counters)  # see shared/epochs.py: no epoch that never started
        self._rs: dict[tuple[int, int], Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._first_pcm: dict[str, int] = {}  # turn_id -> ts of its first PCM frame
        self.aec = self.settings.ECHO_MODE == "aec"
        self._ref: ReferenceTap | None = None

    # -- output ------------------------------------------------------------------------
    def _open(self) -> None:
        s = self.settings
        if s.PLAYBACK_FILE:
            self.sink = ClockSink(self.player, s.PLAYBACK_FILE)
        else:
            try:
                self.sink = DeviceSink(self.player, s.PLAYBACK_DEVICE)
                self.problems.pop("device", None)
                if self.state == "no-device":
                    self.state = "ready"
            except Exception as exc:  # NoDevice, PortAudioError
                why = exc.say(self.settings.LANGUAGE) if isinstance(exc, NoDevice) else self.say("playback.open", err=exc)
                self._no_device(why)
                return
        self.info.update(output=self.sink.kind, device=self.sink.name, rate=self.sink.rate,
                         latency_ms=round(self.sink.latency_s * 1000, 1))
        self._attach_tap()

    def _attach_tap(self) -> None:
        if self.aec and self.sink is not None:
            self._ref = ReferenceTap(self.sink.rate)
            self.sink.tap = self._tap

    def _tap(self, block: np.ndarray, t_ns: int) -> None:
        # audio thread: hand the block to the event loop (sockets are not thread-safe)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._push_reference, block, t_ns)

    def _push_reference(self, block: np.ndarray, t_ns: int) -> None:
        ref = self._ref
        if ref is None or (self.sink is not None and ref.rate != self.sink.rate):
            return
        for pcm, t in ref.feed(block, t_ns):
            if self.bus.push("reference", "reference", rate=16000, t_ns=int(t), epoch=self.epochs.latest,
                             payload=pcm.tobytes()):
                self.counters["reference_out"] += 1
            else:  # capture absent or full: never block, count it apart from real drops
                self.bus.dropped["reference"] -= 1
                self.counters["reference_dropped"] += 1

    def _no_device(self, why: str) -> None:
        first = "device" not in self.problems
        self.problems["device"] = self.say("playback.no-device", why=why)
        self.state = "no-device"
        self.sink = ClockSink(self.player, "")  # keep consuming at real time so speaking/idle stay true
        self.info.update(output="none", device="", rate=self.sink.rate)
        self._attach_tap()
        if first:
            self.notice("warning", self.problems["device"], "no-device")

    async def setup(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.info["echo_mode"] = self.settings.ECHO_MODE
        self._open()

    def queue_depth(self) -> int:
        return len(self.player.segments)

    # -- events from the audio thread ------------------------------------------------
    def _notify(self, kind: str, data: dict[str, Any]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._publish_player_event, kind, data)

    def _publish_player_event(self, kind: str, d: dict[str, Any]) -> None:
        if kind == "speaking":
            f = self.bus.frame("speaking", turn_id=d["turn_id"], text=d["text"], epoch=d["epoch"],
                               t_tts_ns=self._first_pcm.get(d["turn_id"]))
        else:
            f = self.bus.frame("idle", turn_id=d["turn_id"], epoch=d["epoch"], text=d["text"], played=d["played"])
            self.counters["sentences_played" if d["played"] else "sentences_cut"] += 1
        f.ts = d["t_ns"]  # when the audio callback handed the first sample over / stopped feeding
        self.counters["frames_out"] += 1
        self.bus.publish_frame(f)

    # -- bus ---------------------------------------------------------------------------
    def cancel(self, epoch: int | None) -> None:
        """Cut playback up to ``epoch`` (None: the newest); an epoch that never started is ignored."""
        n = self.epochs.cut_to(epoch)
        if n is None:
            return
        dropped = self.player.cancel(n)
        for k in [k for k in self._rs if k[0] <= n]:
            del self._rs[k]
        if dropped:
            self.log.info("cut playback up to epoch %d (%d sentences)", n, dropped)

    async def on_event(self, f: Frame) -> None:
        self.epochs.sync(f)
        if self.player.cut_epoch > self.epochs.cut:  # pulled back to the brain's counter (see shared/epochs.py)
            self.player.cut_epoch = self.epochs.cut
        cut, epoch = cut_request(f, self.settings.ECHO_MODE)
        if cut:
            self.cancel(epoch)

    async def on_stream(self, stream: str, f: Frame) -> None:
        if f.type == "flush":
            self.cancel(f["epoch"] - 1)
            return
        if f.type != "pcm" or self.sink is None:
            return
        epoch = f["epoch"]
        if not self.epochs.start(epoch) or epoch <= self.player.cut_epoch:
            self.counters["stale_dropped"] += 1
            return
        index = f.get("index") or 0
        if f.turn_id and f.turn_id not in self._first_pcm:  # for the per-turn latency breakdown
            self._first_pcm[f.turn_id] = f.ts
            while len(self._first_pcm) > 64:
                self._first_pcm.pop(next(iter(self._first_pcm)))
        audio = np.frombuffer(f.payload, dtype=np.int16) if f.payload is not None and len(f.payload) else None
        audio = self._resample((epoch, index), f["rate"], audio, bool(f.get("first")), bool(f.get("last")))
        self.counters["samples_in"] += 0 if audio is None else len(audio)
        self.player.add(epoch, index, f.get("text") or "", f.turn_id, audio, bool(f.get("first")),
                        bool(f.get("last")))

    def _resample(self, key: tuple[int, int], rate: int, audio: np.ndarray | None, first: bool,
                  last: bool) -> np.ndarray | None:
        assert self.sink is not None
        if rate == self.sink.rate:
            return audio
        rs = self._rs.get(key)
        if rs is None or first:
            rs = self._rs[key] = soxr.ResampleStream(rate, self.sink.rate, 1, dtype="int16", quality="HQ")
        x = audio if audio is not None else np.zeros(0, dtype=np.int16)
        y = rs.resample_chunk(x, last=last)
        if last:
            self._rs.pop(key, None)
        return y

    async def main(self) -> None:
        last_try = time.monotonic()
        while not self.stopping.is_set():
            await asyncio.sleep(CHECK_S)
            sink = self.sink
            if isinstance(sink, DeviceSink) and not sink.alive:
                sink.close()
                self._no_device(self.say("playback.stopped"))
            elif self.state == "no-device" and not self.settings.PLAYBACK_FILE \
                    and time.monotonic() - last_try > REOPEN_S:
                last_try = time.monotonic()
                old = self.sink
                try:
                    import sounddevice as sd

                    from services.playback.sinks import find_output_device

                    find_output_device(self.settings.PLAYBACK_DEVICE, sd)
                except Exception:
                    continue
                if old is not None:
                    old.close()
                self._open()
            self.info["underruns"] = self.player.underruns
            clock = getattr(self.sink, "_clock", None)
            if clock is not None:
                self.counters["reference_clock_jumps"] = clock.jumps

    async def teardown(self) -> None:
        if self.sink is not None:
            self.sink.close()
