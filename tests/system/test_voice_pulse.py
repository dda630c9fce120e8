"""Real audio devices: a private PulseAudio with a null sink (the speaker) and a pipe source (the mic).

Speech made by Piper and espeak-ng is written into the microphone's fifo at real
time; what Luna says is recorded from the speaker's monitor. Skipped cleanly when
the pulseaudio binary is missing (apt-get install pulseaudio pulseaudio-utils
libportaudio2 espeak-ng).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.support.audio import Pulse, espeak_speech, piper_speech, read_wav, rms, silence, to_16k, wer
from tests.support.voicekit import Driver

pytestmark = [pytest.mark.audio, pytest.mark.integration]

Q1 = "Please open the terminal and show me the files in my home folder."  # Piper voice
Q2 = "Can you tell me what the weather will be like in London tomorrow morning?"  # espeak-ng
REPLY = "It is sunny and warm today."
LONG = "This is a long answer that goes on for a while so that there is time to interrupt it."
STT_ENV = {"STT_LOCAL": "tiny.en", "HF_HUB_OFFLINE": "1", "STT_LANGUAGE": "en"}


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("pulseaudio not installed (apt-get install pulseaudio pulseaudio-utils)")
    p = Pulse(tmp_path_factory.mktemp("pulse"))
    try:
        p.start()
    except RuntimeError as exc:
        pytest.skip(f"pulseaudio could not start here: {exc}")
    # PortAudio reaches PulseAudio through ALSA's pulse plugin (Debian: libasound2-plugins)
    probe = subprocess.run([sys.executable, "-c", "import sounddevice as sd; d = sd.query_devices(); "
                            "print(sum(x['max_input_channels'] > 0 for x in d), sum(x['max_output_channels'] > 0 for x in d))"],
                           env={**os.environ, **p.env}, capture_output=True, text=True, timeout=30)
    if probe.returncode != 0 or "0" in probe.stdout.split():
        p.stop()
        pytest.skip("PortAudio sees no PulseAudio device (apt-get install libportaudio2 libasound2-plugins): "
                    + (probe.stdout + probe.stderr)[-300:])
    yield p
    p.stop()


def _speech(*parts) -> np.ndarray:
    out = []
    for x in parts:
        if isinstance(x, float):
            out.append(silence(x))
        elif isinstance(x, tuple):
            out.append(to_16k(*espeak_speech(x[1])))
        else:
            out.append(to_16k(*piper_speech(x)))
    return np.concatenate(out)


async def _feed(pulse: Pulse, audio: np.ndarray) -> None:
    await asyncio.to_thread(pulse.feed, audio)


async def test_pulse_round_trip(pulse, start_service, tmp_path):
    """Spoken question -> pulse mic -> capture -> VAD -> whisper -> (test brain) -> Piper -> pulse speaker."""
    rec_path = tmp_path / "speaker.wav"
    async with Driver("brain", produce=("sentence",)) as d:
        d.bus.subscribe(prefixes=(b"st.pcm",))  # stream summaries: when tts pushed the first audio
        for svc in ("stt", "tts", "playback", "capture"):
            start_service(svc, **pulse.env, **STT_ENV)
        await d.ready("stt", "tts", "playback", "capture", timeout=90)
        await d.wait(lambda: (h := d.heartbeat("capture")) and h["info"].get("source") == "device"
                     and h["state"] == "ready", 10, "capture streaming from the pulse device")
        rec = pulse.record(rec_path)
        try:
            await asyncio.sleep(0.3)
            feeding = asyncio.create_task(_feed(pulse, _speech(0.3, Q1, 1.5)))  # the test brain answers at once
            tr = (await d.wait(lambda: d.of("transcript"), 30, "transcript"))[0]
            assert wer(Q1, tr["text"]) <= 0.10, tr["text"]
            d.bus.publish("reply-start", intent="chat", provider="test", model="test", epoch=1)
            t_push = time.monotonic_ns()
            await d.push_until("sentence", "sentence", text=REPLY, epoch=1, index=0, turn_id=tr.turn_id)
            idle = (await d.wait(lambda: d.of("idle", epoch=1), 20, "reply played"))[0]
            await feeding
            await asyncio.sleep(0.5)
        finally:
            rec.terminate()
            rec.wait(5)
        sp = d.of("speaking", epoch=1)[0]
        assert sp.turn_id == tr.turn_id and idle["played"] is True
        audio, rate = read_wav(rec_path)
        assert rate == 16000 and rms(audio) > 300, "the reply reached the speaker"
        # the recording holds about as much voiced audio as the sentence lasted
        voiced = np.sum(np.abs(audio.astype(np.int32)) > 500) / rate
        assert voiced > 0.3
        tm = tr["timings"]
        t_stt = (tm["stt_end_ns"] - tm["stt_start_ns"]) / 1e6
        t_vad = (tm["vad_end_ns"] - tm["last_voice_ns"]) / 1e6
        ttfa = (sp.ts - tm["last_voice_ns"]) / 1e6
        t_reply = (sp.ts - tr.ts) / 1e6
        print(f"\nreal devices: VAD end decision {t_vad:.0f} ms after last voice, whisper {t_stt:.0f} ms, "
              f"transcript -> first reply sample {t_reply:.0f} ms (Piper + bus + output), "
              f"total {ttfa:.0f} ms after the last voiced frame (test brain answers instantly)")
        await asyncio.sleep(1.1)
        pcm = d.of("pcm", epoch=1)
        if pcm:
            print(f"transcript -> sentence pushed {(t_push - tr.ts) / 1e6:.0f} ms -> first pcm pushed "
                  f"{(pcm[0].ts - t_push) / 1e6:.0f} ms -> first sample to the device {(sp.ts - pcm[0].ts) / 1e6:.0f} ms")
        print(f"piper synthesis of the first sentence: {d.heartbeat('tts')['info'].get('last_first_chunk_ms')} ms; "
              f"speculative transcript used: {bool(tm.get('speculative'))}")
        hb = d.heartbeat("capture")["counters"]
        assert hb["drops"] == 0


async def test_pulse_barge_in_by_voice(pulse, start_service, tmp_path):
    """ECHO_MODE=off: the user talks over Luna; playback stops within 100 ms of speech-start."""
    env = {**pulse.env, **STT_ENV, "ECHO_MODE": "off"}
    async with Driver("brain", produce=("sentence",)) as d:
        for svc in ("stt", "tts", "playback", "capture"):
            start_service(svc, **env)
        await d.ready("stt", "tts", "playback", "capture", timeout=90)
        rec = pulse.record(tmp_path / "speaker.wav")
        await asyncio.sleep(0.3)
        d.bus.publish("reply-start", intent="chat", provider="t", model="t", epoch=1)
        for i in range(3):
            await d.push_until("sentence", "sentence", text=LONG, epoch=1, index=i, turn_id="r1")
        await d.wait(lambda: d.of("speaking", epoch=1), 20, "Luna speaking")
        await _feed(pulse, _speech(0.2, ("espeak", Q2), 1.2))
        start = (await d.wait(lambda: d.of("speech-start"), 10, "speech-start"))[0]
        cut = (await d.wait(lambda: d.of("idle", played=False), 5, "cut"))[0]
        stop_ms = (cut.ts - start.ts) / 1e6
        lat = d.heartbeat("playback")["info"].get("latency_ms", 0)
        print(f"\nbarge-in on the pulse device: last sample handed over {stop_ms:.1f} ms after speech-start "
              f"(+ {lat} ms output latency)")
        assert stop_ms <= 100
        tr = await d.wait(lambda: d.of("transcript"), 20, "the interruption is transcribed")
        assert wer(Q2, tr[0]["text"]) <= 0.2, tr[0]["text"]
        await asyncio.sleep(1.0)
        rec.terminate()
        rec.wait(5)
        assert [f for f in d.of("speaking", epoch=1) if f.ts > start.ts] == []
        assert len(d.of("idle", epoch=1)) == 1  # only the cut sentence; the queued ones never started
        # what really reached the speaker: no more voice than was played before the cut
        audio, rate = read_wav(tmp_path / "speaker.wav")
        voiced_s = float(np.sum(np.abs(audio.astype(np.int32)) > 500)) / rate
        played_s = (cut.ts - d.of("speaking", epoch=1)[0].ts) / 1e9
        assert 0.2 < voiced_s <= played_s + 0.15, (voiced_s, played_s)


@pytest.mark.parametrize("echo_mode", ["half-duplex", "off"])
async def test_pulse_no_self_hearing(pulse, start_service, echo_mode):
    """The microphone is the speaker's monitor: Luna hears everything she says.

    half-duplex: capture gates her voice, stt never hears it. off: stt hears it
    (speech-start) but the transcript repeats Luna's words and is dropped.
    Either way no user turn comes from Luna's own voice.
    """
    env = {**pulse.env, **STT_ENV, "ECHO_MODE": echo_mode}
    async with Driver("brain", produce=("sentence",)) as d:
        for svc in ("stt", "tts", "playback"):
            start_service(svc, **env)
        start_service("capture", **{**env, "PULSE_SOURCE": "vspeaker.monitor"})
        await d.ready("stt", "tts", "playback", "capture", timeout=90)
        await asyncio.sleep(0.5)
        d.bus.publish("reply-start", intent="chat", provider="t", model="t", epoch=1)
        await d.push_until("sentence", "sentence", text="Hello, I am Luna, and I am speaking to you now.",
                           epoch=1, index=0, turn_id="r1")
        await d.wait(lambda: d.of("idle", epoch=1), 20, "reply played")
        await asyncio.sleep(2.5)
        assert not d.of("transcript"), "Luna heard herself as a user turn"
        cap = d.heartbeat("capture")["counters"]
        if echo_mode == "half-duplex":
            assert cap.get("gated", 0) > 50 and not d.of("speech-start")
        else:
            assert d.of("speech-start"), "with the gate off, the monitor really reaches stt"
            await d.wait(lambda: d.heartbeat("stt")["counters"].get("echo_dropped", 0) >= 1, 10, "echo dropped")


async def test_device_disappears_mid_stream(start_service, tmp_path):
    """Kill the sound server under running capture/playback: clear state, no crash."""
    if shutil.which("pulseaudio") is None:
        pytest.skip("pulseaudio not installed")
    p = Pulse(tmp_path / "pulse2")
    p.start()
    try:
        async with Driver() as d:
            cap = start_service("capture", **p.env)
            pb = start_service("playback", **p.env)
            await d.ready("capture", "playback", timeout=60)
            await d.wait(lambda: (h := d.heartbeat("playback")) and h["info"].get("output") == "device", 10)
            p.stop()
            for svc in ("capture", "playback"):
                hb = await d.wait(lambda svc=svc: (h := d.heartbeat(svc)) and h["state"] == "no-device" and h,
                                  15, f"{svc} reports the lost device")
                word = "microfone" if svc == "capture" else "alto-falante"  # LANGUAGE=pt, the default
                assert any(word in x for x in hb["info"]["problems"]), hb["info"]
            await asyncio.sleep(1.5)
            assert cap.p.poll() is None and pb.p.poll() is None
    finally:
        p.stop()
        time.sleep(0.1)
