"""capture: microphone (or WAV) -> 16 kHz mono int16, 20 ms frames on the ``audio`` stream.

Frames go into a bounded ring first. They leave it only while stt is ready and
accepting, so capture started before Whisper loads keeps the newest audio and
counts what it had to drop (seed section 11.2, problem 3). While Luna speaks the
frames are gated (half-duplex) unless ECHO_MODE=off; a mute is always available.

Jobs kept apart: the half-duplex gate is services/capture/gate.py, the echo canceller
stage (ECHO_MODE=aec, issue 7) is services/capture/cancelling.py; this module is the
service's life: open (and reopen) the source, collect, ring, send to stt.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from services.capture.cancelling import EchoCancelling
from services.capture.gate import HalfDuplexGate
from services.capture.level import LevelMeter
from services.capture.resample import FRAME_SAMPLES, OUT_RATE
from services.capture.ring import Ring
from services.capture.sources import DeviceSource, FileSource
from shared.audiodev import NoDevice
from shared.messages import Frame
from shared.service import Service

POLL_S = 0.01
REOPEN_S = 3.0
#: A file waits this long for stt's first heartbeat before it plays like a microphone (no stt anywhere).
HEAR_PEERS_S = 2.0


class CaptureService(HalfDuplexGate, EchoCancelling, Service):
    name = "capture"
    produces = ("audio",)
    consumes = ("reference",)  # far-end PCM from playback (ECHO_MODE=aec)
    listens = ("command", "speaking", "idle")  # mute; half-duplex gating and the echo window

    def __init__(self) -> None:
        super().__init__()
        s = self.settings
        self.ring = Ring(int(s.CAPTURE_RING_S * OUT_RATE / FRAME_SAMPLES))
        self.source: DeviceSource | FileSource | None = None
        self.muted = False
        self._init_gate()
        self._init_cancelling()
        self._last_reopen = 0.0
        self._raw_drops_seen = 0
        # A file is read on purpose (a scripted question): while stt is on its way (heard starting,
        # or supervisord runs the stack) it waits, whole, until stt has been ready once, instead of
        # playing into a ring nobody drains and losing its start. Alone, with no stt anywhere, it
        # plays like a microphone (an AEC test, `python -m services.capture`).
        self._consumer_seen = False
        self._consumer_heard = bool(os.environ.get("SUPERVISOR_ENABLED"))  # supervisord starts stt too
        self._born = time.monotonic()
        self.level = LevelMeter()  # mic level for the UI, over each heartbeat period

    # -- source ------------------------------------------------------------------------
    def _open(self) -> None:
        s = self.settings
        try:
            if s.CAPTURE_FILE:
                self.source = FileSource(s.CAPTURE_FILE, fast=s.CAPTURE_FAST == "1")
            else:
                self.source = DeviceSource(s.CAPTURE_DEVICE)
        except NoDevice as exc:
            self._no_device(exc.say(s.LANGUAGE))
            return
        except (OSError, ValueError, EOFError) as exc:
            self._no_device(str(exc))
            return
        except Exception as exc:  # PortAudioError and friends
            self._no_device(self.say("capture.open", err=exc))
            return
        self.problems.pop("device", None)
        self.state = "ready" if self.state != "starting" else "starting"
        self.info.update(source=self.source.kind, device=self.source.name, rate=self.source.rate)
        self.log.info("capturing from %s at %d Hz", self.source.name, self.source.rate)

    def _no_device(self, why: str) -> None:
        first = "device" not in self.problems
        self.source = None
        self.state = "no-device"
        self.problems["device"] = self.say("capture.no-device", why=why)
        self.info.update(source="none", device="")
        if first:
            self.notice("warning", self.problems["device"], "no-device")

    async def setup(self) -> None:
        self.info.update(echo_mode=self.echo_mode, echo_mode_effective=self.effective, muted=False, gated=False)
        if self.canceller is not None:
            self.info["aec"] = self.canceller.name
        self._open()

    # -- events ------------------------------------------------------------------------
    async def on_event(self, f: Frame) -> None:
        if f.type == "command":
            name = f["name"]
            if name in ("mute", "unmute", "mute-toggle"):
                self.muted = (not self.muted) if name == "mute-toggle" else name == "mute"
                self.info["muted"] = self.muted
                self.publish("status", service=self.name, data={"muted": self.muted})
                self.log.info("microphone %s", "muted" if self.muted else "unmuted")
        elif f.type in ("speaking", "idle"):
            self._luna_voice(f)

    async def on_stream(self, stream: str, f: Frame) -> None:
        if f.type == "reference" and f.payload is not None and f["rate"] == OUT_RATE:
            self._on_reference(f)

    # -- loops -------------------------------------------------------------------------
    def queue_depth(self) -> int:
        return len(self.ring)

    def _collect(self) -> None:
        src = self.source
        if src is None:
            return
        if not src.alive:
            src.close()
            self._no_device(self.say("capture.stopped"))
            return
        if isinstance(src, FileSource) and self._file_held():
            src.hold()  # nothing of the file is read (or lost) before stt can take it
            return
        if isinstance(src, FileSource) and src.fast:
            room = self.ring.maxlen - len(self.ring)
            frames = src.read(max_frames=room) if room > 0 else []
        else:
            frames = src.read()
        self.counters["captured"] += len(frames)  # the source is alive, whatever happens to the frames
        for pcm, _t in frames:
            self.level.add(pcm)  # what the microphone hears, before echo cancellation
        if self.canceller is not None:
            frames = self._cancel(frames)
        self.info["gated"] = self.speaking and self.effective == "half-duplex"
        for pcm, t in frames:
            if self.muted:
                self.counters["muted"] += 1
            elif self.gated(t):
                self.counters["gated"] += 1
            else:
                self.ring.push((pcm, t))
        raw = src.raw_dropped
        if raw > self._raw_drops_seen:
            self.counters["drops"] += raw - self._raw_drops_seen
            self._raw_drops_seen = raw
        if src.finished and "file" not in self.info.get("ended", ""):
            self.info["ended"] = "file"

    def _send(self) -> None:
        while len(self.ring):
            pcm, t = self.ring.peek()
            ok = self.bus.push("audio", "audio", rate=OUT_RATE, channels=1, t_capture_ns=int(t),
                               payload=pcm.tobytes())
            if not ok:  # stt absent or full: the frame stays in the ring (newest kept)
                self.bus.dropped["audio"] -= 1
                return
            self.ring.pop()
            self.counters["audio_out"] += 1

    async def main(self) -> None:
        sender = asyncio.create_task(self._sender())
        try:
            while not self.stopping.is_set():
                if self.source is None and not self.settings.CAPTURE_FILE \
                        and time.monotonic() - self._last_reopen > REOPEN_S:
                    self._last_reopen = time.monotonic()
                    self._open()
                self._collect()
                self._account()
                await asyncio.sleep(POLL_S)
        finally:
            sender.cancel()

    def _account(self) -> None:
        self.counters["ring_drops"] = self.ring.dropped
        self.counters["drops"] = self.ring.dropped + self._raw_drops_seen

    def _file_held(self) -> bool:
        """A file source waits for stt's first ready while stt is expected (see __init__)."""
        if self._consumer_seen:
            return False
        if not self._consumer_heard and self.peers.status(self.consumer_of("audio")) != "down":
            self._consumer_heard = True
        # the first heartbeat period: stt may be there, only not heard yet (its beat is on its way)
        return self._consumer_heard or time.monotonic() - self._born < HEAR_PEERS_S

    async def _sender(self) -> None:
        stt = self.consumer_of("audio")
        while True:
            if not self.peers.is_ready(stt):
                # Not streaming: say so (the UI shows it, and a watchdog must not take the
                # frames that stay in the ring for a frozen microphone). A file held for stt
                # loses nothing, so it is no fault: still ``ready``, waiting_for says why.
                self.info["waiting_for"] = stt
                while True:
                    if self.state in ("ready", "degraded"):
                        held = isinstance(self.source, FileSource) and self._file_held()
                        self.state = "ready" if held else "degraded"
                    if await self.wait_ready(stt, timeout=0.5) or self.stopping.is_set():
                        break
                self._consumer_seen = True
                self.info.pop("waiting_for", None)
                if self.state == "degraded":
                    self.state = "ready"
            self._send()
            await asyncio.sleep(POLL_S)

    async def teardown(self) -> None:
        self._write_dump()
        if self.source is not None:
            self.source.close()

    def heartbeat_frame(self) -> dict[str, Any]:
        hb = super().heartbeat_frame()
        hb["counters"]["ring"] = len(self.ring)
        lvl = self.level.take()
        if lvl is not None:  # the status bar's meter (0..1; level_db in dBFS)
            hb["info"]["level"], hb["info"]["level_db"] = lvl
        return hb
