"""Echo cancellation inside capture and playback (issue 7), without processes or devices:
playback's reference tap, capture's cancel-before-anything path, and the fallback to half-duplex."""

from __future__ import annotations

import time

import numpy as np
import pytest

from services.playback.reference import ReferenceTap
from tests.support.aecroom import RATE, echo_of, erle_db, luna_reply, to_int16


def test_reference_tap_resamples_to_16k_in_10ms_units_with_continuous_stamps():
    tap = ReferenceTap(22050)
    block = 441  # 20 ms at 22050
    t0 = 5_000_000_000
    got = []
    for i in range(100):  # 2 s
        got += tap.feed(np.full(block, 1000, np.int16), t0 + i * block * 1_000_000_000 // 22050)
    n = sum(len(p) for p, _ in got)
    assert all(len(p) % 160 == 0 for p, _ in got)
    assert abs(n - 2 * RATE) <= 480  # the resampler's own delay
    for (p, t), (_, t2) in zip(got, got[1:], strict=False):
        assert t2 - t == len(p) * 1_000_000_000 // RATE
    assert got[0][1] == t0
    # a gap starts a new run stamped at the new block
    late = t0 + 10 * 1_000_000_000
    out = []
    for i in range(5):
        out += tap.feed(np.full(block, 1000, np.int16), late + i * 20_000_000)
    assert out and out[0][1] == late


def _frames(a: np.ndarray, t0: int):
    step = 320 * 1_000_000_000 // RATE
    return [(a[i:i + 320].copy(), t0 + (i // 320) * step) for i in range(0, len(a) // 320 * 320, 320)]


@pytest.fixture
def aec_capture(bus_env, monkeypatch):
    monkeypatch.setenv("ECHO_MODE", "aec")
    from services.capture.service import CaptureService

    svc = CaptureService()
    svc.notice = lambda *a, **k: svc.counters.update(notices=1)  # no event loop here
    svc.peers.state["playback"] = "ready"
    svc.peers.seen["playback"] = time.monotonic() + 3600
    yield svc
    svc.bus.close()


def test_capture_cancels_with_reference_by_device_time(aec_capture):
    svc = aec_capture
    assert svc.canceller is not None and svc.effective == "aec" and not svc.gated(time.monotonic_ns())
    luna = luna_reply()[: 4 * RATE]
    mic = to_int16(echo_of(luna, 0.06))
    t0 = time.monotonic_ns() - 10 * 1_000_000_000  # an old recording: nothing waits
    out = []
    for k, fr in enumerate(_frames(mic, t0)):  # as in real time: reference arrives with its mic frame
        for i in range(k * 320, k * 320 + 320, 160):  # stamped with the device time of each piece
            svc.reference.add(t0 + i * 62_500, luna[i:i + 160], time.monotonic_ns())
        out += svc._cancel([fr])
    n = len(mic) // 320
    warm = svc.counters["aec_warmup_gated"]
    assert svc.counters["aec_frames"] == n and len(out) + warm == n
    assert svc.aec_warm and 0 < warm <= 100  # Luna's first <= 2 s are gated while the canceller proves itself
    clean = np.zeros(n * 320, np.int16)
    for p, t in out:
        k = (t - t0) // (320 * 62_500)
        clean[k * 320:(k + 1) * 320] = p
    e = erle_db(mic, clean, luna, 2.0, 4.0)
    print(f"\ncapture path ERLE {e:.1f} dB after {warm} warm-up frames gated")
    assert e >= 25


def test_capture_waits_for_reference_then_falls_back_to_half_duplex(aec_capture):
    svc = aec_capture
    now = time.monotonic_ns()
    svc.speaking, svc.speak_since = True, now - 50_000_000  # Luna just started, no reference yet
    frames = _frames(np.full(3200, 500, np.int16), now - 100_000_000)
    assert svc._cancel(frames[:2]) == []  # held: the reference may be on its way
    svc.speak_since = now - 1_000_000_000
    svc.reference.last_rx_ns = now - 1_000_000_000
    svc.speaking = True
    out = svc._cancel([])  # REF_MISSING_NS passed: degrade, never hear itself
    assert svc.effective == "half-duplex" and svc.info["echo_mode_effective"] == "half-duplex"
    assert svc.counters["notices"] == 1
    assert all(svc.gated(t) for _, t in out)
    # the reference comes back: aec again
    import asyncio

    from shared.messages import make

    f = make("reference", rate=16000, t_ns=now, payload=np.zeros(160, np.int16).tobytes())
    asyncio.run(svc.on_stream("reference", f))
    assert svc.effective == "aec" and not svc.gated(now)


@pytest.mark.integration
async def test_services_reference_flows_and_missing_reference_degrades(start_service, tmp_path):
    """Real processes, file devices: playback's reference reaches capture while Luna speaks; when
    playback dies mid-sentence capture says so and falls back to half-duplex (never hears itself)."""
    from tests.support.audio import silence, write_wav
    from tests.support.voicekit import Driver
    from tests.system.test_voice_pulse import LONG

    mic = write_wav(tmp_path / "mic.wav", silence(60.0), 16000)
    env = {"ECHO_MODE": "aec"}
    async with Driver("brain", produce=("sentence",)) as d:
        start_service("tts", **env)
        pb = start_service("playback", PLAYBACK_FILE=str(tmp_path / "out.wav"), **env)
        start_service("capture", CAPTURE_FILE=str(mic), **env)
        await d.ready("tts", "playback", "capture", timeout=60)
        d.bus.publish("reply-start", intent="chat", provider="t", model="t", epoch=1)
        for i in range(3):
            await d.push_until("sentence", "sentence", text=LONG, epoch=1, index=i, turn_id="r1")
        await d.wait(lambda: d.of("speaking", epoch=1), 20, "Luna speaking")
        hb = await d.wait(lambda: (h := d.heartbeat("capture")) and h["counters"].get("reference_ms", 0) > 500 and h,
                          10, "reference reaches capture")
        assert hb["info"]["echo_mode"] == "aec" and hb["info"]["echo_mode_effective"] == "aec"
        await d.wait(lambda: d.heartbeat("playback")["counters"].get("reference_out", 0) > 0, 5, "playback counts")
        pb.p.kill()  # playback gone while Luna speaks: no reference any more
        note = await d.wait(lambda: d.of("notice", code="echo-mode"), 10, "fallback notice")
        hb = await d.wait(lambda: (h := d.heartbeat("capture")) and h["info"]["echo_mode_effective"] == "half-duplex"
                          and h, 5, "capture in half-duplex")
        print(f"\nfallback: {note[0]['text']!r}; capture {hb['counters']}")
        assert any("half-duplex" in p for p in hb["info"]["problems"])


def test_capture_restarts_canceller_in_a_pause_so_a_moved_echo_path_does_not_leak(aec_capture):
    """Two replies 2.3 s apart; in the pause the echo path moved by 1 ms (the two sample clocks
    drift). A converged AEC3 carried over the pause leaks the second reply's first words (livekit:
    ~10 dB ERLE, measured); capture restarts the canceller in the pause, so it holds >= 30 dB."""
    from tests.support.audio import piper_speech, to_16k

    svc = aec_capture
    a = luna_reply()[: 4 * RATE]
    b = to_16k(*piper_speech("This is a long answer that goes on for a while so that there is time to interrupt it."))
    b = b[: 2 * RATE]
    gap = np.zeros(int(2.3 * RATE), np.int16)
    ref = np.concatenate([a, gap, b])
    ref = ref[: len(ref) // 320 * 320]
    sb = len(a) + len(gap)
    mic = to_int16(np.concatenate([echo_of(np.concatenate([a, gap]), 0.06), echo_of(ref[sb:], 0.061)]))
    t0 = time.monotonic_ns() - 20 * 1_000_000_000
    out = []
    for k, fr in enumerate(_frames(mic, t0)):
        for i in range(k * 320, k * 320 + 320, 160):
            if ref[i:i + 160].any():  # playback sends reference only while Luna speaks
                svc.reference.add(t0 + i * 62_500, ref[i:i + 160], time.monotonic_ns())
        out += svc._cancel([fr])
    assert svc.aec_warm and svc.counters["aec_resets"] >= 1
    clean = np.zeros(len(mic), np.int16)
    for p, t in out:
        k = (t - t0) // (320 * 62_500)
        clean[k * 320:(k + 1) * 320] = p
    start = sb / RATE
    e = erle_db(mic, clean, ref, start, start + 0.9)
    loud = max(float(np.sqrt(np.mean(clean[i:i + 320].astype(np.float64) ** 2)))
               for i in range(sb, sb + int(0.9 * RATE), 320))
    print(f"\nsecond reply after a pause, echo path moved 1 ms: ERLE {e:.1f} dB over its first 0.9 s, "
          f"loudest 20 ms frame {20 * np.log10(loud + 1):.0f} dB; resets {svc.counters['aec_resets']}")
    assert e >= 30


def test_capture_keeps_the_canceller_through_short_pauses(aec_capture):
    svc = aec_capture
    t0 = time.monotonic_ns() - 20 * 1_000_000_000
    luna = luna_reply()[:RATE]
    silence = np.zeros(int(0.6 * RATE), np.int16)  # a pause between two sentences of one reply
    ref = np.concatenate([luna, silence, luna])
    mic = to_int16(echo_of(ref, 0.06))
    for k, fr in enumerate(_frames(mic, t0)):
        for i in range(k * 320, k * 320 + 320, 160):
            if ref[i:i + 160].any():
                svc.reference.add(t0 + i * 62_500, ref[i:i + 160], time.monotonic_ns())
        svc._cancel([fr])
    assert svc.counters["aec_resets"] == 0
    for fr in _frames(np.zeros(int(1.2 * RATE), np.int16), t0 + len(mic) * 62_500):
        svc._cancel([fr])  # a second of silence after the reply: restart once
    assert svc.counters["aec_resets"] == 1
