"""The four voice services as real processes on a private bus, driven by the test.

No sound card is needed: capture reads WAV files (CAPTURE_FILE) and playback writes
one (PLAYBACK_FILE); the PulseAudio tests in test_voice_pulse.py use real devices.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from services.brain.speech.clean import for_speech
from tests.support.audio import espeak_speech, piper_speech, read_wav, rms, silence, to_16k, wer, write_wav
from tests.support.voicekit import Driver

pytestmark = pytest.mark.integration

Q1 = "Please open the terminal and show me the files in my home folder."  # Piper voice
Q2 = "Can you tell me what the weather will be like in London tomorrow morning?"  # espeak-ng
STT_ENV = {"STT_LOCAL": "tiny.en", "HF_HUB_OFFLINE": "1", "STT_LANGUAGE": "en"}


def _speech_wav(path, parts, rate=16000, channels=1):
    """parts: seconds of silence (float) or text (str, Piper) or ("espeak", text)."""
    chunks = []
    for p in parts:
        if isinstance(p, float | int):
            chunks.append(silence(float(p)))
        elif isinstance(p, tuple):
            chunks.append(to_16k(*espeak_speech(p[1])))
        else:
            chunks.append(to_16k(*piper_speech(p)))
    audio = np.concatenate(chunks)
    if rate != 16000:
        import soxr

        audio = (np.clip(soxr.resample(audio.astype(np.float32) / 32768, 16000, rate), -1, 1) * 32767).astype(
            np.int16)
    if channels == 2:
        audio = np.stack([audio, audio], axis=1).reshape(-1)
    return write_wav(path, audio, rate, channels)


async def test_capture_file_to_transcripts(start_service, tmp_path):
    """Wrong rate and channels on purpose: 44.1 kHz stereo in, 16 kHz mono to the VAD.

    The 2 s between the two is well past STT_CONTINUE_MS (1 s from the last voice), so the
    second is a turn of its own. CI once heard them as one: the segmenter timed the pause by
    the fast file's capture stamps, which pass 2 s of silence in milliseconds."""
    wav = _speech_wav(tmp_path / "q.wav", [0.5, Q1, 2.0, ("espeak", Q2), 0.5], rate=44100, channels=2)
    async with Driver() as d:
        start_service("stt", **STT_ENV)
        start_service("capture", CAPTURE_FILE=str(wav), CAPTURE_FAST="1")
        await d.ready("stt", "capture")
        await d.wait(lambda: len(d.of("transcript")) >= 2, 60, "two transcripts")
        t1, t2 = d.of("transcript")[:2]
        assert wer(Q1, t1["text"]) <= 0.10, t1["text"]
        assert wer(Q2, t2["text"]) <= 0.10, t2["text"]
        assert t1["model"] == "tiny.en (bundled)" and t1["language"] == "en"
        assert len(t1.turn_id) == 32 and t1.turn_id != t2.turn_id and not t2.get("continues")
        tm = t1["timings"]
        # (fast mode stamps frames when read, so audio times are only ordered among themselves)
        order = ["vad_start_ns", "vad_end_ns", "stt_end_ns", "transcript_ns"]
        assert [tm[k] for k in order] == sorted(tm[k] for k in order)
        assert tm["vad_start_ns"] < tm["stt_start_ns"] < tm["stt_end_ns"]  # speculative: may start before vad_end
        assert tm["speech_start_ns"] < tm["last_voice_ns"]
        assert len(d.of("speech-start")) == 2 and len(d.of("speech-end")) == 2
        # the model in use is on stt's heartbeat, for the UI
        await d.wait(lambda: d.heartbeat("stt") and d.heartbeat("stt").get("info", {}).get("model"), 5)
        assert any(f["code"] == "stt-fallback" for f in d.of("notice", service="stt")) or \
            d.heartbeat("stt")["info"]["model"].startswith("tiny.en")
        print(f"\nwhisper tiny.en: {(tm['stt_end_ns'] - tm['stt_start_ns']) / 1e6:.0f} ms for a "
              f"{t1['text']!r} utterance")


async def test_start_order_capture_before_stt(start_service, tmp_path):
    """Capture with CAPTURE_FILE runs first, as supervisord starts the stack (SUPERVISOR_ENABLED):
    the file is held whole while stt loads (reading it on purpose is no fault: ``ready``, the file
    named, ``waiting_for`` stt, nothing dropped), and the question at its very start is transcribed
    in full once stt is ready. (A live microphone keeps the newest audio and counts drops instead:
    test_stt_restart_mid_stream.)"""
    wav = _speech_wav(tmp_path / "pergunta.wav", [0.3, Q1, 1.5])
    async with Driver() as d:
        start_service("capture", CAPTURE_FILE=str(wav), CAPTURE_RING_S="0.5", SUPERVISOR_ENABLED="1")
        await d.ready("capture")
        await asyncio.sleep(3.0)  # longer than the ring: a file read meanwhile would lose its start
        hb = d.heartbeat("capture")
        assert hb["state"] == "ready" and hb["info"]["waiting_for"] == "stt", hb.data
        assert hb["info"]["source"] == "file" and hb["info"]["device"] == "file:pergunta.wav"
        assert hb["counters"].get("captured", 0) == 0 and hb["counters"]["drops"] == 0
        start_service("stt", **STT_ENV)
        await d.ready("stt")
        tr = await d.wait(lambda: d.of("transcript"), 30, "transcript")
        assert wer(Q1, tr[0]["text"]) <= 0.10, tr[0]["text"]
        await d.wait(lambda: d.heartbeat("capture")["info"].get("ended") == "file", 10, "the file read to its end")
        beats = [f for f in d.events if f.type == "heartbeat" and f["service"] == "capture"]
        assert {f["state"] for f in beats} == {"ready"}, [(f["state"], f["info"]) for f in beats]
        assert d.heartbeat("capture")["counters"]["drops"] == 0


async def test_tts_to_playback_file(start_service, tmp_path):
    out = tmp_path / "out.wav"
    async with Driver("brain", produce=("sentence",)) as d:
        start_service("playback", PLAYBACK_FILE=str(out))
        start_service("tts")
        await d.ready("tts", "playback")
        notices = d.of("notice", service="tts")
        assert any("piper.download_voices" in n["text"] for n in notices) or \
            "joe" in d.heartbeat("tts")["info"]["model"]
        d.bus.publish("reply-start", intent="chat", provider="test", model="test", epoch=1)
        t_push = time.monotonic_ns()
        # what the brain's segmenter hands tts: the voice never gets the emoji or the markdown
        await d.push_until("sentence", "sentence", text=for_speech("Hello there! 😀"), epoch=1, index=0, turn_id="t1")
        await d.push_until("sentence", "sentence", text=for_speech("The **code** is ready."), epoch=1, index=1,
                           turn_id="t1")
        await d.wait(lambda: len(d.of("idle")) >= 2, 20, "two sentences played")
        sp, idle = d.of("speaking"), d.of("idle")
        assert [f["text"] for f in sp] == ["Hello there!", "The code is ready."]
        assert all(f["played"] for f in idle) and all(f["epoch"] == 1 for f in sp)
        assert sp[0].turn_id == "t1"
        assert t_push < sp[0]["t_tts_ns"] < sp[0].ts  # when tts made the turn's first PCM (turn metrics)
        assert sp[0].ts < idle[0].ts <= sp[1].ts < idle[1].ts
        first_ms = (sp[0].ts - t_push) / 1e6
        print(f"\npiper: first sample handed to the output {first_ms:.0f} ms after the sentence was pushed")
        assert first_ms < 5000
        audio, rate = read_wav(out)
        assert rate == 22050 and rms(audio) > 300
        played_s = (idle[1].ts - sp[0].ts) / 1e9
        assert abs(len(audio) / rate - played_s) < 0.5


async def test_held_speech_is_played_on_release_and_never_after_a_flush(start_service, tmp_path):
    """A preemptive reply's sentence (held) is synthesized at once but not heard until the
    brain's release, which then plays it without waiting for synthesis; a held sentence
    that is flushed (the user went on talking) is never heard, and speech after it plays."""
    out = tmp_path / "out.wav"
    async with Driver("brain", produce=("sentence",)) as d:
        start_service("playback", PLAYBACK_FILE=str(out))
        start_service("tts")
        await d.ready("tts", "playback")

        def made() -> int:
            hb = d.heartbeat("tts")
            return hb["counters"].get("sentences", 0) if hb else 0

        base = made()
        await d.push_until("sentence", "sentence", text="Hello there!", epoch=1, index=0, turn_id="h1", held=True)
        await d.wait(lambda: made() >= base + 1, 20, "the held sentence synthesized")
        await asyncio.sleep(0.5)
        assert d.of("speaking") == []  # made, parked, not heard
        t_release = time.monotonic_ns()
        await d.push_until("sentence", "release", epoch=1, turn_id="h1")
        sp = await d.wait(lambda: d.of("speaking"), 10, "the released sentence played")
        release_ms = (sp[0].ts - t_release) / 1e6
        print(f"\nheld speech: first sample handed to the output {release_ms:.0f} ms after the release")
        assert sp[0]["text"] == "Hello there!" and sp[0].turn_id == "h1"
        assert release_ms < 300  # no synthesis left to wait for
        await d.wait(lambda: d.of("idle", epoch=1), 10, "the released sentence ended")

        await d.push_until("sentence", "sentence", text="You will never hear this.", epoch=2, index=0,
                           turn_id="h2", held=True)
        await d.wait(lambda: made() >= base + 2, 20, "the second held sentence synthesized")
        await d.push_until("sentence", "flush", epoch=3, turn_id="h2")
        await d.push_until("sentence", "sentence", text="The end.", epoch=3, index=0, turn_id="h3", final=True)
        await d.wait(lambda: d.of("idle", epoch=3), 20, "the next reply played")
        assert [f["text"] for f in d.of("speaking")] == ["Hello there!", "The end."]
        c = (await d.wait(lambda: (h := d.heartbeat("tts")) and h["counters"].get("held_dropped") and h, 10,
                          "the dropped held reply counted"))["counters"]
        assert c["held"] == 2 and c["held_released"] == 1 and c["held_dropped"] == 1


async def test_a_guess_spoken_ahead_is_never_heard_when_the_speaker_goes_on(start_service, tmp_path):
    """The whole voice loop on real audio: at the pause inside the utterance the brain answers
    the guess and tts synthesizes that answer ahead; the speaker goes on, and what Luna says
    is only the answer to the whole utterance (the guess's audio was dropped unheard)."""
    from tests.support.fakes.ollama import FakeOllama

    def answer(messages):  # names the last word it was asked about, so each answer says which guess it is
        return f"You ended with {messages[-1]['content'].strip().rstrip('.!?').split()[-1].lower()}."

    wav = _speech_wav(tmp_path / "q.wav", [0.5, Q1, 1.2, "Thank you.", 5.0])
    out = tmp_path / "out.wav"
    with FakeOllama(reply=answer) as ol:
        async with Driver() as d:
            start_service("playback", PLAYBACK_FILE=str(out))
            start_service("tts", LANGUAGE="en")
            start_service("brain", OLLAMA_HOST=ol.url, LANGUAGE="en")
            start_service("stt", **STT_ENV, STT_SPECULATIVE_MS="150", VAD_MIN_SILENCE_MS="2500", TURN_MODEL="off")
            await d.ready("stt", "tts", "playback", "brain")
            start_service("capture", CAPTURE_FILE=str(wav))
            await d.wait(lambda: d.of("idle", played=True), 60, "Luna's answer played")
            await asyncio.sleep(1.0)
            final = d.of("transcript")
            assert len(final) == 1 and "thank you" in final[0]["text"].lower(), [f["text"] for f in final]
            guesses = [f for f in d.of("transcript-partial") if f.get("pause")]
            assert any("folder" in f["text"].lower() for f in guesses), [f["text"] for f in guesses]
            assert " ".join(f["text"] for f in d.of("speaking")) == "You ended with you."  # the guess's: never
            c = (await d.wait(lambda: (h := d.heartbeat("tts")) and h["counters"].get("held_released") and h, 10,
                              "tts counted the released reply"))["counters"]
            assert c["held"] >= 2 and c["held_released"] == 1 and c["held_dropped"] >= 1, c
            audio, rate = read_wav(out)
            assert rms(audio) > 300 and len(audio) / rate < 4.0  # one short answer, not two


async def _speak_long(d, epoch, n=3):
    long = "This is a long answer that goes on for a while so that there is time to interrupt it."
    for i in range(n):
        await d.push_until("sentence", "sentence", text=long, epoch=epoch, index=i, turn_id=f"e{epoch}")


@pytest.mark.parametrize("how", ["voice", "esc"])
async def test_barge_in_stops_playback_within_100ms(start_service, tmp_path, how):
    out = tmp_path / "out.wav"
    env = {"ECHO_MODE": "off"}
    async with Driver("brain", produce=("sentence",)) as d:
        start_service("playback", PLAYBACK_FILE=str(out), **env)
        start_service("tts", **env)
        await d.ready("tts", "playback")
        d.bus.publish("reply-start", intent="chat", provider="t", model="t", epoch=1)
        await _speak_long(d, 1)
        await d.wait(lambda: d.of("speaking", epoch=1), 20, "speaking")
        await asyncio.sleep(0.4)
        if how == "voice":
            cut = d.bus.publish("speech-start", epoch=1, t_audio_ns=time.monotonic_ns())
        else:
            cut = d.bus.publish("command", name="cancel", args={"epoch": 1})
        idle = await d.wait(lambda: d.of("idle", played=False), 5, "cut")
        stop_ms = (idle[0].ts - cut.ts) / 1e6
        print(f"\nbarge-in ({how}): playback stopped {stop_ms:.1f} ms after the request")
        assert stop_ms <= 100
        # stale audio of epoch 1 never plays again, the next turn does
        await _speak_long(d, 1, n=1)
        d.bus.publish("reply-start", intent="chat", provider="t", model="t", epoch=2)
        await d.push_until("sentence", "sentence", text="New turn.", epoch=2, index=0, turn_id="e2")
        await d.wait(lambda: d.of("idle", epoch=2), 20, "epoch 2 played")
        assert len(d.of("speaking", epoch=1)) == 1
        assert all(f.ts < cut.ts for f in d.of("speaking", epoch=1))


@pytest.mark.parametrize("mode", ["half-duplex", "off-echo", "mute"])
async def test_no_self_hearing_and_mute(start_service, tmp_path, mode):
    """Luna 'speaks' Q1 while the microphone hears Q1.

    half-duplex: capture gates the frames, stt never hears it.
    off: stt hears it but drops the transcript because it is what Luna said.
    mute: the microphone is off.
    """
    wav = _speech_wav(tmp_path / "echo.wav", [2.0, Q1, 1.5])
    echo_mode = "off" if mode == "off-echo" else "half-duplex"
    async with Driver("playback") as d:  # the test plays the part of playback
        start_service("stt", ECHO_MODE=echo_mode, **STT_ENV)
        await d.ready("stt")
        start_service("capture", CAPTURE_FILE=str(wav), ECHO_MODE=echo_mode)
        await d.ready("capture")
        # off-echo: Luna "speaks" until stt has dropped the echo (a loaded CI machine once started the
        # file source so late that 6 s of speaking ended before the question was heard)
        t_end = time.monotonic() + (20.0 if mode == "off-echo" else 6.0)
        while time.monotonic() < t_end:
            hb = d.heartbeat("stt")
            if mode == "off-echo" and hb is not None and hb["counters"].get("echo_dropped", 0) >= 1:
                break
            if mode == "mute":
                d.bus.publish("command", name="mute")
            else:
                d.bus.publish("speaking", text=Q1, epoch=1)
            d.bus.publish("heartbeat", service="playback", state="ready", counters={})
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)
        assert not d.of("transcript")
        cap = d.heartbeat("capture")["counters"]
        if mode == "half-duplex":
            assert not d.of("speech-start") and cap["gated"] > 100
        elif mode == "mute":
            assert not d.of("speech-start") and cap["muted"] > 100
            assert d.of("status", service="capture")[-1]["data"] == {"muted": True}
        else:
            assert d.of("speech-start")
            await d.wait(lambda: d.heartbeat("stt")["counters"].get("echo_dropped", 0) >= 1, 5, "echo dropped")


async def test_no_devices_keep_services_running(start_service):
    env = {"CAPTURE_DEVICE": "no-such-microphone", "PLAYBACK_DEVICE": "no-such-speaker",
           "PULSE_SERVER": "unix:/nonexistent/pulse"}
    async with Driver("brain", produce=("sentence",)) as d:
        cap = start_service("capture", **env)
        pb = start_service("playback", **env)
        start_service("tts")
        await d.ready("capture", "playback", "tts")
        await d.wait(lambda: d.heartbeat("capture") and d.heartbeat("playback"), 5)
        for svc in ("capture", "playback"):
            hb = await d.wait(lambda svc=svc: (h := d.heartbeat(svc)) and h["state"] == "no-device" and h, 5,
                              f"{svc} no-device")
            assert any(("microfone" if svc == "capture" else "alto-falante") in p for p in hb["info"]["problems"])
            # the one-line notice went out at start-up (maybe before we subscribed): it is in the log
            assert '"code": "no-device"' in (cap if svc == "capture" else pb).output()
        # text chat still works: playback keeps consuming (and says speaking/idle at real time)
        await d.push_until("sentence", "sentence", text="Hi.", epoch=1, index=0)
        await d.wait(lambda: d.of("idle", epoch=1), 15, "idle without a device")
        assert cap.p.poll() is None and pb.p.poll() is None


class _FakeOpenAI(BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _FakeOpenAI.bodies.append((self.path, self.headers.get("Authorization"), body))
        data = json.dumps({"text": "hello from the fake whisper"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


async def test_openai_stt_provider(start_service):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        audio = np.concatenate([silence(0.3), to_16k(*piper_speech(Q1)), silence(1.0)])
        async with Driver("capture", produce=("audio",)) as d:  # the test plays the part of capture
            start_service("stt", STT_PROVIDER="openai", OPENAI_API_KEY="sk-test-123",
                          OPENAI_BASE_URL=f"http://127.0.0.1:{srv.server_port}/v1")
            await d.ready("stt")
            for i in range(0, len(audio), 320):
                await d.push_until("audio", "audio", rate=16000, channels=1, t_capture_ns=time.monotonic_ns(),
                                   payload=audio[i:i + 320].tobytes())
            tr = await d.wait(lambda: d.of("transcript"), 20, "transcript")
            assert tr[0]["text"] == "hello from the fake whisper" and tr[0]["model"] == "openai:whisper-1"
            path, auth, body = _FakeOpenAI.bodies[-1]
            assert path == "/v1/audio/transcriptions" and auth == "Bearer sk-test-123"
            assert b"RIFF" in body and b"whisper-1" in body
    finally:
        srv.shutdown()


async def test_elevenlabs_tts_with_piper_fallback(start_service, tmp_path):
    from tests.unit.tts.test_tts_units import _FakeEleven

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEleven)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = tmp_path / "out.wav"
    try:
        async with Driver("brain", produce=("sentence",)) as d:
            d.bus.subscribe(prefixes=(b"st.pcm",))
            start_service("playback", PLAYBACK_FILE=str(out))
            start_service("tts", TTS_PROVIDER="elevenlabs", ELEVENLABS_API_KEY="k", ELEVENLABS_VOICE_ID="v1",
                          ELEVENLABS_BASE_URL=f"http://127.0.0.1:{srv.server_port}", ELEVENLABS_OUTPUT_FORMAT="pcm_16000")
            await d.ready("tts", "playback")
            await d.wait(lambda: (d.heartbeat("tts") or {}).get("info", {}).get("model") ==
                         "elevenlabs:eleven_flash_v2_5", 5, "tts says which voice it uses")
            await d.push_until("sentence", "sentence", text="Streaming from the cloud.", epoch=1, index=0)
            await d.push_until("sentence", "sentence", text="This one will fail upstream.", epoch=1, index=1)
            await d.wait(lambda: len(d.of("idle", epoch=1)) >= 2, 20, "both sentences played")
            rates = {f["index"]: f["rate"] for f in d.of("pcm") if f.get("first")}
            assert rates == {0: 16000, 1: 22050}  # cloud PCM, then Piper for the failed one
            assert any(n["code"] == "tts-error" and "Piper" in n["text"] for n in d.of("notice", service="tts"))
            assert all(f["played"] for f in d.of("idle", epoch=1))
    finally:
        srv.shutdown()


async def test_stt_restart_mid_stream(start_service, tmp_path):
    """stt is killed after the first question and comes back: capture keeps the newest audio,
    counts what it dropped, and the question asked after stt is back is transcribed."""
    wav = _speech_wav(tmp_path / "two.wav", [0.5, Q1, 9.0, ("espeak", Q2), 1.5])
    async with Driver() as d:
        stt = start_service("stt", **STT_ENV)
        await d.ready("stt")
        start_service("capture", CAPTURE_FILE=str(wav), CAPTURE_RING_S="1.0")
        tr = await d.wait(lambda: d.of("transcript"), 30, "first transcript")
        assert wer(Q1, tr[0]["text"]) <= 0.10, tr[0]["text"]
        stt.p.kill()
        stt.p.wait()
        await d.wait(lambda: (h := d.heartbeat("capture")) and h["state"] == "degraded"
                     and h["counters"]["drops"] > 0, 15, "capture notices and counts drops")
        n_ready = len(d.of("ready", service="stt"))
        start_service("stt", **STT_ENV)
        await d.wait(lambda: len(d.of("ready", service="stt")) > n_ready, 60, "stt back")
        await d.wait(lambda: len(d.of("transcript")) >= 2, 30, "second transcript")
        tr = d.of("transcript")
        assert wer(Q2, tr[1]["text"]) <= 0.10, tr[1]["text"]
        await d.wait(lambda: d.heartbeat("capture")["state"] == "ready", 5, "capture streaming again")


async def test_pause_partials_retract_and_commit(start_service, tmp_path):
    """A pause inside the utterance gives a pause partial that is retracted when speech goes on;
    the windows are long (1 s pause, 2.5 s end of speech: CI once saw the pass on both sentences outlast
    1.5 s) so Whisper finishes inside them on a busy CPU;
    the pause before the end gives one whose turn_id and text the final transcript repeats."""
    wav = _speech_wav(tmp_path / "q.wav", [0.5, Q1, 1.0, Q1, 4.0])
    async with Driver() as d:
        start_service("stt", **STT_ENV, STT_SPECULATIVE_MS="150", VAD_MIN_SILENCE_MS="2500",
                      TURN_MODEL="off")  # the silence rule's speculation (smart-turn's is in test_turn_taking)
        await d.ready("stt")
        start_service("capture", CAPTURE_FILE=str(wav))  # real time: the pause partial beats the VAD's decision
        await d.wait(lambda: d.of("transcript"), 60, "the final transcript")
        final = d.of("transcript")[0]
        partials = [f for f in d.of("transcript-partial") if f.get("pause")]
        retracted = {f.turn_id for f in d.of("transcript-retract")}
        assert len(d.of("transcript")) == 1 and len(partials) >= 2, [(f.type, f.turn_id) for f in d.events]
        assert partials[-1].turn_id == final.turn_id and partials[-1]["text"] == final["text"]
        assert final.turn_id not in retracted
        assert {f.turn_id for f in partials[:-1]} <= retracted  # every earlier guess was called off
        assert wer(Q1, partials[0]["text"]) <= 0.2 and wer(f"{Q1} {Q1}", final["text"]) <= 0.1
        tm = partials[-1]["timings"]
        assert tm["last_voice_ns"] < tm["pause_ns"] <= tm["stt_start_ns"] < tm["stt_end_ns"] <= tm["transcript_ns"]
        assert final["timings"]["pause_ns"] == tm["pause_ns"] and final["timings"]["speculative"] == 1
        ordered = [f for f in d.events if f.turn_id == final.turn_id and f.type.startswith("transcript")]
        assert [f.type for f in ordered] == ["transcript-partial", "transcript"]
