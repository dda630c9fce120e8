"""capture's pieces: ring buffer, resampler/framer, WAV file source."""

from __future__ import annotations

import time

import numpy as np
import pytest

from services.capture.resample import FRAME_BYTES, FRAME_SAMPLES, Framer, to_mono_float
from services.capture.ring import Ring
from services.capture.sources import FileSource, find_input_device
from shared.audiodev import NoDevice
from tests.support.audio import piper_speech, rms, silence, write_wav


def test_ring_keeps_newest_and_counts_drops():
    r = Ring(3)
    for i in range(10):
        r.push(i)
    assert len(r) == 3 and r.dropped == 7
    assert [r.pop() for _ in range(3)] == [7, 8, 9]
    r.push(1)
    assert r.dropped == 7


def test_framer_resamples_48k_stereo_to_16k_mono_frames():
    rate = 48000
    t = np.arange(rate) / rate  # 1 s of 440 Hz, louder on the left
    st = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 440 * t)], axis=1)
    fr = Framer(rate)
    frames = []
    for i in range(0, rate, 960):  # 20 ms device blocks
        frames += fr.feed(st[i:i + 960].astype(np.float32))
    frames += fr.feed(np.zeros((0, 2), np.float32), last=True)
    assert all(len(f) == FRAME_SAMPLES and f.dtype == np.int16 for f in frames)
    assert len(frames[0].tobytes()) == FRAME_BYTES == 640
    assert abs(len(frames) - 50) <= 1
    mid = np.concatenate(frames)[4000:12000].astype(np.float32) / 32768
    # mono mix of 0.5 and 0.25 amplitude -> 0.375 peak, rms 0.265
    assert 0.24 < rms(mid) < 0.29
    # the tone is still 440 Hz after resampling
    spec = np.abs(np.fft.rfft(mid))
    assert abs(np.argmax(spec) * 16000 / len(mid) - 440) < 5


def test_to_mono_float_int16_and_uint8():
    assert to_mono_float(np.array([[32767, -32768]], np.int16)).tolist() == pytest.approx([-0.0000153], abs=1e-3)
    assert to_mono_float(np.array([128, 255], np.uint8))[0] == 0.0


def test_file_source_wrong_rate_and_channels(tmp_path):
    speech, rate = piper_speech("Testing the file source.")  # 22050 Hz
    stereo = np.stack([speech, speech], axis=1).reshape(-1)
    path = write_wav(tmp_path / "s.wav", stereo, rate, channels=2)
    src = FileSource(str(path), fast=True, tail_s=0.5)
    frames = []
    while not src.finished:
        frames += src.read(max_frames=25)
    dur = len(speech) / rate + 0.5
    assert abs(len(frames) * 0.02 - dur) < 0.05
    assert all(len(f) == FRAME_SAMPLES for f, _ in frames)
    assert rms(np.concatenate([f for f, _ in frames])) > 500


def test_file_source_real_time_pacing(tmp_path):
    path = write_wav(tmp_path / "quiet.wav", silence(1.0), 16000)
    src = FileSource(str(path), fast=False, tail_s=0.0)
    time.sleep(0.2)
    got = src.read()
    assert 5 <= len(got) <= 20  # about 0.2 s worth, not the whole second
    stamps = [t for _, t in got]
    assert all(b - a == 20_000_000 for a, b in zip(stamps, stamps[1:], strict=False))
    assert rms(np.concatenate([f for f, _ in got])) == 0.0  # silent input stays silent


def test_file_source_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav at all")
    with pytest.raises(Exception):  # noqa: B017 - wave.Error or EOFError; the service reports it
        FileSource(str(bad))


class _FakeSD:
    class default:
        device = [-1, -1]

    def __init__(self, devices):
        self._d = devices

    def query_devices(self):
        return self._d


def test_device_lookup_by_name_index_and_missing():
    sd = _FakeSD([{"name": "speakers", "max_input_channels": 0}, {"name": "USB Mic", "max_input_channels": 1},
                  {"name": "pulse", "max_input_channels": 32}])
    assert find_input_device("usb", sd)[0] == 1
    assert find_input_device("2", sd)[0] == 2
    assert find_input_device("", sd)[0] == 1
    with pytest.raises(NoDevice, match="no input device by that name"):
        find_input_device("nope", sd)
    with pytest.raises(NoDevice, match="no input device found"):
        find_input_device("", _FakeSD([]))


def test_file_source_streams_a_30_minute_file(tmp_path):
    """30 minutes of 8 kHz 8-bit audio: read from disk piecewise, every frame accounted for."""
    import wave

    path = tmp_path / "long.wav"
    minute = np.full(8000 * 60, 128, dtype=np.uint8)  # 8-bit silence is 128
    minute[::50] = 140
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        for _ in range(30):
            w.writeframes(minute.tobytes())
    src = FileSource(str(path), fast=True, tail_s=0.0)
    n = 0
    peak = 0
    while not src.finished:
        got = src.read(max_frames=3000)
        n += len(got)
        if got:
            peak = max(peak, int(np.abs(np.concatenate([f for f, _ in got[:50]])).max()))
    assert abs(n - 30 * 60 * 50) <= 1
    assert 0 < peak < 3000  # offset-binary decoded around zero, not as a loud DC level


def test_file_source_truncated_file(tmp_path):
    path = write_wav(tmp_path / "t.wav", (np.ones(16000) * 1000).astype(np.int16), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header says 1 s, half of it is there
    src = FileSource(str(path), fast=True, tail_s=0.0)
    frames = []
    while not src.finished:
        frames += src.read(max_frames=10)
    assert 20 <= len(frames) <= 26


async def test_gate_decides_by_capture_time(bus_env):
    """A frame captured while Luna spoke is gated even when the sound server hands it over late."""
    from services.capture.gate import ECHO_TAIL_NS
    from services.capture.service import CaptureService
    from shared.messages import make

    svc = CaptureService()
    try:
        svc.peers.state["playback"] = "ready"
        svc.peers.seen["playback"] = time.monotonic()
        sp = make("speaking", text="hi", epoch=1)
        await svc.on_event(sp)
        assert svc.gated(sp.ts + 10) and not svc.gated(sp.ts - 200_000_000)
        idle = make("idle", epoch=1, text="hi", played=True)
        await svc.on_event(idle)
        # late frames from inside the sentence, and its echo tail, are still Luna's voice
        assert svc.gated(sp.ts + 1) and svc.gated(idle.ts + ECHO_TAIL_NS - 1)
        assert not svc.gated(idle.ts + ECHO_TAIL_NS + 1_000_000)
        svc.echo_mode = "off"
        assert not svc.gated(sp.ts + 10)
    finally:
        svc.bus.close()


def test_level_meter_reports_rms_per_period_in_dbfs_and_0_to_1():
    from services.capture.level import LevelMeter
    from services.ui.widgets.status import mic_level

    m = LevelMeter()
    assert m.take() is None  # nothing captured: no level (the UI shows no bar)
    t = np.arange(16000) / 16000
    tone = (0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)  # rms 0.354 -> -9.0 dBFS
    for i in range(0, len(tone), FRAME_SAMPLES):
        m.add(tone[i:i + FRAME_SAMPLES])
    level, db = m.take()
    assert -9.5 < db < -8.5 and abs(level - (db + 60) / 60) < 0.01
    assert mic_level({"level": level, "level_db": db}) == level
    m.add(silence(0.02))
    assert m.take() == (0.0, -60.0)  # a new period: silence floors at -60 dBFS
    m.add(np.full(320, 32767, dtype=np.int16))
    assert m.take()[0] == 1.0


def test_capture_heartbeat_carries_the_mic_level(tmp_path, monkeypatch):
    monkeypatch.setenv("LUNA_RUN_DIR", str(tmp_path))
    from services.capture.service import CaptureService

    svc = CaptureService()
    try:
        assert "level" not in svc.heartbeat_frame()["info"]
        svc.level.add(np.full(320, 3277, dtype=np.int16))  # 0.1 of full scale: -20 dBFS
        info = svc.heartbeat_frame()["info"]
        assert info["level_db"] == -20.0 and abs(info["level"] - 40 / 60) < 0.01
        assert "level" not in svc.heartbeat_frame()["info"]  # each heartbeat covers its own period
    finally:
        svc.bus.close()


def test_file_source_hold_stops_its_clock(tmp_path):
    """Capture holds a file while stt loads (issue 15): the held time is not due, nothing is skipped."""
    path = write_wav(tmp_path / "quiet.wav", silence(1.0), 16000)
    src = FileSource(str(path), fast=False, tail_s=0.0)
    t_end = time.monotonic() + 0.5
    while time.monotonic() < t_end:
        src.hold()
        time.sleep(0.01)
    time.sleep(0.1)
    got = src.read()
    assert len(got) <= 12, len(got)  # ~0.1 s (+ the first poll's slack) due after the hold, not 0.6 s
