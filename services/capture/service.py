"""capture: microphone (or WAV) -> 16 kHz mono int16, 20 ms frames on the ``audio`` stream.

Frames go into a bounded ring first. They leave it only while stt is ready and
accepting, so capture started before Whisper loads keeps the newest audio and
counts what it had to drop (seed section 11.2, problem 3). While Luna speaks the
frames are gated (half-duplex) unless ECHO_MODE=off; a mute is always available.

ECHO_MODE=aec (issue 7): playback sends what it hands to the speaker on the
``reference`` stream, stamped with device time; every 10 ms microphone frame goes
through the echo canceller with the reference of the same instant before anything
else (ring, stt) sees it, and the half-duplex gate is off, so the user can talk over
Luna (stt's VAD on the cancelled signal says speech-start, playback stops). While
Luna speaks, a frame waits for its reference; if none comes for REF_MISSING_NS
(playback down, reference lost) capture falls back to half-duplex with a notice
(``info["echo_mode_effective"]``): it never hears itself. After a second of silent reference
(between replies) the canceller restarts, so each reply meets a fresh AEC3 rather than one whose
echo path model went stale while nothing played (RESET_GAP_NS).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from typing import Any

import numpy as np

from services.capture.aec import AEC_FRAME, Canceller, ReferenceBuffer, make_canceller
from services.capture.level import LevelMeter
from services.capture.resample import FRAME_SAMPLES, OUT_RATE
from services.capture.ring import Ring
from services.capture.sources import DeviceSource, FileSource
from shared.audiodev import NoDevice
from shared.messages import Frame
from shared.sampleclock import SampleClock
from shared.service import Service

POLL_S = 0.01
#: After playback says idle, keep the gate shut this long (room echo, output buffer).
ECHO_TAIL_NS = 300_000_000
#: Frames stamped this long before playback's first sample are gated too (clock estimates).
ECHO_LEAD_NS = 50_000_000
REOPEN_S = 3.0
#: A file waits this long for stt's first heartbeat before it plays like a microphone (no stt anywhere).
HEAR_PEERS_S = 2.0
#: aec: a frame waits at most this long (after its last sample) for reference still on its way.
HOLD_NS = 40_000_000
#: aec: while Luna speaks, no reference for this long means it is missing: fall back to half-duplex.
REF_MISSING_NS = 300_000_000
AEC_FRAME_NS = AEC_FRAME * 1_000_000_000 // OUT_RATE
FRAME_NS = FRAME_SAMPLES * 1_000_000_000 // OUT_RATE
#: aec: a mic frame is paired with the reference this much later than its own stamp. AEC3 finds
#: the echo delay itself (within a few hundred ms) as long as the reference leads the echo, which
#: device-time pairing gives; a positive value adds lead for devices whose stamps run late.
REF_LEAD_NS = 0
#: aec cold start: until the canceller has shown WARMUP_DB of echo removal over WARMUP_S of
#: Luna's voice, frames under her voice are gated as in half-duplex (a cold AEC3 can leak the
#: first few hundred ms of echo, enough for the VAD to cut Luna off by her own voice).
WARMUP_DB = 20.0
WARMUP_S = 1.5
REF_ACTIVE_RMS = 100.0
#: aec: after this much silent reference (no sentence playing) the canceller restarts, in the
#: silence, so the next reply meets a fresh AEC3. A converged AEC3 trusts its echo path model:
#: if the path moved while nothing played (the two clocks drift; 0.5-2 ms is enough) it leaks
#: Luna's first words at 10-26 dB ERLE (measured, livekit), where a fresh one holds >= 30 dB
#: from the first frame. Pauses between sentences of one reply are shorter.
RESET_GAP_NS = 1_000_000_000


class CaptureService(Service):
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
        self.speaking = False
        self.speak_since = 0  # ts of playback's first sample of the current sentence
        # Luna's recent sentences as (first sample, last sample) monotonic ns. The gate is
        # decided per frame from its capture time, so audio that the sound server hands
        # over late (PulseAudio can lag 0.5 s) is still recognised as Luna's own voice.
        self.spoken: deque[tuple[int, int]] = deque(maxlen=16)
        self.echo_mode = s.ECHO_MODE  # what the user asked for
        self.effective = self.echo_mode  # what capture does right now
        self.canceller: Canceller | None = None
        self.reference = ReferenceBuffer()
        self._hold: deque[tuple[np.ndarray, int]] = deque()  # aec: frames waiting for their reference
        self._silent_ref_ns = 0  # aec: how long the reference paired with the microphone has been silent
        self.aec_warm = False
        self._warm = [0.0, 0.0, 0]  # decaying mic energy, output energy, frames, over Luna's voice
        self._mic_clock = SampleClock(OUT_RATE)  # aec: the microphone's steady sample clock
        self._dump: list | None = [] if os.environ.get("LUNA_AEC_DUMP") else None  # debugging aid
        self._ref_log: list[tuple[int, int, int]] = []  # dump: (reference stamp, arrival, samples)
        if self.echo_mode == "aec":
            try:
                self.canceller = make_canceller()
            except Exception as exc:  # ImportError: the wheel is missing on this platform
                self.problems["ECHO_MODE"] = self.say("capture.aec-missing", err=exc)
                self.effective = "half-duplex"
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
        elif f.type == "speaking":
            if not self.speaking:
                self.speaking = True
                self.speak_since = f.ts
        elif f.type == "idle":
            if self.speaking:
                self.spoken.append((self.speak_since, f.ts))
            self.speaking = False

    async def on_stream(self, stream: str, f: Frame) -> None:
        if f.type == "reference" and f.payload is not None and f["rate"] == OUT_RATE:
            pcm = np.frombuffer(f.payload, dtype=np.int16)
            now = time.monotonic_ns()
            self.reference.add(f["t_ns"], pcm, now)
            if self._dump is not None:
                self._ref_log.append((f["t_ns"], now, len(pcm)))
            self.counters["reference_in"] += 1
            self.counters["reference_ms"] += len(pcm) * 1000 // OUT_RATE
            if self.canceller is not None and self.effective != "aec":
                self._set_effective("aec", "info", self.say("capture.aec-back"))

    def _set_effective(self, mode: str, level: str, text: str) -> None:
        self.effective = mode
        self.info["echo_mode_effective"] = mode
        if mode == "aec":
            self.problems.pop("ECHO_MODE", None)
        else:
            self.problems["ECHO_MODE"] = text
        self.notice(level, text, "echo-mode")

    def gated(self, t_ns: int) -> bool:
        """Half-duplex: drop a frame captured while Luna's voice may have reached the microphone."""
        if self.echo_mode == "off" or self.effective in ("off", "aec"):
            return False
        if self.speaking and self.peers.status("playback") == "down":
            self.speaking = False  # playback died mid-sentence: never stay deaf forever
            self.spoken.append((self.speak_since, time.monotonic_ns()))
        if self.speaking and t_ns >= self.speak_since - ECHO_LEAD_NS:
            return True
        return any(a - ECHO_LEAD_NS <= t_ns <= b + ECHO_TAIL_NS for a, b in self.spoken)

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

    def _cancel(self, frames: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, int]]:
        """aec: frames whose reference is here (or overdue) come out cancelled, in order."""
        assert self.canceller is not None
        self._hold.extend(frames)
        now = time.monotonic_ns()
        ref = self.reference
        if self.effective == "aec" and self.speaking and now - self.speak_since > REF_MISSING_NS and (
                now - ref.last_rx_ns > REF_MISSING_NS or self.peers.status("playback") == "down"):
            self._set_effective("half-duplex", "warning", self.say("capture.aec-noref"))
        out: list[tuple[np.ndarray, int]] = []
        while self._hold:
            pcm, t = self._hold[0]
            t_end = t + FRAME_NS + REF_LEAD_NS
            covered = ref.covered_until >= t_end
            if not covered and self.effective == "aec":
                wait = REF_MISSING_NS if self.speaking else HOLD_NS
                if now - t_end < wait:
                    break  # its reference may still be on the way
            self._hold.popleft()
            mc = self._mic_clock.stamp(t, len(pcm))
            if self.effective == "aec" or covered:
                clean = np.empty_like(pcm)
                refs = []
                for i in range(0, len(pcm), AEC_FRAME):
                    r = ref.get(int(mc) + REF_LEAD_NS + (i // AEC_FRAME) * AEC_FRAME_NS, AEC_FRAME)
                    self._gap(r)
                    clean[i:i + AEC_FRAME] = self.canceller.process(pcm[i:i + AEC_FRAME], r)
                    refs.append(r)
                self.counters["aec_frames"] += 1
                if not self.aec_warm and self._warming(pcm, clean, refs):
                    self.counters["aec_warmup_gated"] += 1
                    if self._dump is not None:
                        self._dump.append((t, pcm, np.concatenate(refs), clean, mc, now))
                    continue
                if self._dump is not None:
                    self._dump.append((t, pcm, np.concatenate(refs), clean, mc, now))
                pcm = clean
            out.append((pcm, t))
        self.counters["aec_ref_zeros"] = ref.zeros_served
        self.counters["aec_clock_jumps"] = self._mic_clock.jumps
        return out

    def _gap(self, r: np.ndarray) -> None:
        """Restart the canceller once the reference has been silent for RESET_GAP_NS (see there)."""
        assert self.canceller is not None
        if r.any():
            self._silent_ref_ns = 0
            return
        was = self._silent_ref_ns
        self._silent_ref_ns += AEC_FRAME_NS
        if was < RESET_GAP_NS <= self._silent_ref_ns:
            self.canceller.reset()
            self.counters["aec_resets"] += 1

    def _warming(self, mic: np.ndarray, out: np.ndarray, refs: list[np.ndarray]) -> bool:
        """Cold start: is this frame under Luna's voice while the canceller has not proven itself yet?"""
        r = np.concatenate(refs).astype(np.float64)
        if np.sqrt(np.mean(r * r)) < REF_ACTIVE_RMS:
            return False
        w = self._warm
        w[0] = 0.95 * w[0] + float(np.mean(mic.astype(np.float64) ** 2))
        w[1] = 0.95 * w[1] + float(np.mean(out.astype(np.float64) ** 2))
        w[2] += 1
        if w[2] * FRAME_NS >= WARMUP_S * 1e9 and w[0] > 1e-9 \
                and 10 * np.log10(w[0] / max(w[1], 1e-9)) >= WARMUP_DB:
            self.aec_warm = True
            self.info["aec_warm"] = True
            return False
        return True

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
        if self._dump:
            np.savez(os.environ["LUNA_AEC_DUMP"], t=np.array([d[0] for d in self._dump]),
                     mic=np.concatenate([d[1] for d in self._dump]), ref=np.concatenate([d[2] for d in self._dump]),
                     out=np.concatenate([d[3] for d in self._dump]), mc=np.array([d[4] for d in self._dump]),
                     done=np.array([d[5] for d in self._dump]), ref_log=np.array(self._ref_log, dtype=np.int64).reshape(-1, 3),
                     speak=np.array([(a, b) for a, b in self.spoken], dtype=np.int64).reshape(-1, 2))
        if self.source is not None:
            self.source.close()

    def heartbeat_frame(self) -> dict[str, Any]:
        hb = super().heartbeat_frame()
        hb["counters"]["ring"] = len(self.ring)
        lvl = self.level.take()
        if lvl is not None:  # the status bar's meter (0..1; level_db in dBFS)
            hb["info"]["level"], hb["info"]["level_db"] = lvl
        return hb
