"""Luna hears and speaks Portuguese offline: the packaged multilingual Whisper base and the Kokoro pt voice.

The models are the real ones that ship in PyPI packages (joined once into a private
data dir per module, as on a user's machine); the speech is synthesized here.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from bench.bench_pt_voice import pt_wer as wer
from shared.packaged import PackagedModelError, assemble
from tests.support.audio import silence, to_16k, write_wav
from tests.support.voicekit import Driver

QUESTION = "Qual é a capital da França?"


@pytest.fixture(scope="module")
def data_home(tmp_path_factory):
    """One private XDG_DATA_HOME for the module, so the 145 MB and 92 MB joins happen once."""
    d = tmp_path_factory.mktemp("data")
    old = {k: os.environ.pop(k, None) for k in ("XDG_DATA_HOME", "LUNA_MODELS_DIR")}
    os.environ["XDG_DATA_HOME"] = str(d)  # the user's path: $XDG_DATA_HOME/luna/models
    yield d
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def ears(data_home):
    from services.stt.engines import load_local

    eng, why = load_local("small", "int8", "pt")  # not on this machine, and offline: the packaged fallback
    assert "STT_LOCAL=small" in why
    return eng


@pytest.fixture(scope="module")
def kokoro(data_home):
    from services.tts.kokoro import KokoroEngine

    return KokoroEngine()


def _speak(engine, text: str) -> np.ndarray:
    chunks = [(r, a) for r, a in engine.synthesize(text, lambda: False)]
    assert chunks, text
    return to_16k(np.concatenate([a for _, a in chunks]), chunks[0][0])


# -- assembly --------------------------------------------------------------------------------
def test_assemble_private_verified_and_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LUNA_MODELS_DIR", raising=False)
    import hashlib

    parts = []
    for i, blob in enumerate((b"abc" * 1000, b"def" * 777)):
        p = tmp_path / f"p{i}"
        p.write_bytes(blob)
        parts.append(p)
    sha = hashlib.sha256(b"abc" * 1000 + b"def" * 777).hexdigest()
    d = assemble("m", "model.bin", parts, sha, 3000 + 3 * 777)
    f = d / "model.bin"
    assert f.read_bytes() == b"abc" * 1000 + b"def" * 777
    assert stat.S_IMODE(d.stat().st_mode) == 0o700 and stat.S_IMODE(d.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    mtime = f.stat().st_mtime_ns
    assert assemble("m", "model.bin", parts, sha) == d and f.stat().st_mtime_ns == mtime  # joined once
    f.write_bytes(b"x" * f.stat().st_size)  # tampered in place: joined again from the parts
    assemble("m", "model.bin", parts, sha)
    assert f.read_bytes() == b"abc" * 1000 + b"def" * 777
    with pytest.raises(PackagedModelError, match="does not match"):
        assemble("bad", "model.bin", parts, "0" * 64)
    assert not any((d.parent / "bad").glob("*model.bin*"))  # a bad join never stays for a loader
    with pytest.raises(PackagedModelError, match="missing"):
        assemble("gone", "model.bin", [tmp_path / "nope"], sha)


def test_packaged_whisper_base_is_pinned(ears, data_home):
    import hashlib

    from services.stt.packaged import MODEL_SHA256, MODEL_SIZE

    f = data_home / "luna" / "models" / "whisper-base" / "model.bin"
    assert f.stat().st_size == MODEL_SIZE
    h = hashlib.sha256()
    with f.open("rb") as fh:
        while b := fh.read(1 << 22):
            h.update(b)
    assert h.hexdigest() == MODEL_SHA256
    assert ears.model.startswith("whisper-base") and not ears.english_only


def test_english_keeps_tiny_en(data_home):
    from services.stt.engines import load_local

    eng, _ = load_local("small", "int8", "en")
    assert eng.model == "tiny.en (bundled)"


# -- ears ------------------------------------------------------------------------------------
def test_base_hears_a_portuguese_question(ears, kokoro):
    r = ears.transcribe(_speak(kokoro, QUESTION))
    assert r.language == "pt"
    assert wer(QUESTION, r.text) <= 0.34, r.text
    assert {"capital", "frança"} <= set(r.text.lower().replace("?", "").split()), r.text


@pytest.mark.integration
async def test_stt_service_transcribes_portuguese(start_service, tmp_path, kokoro, data_home):
    """capture (a WAV file) -> VAD -> the real stt service, STT_LANGUAGE=pt, no model downloaded."""
    wav = write_wav(tmp_path / "q.wav", np.concatenate([silence(0.6), _speak(kokoro, QUESTION), silence(1.2)]),
                    16000)
    env = {"STT_LOCAL": "small", "STT_LANGUAGE": "pt", "HF_HUB_OFFLINE": "1", "XDG_DATA_HOME": str(data_home),
           "LUNA_MODELS_DIR": ""}  # the module's data dir, already joined
    async with Driver() as d:
        start_service("stt", **env)
        start_service("capture", CAPTURE_FILE=str(wav), CAPTURE_FAST="1")
        await d.ready("stt", "capture", timeout=90)
        tr = (await d.wait(lambda: d.of("transcript"), 60, "a transcript"))[0]
        text = tr["text"].lower()
        assert "capital" in text and "frança" in text, tr["text"]
        assert tr["language"] == "pt" and tr["model"].startswith("whisper-base")
        note = [f["text"] for f in d.of("notice", service="stt") if f["code"] == "stt-fallback"]
        assert note and "só inglês" not in note[0]


# -- voice -----------------------------------------------------------------------------------
def test_kokoro_is_intelligible_where_the_english_voice_is_not(ears, kokoro):
    from services.tts.engines import PiperEngine, bundled_voice

    joe = PiperEngine(bundled_voice(), "joe")
    sentences = ["Oi, eu sou a Luna, sua assistente.", "A capital do Brasil é Brasília."]
    w_k = np.mean([wer(s, ears.transcribe(_speak(kokoro, s)).text) for s in sentences])
    w_joe = np.mean([wer(s, ears.transcribe(_speak(joe, s)).text) for s in sentences])
    assert w_k <= 0.3 and w_k <= w_joe / 2, (w_k, w_joe)


def test_bilingual_voice_reads_each_language_with_its_voice(kokoro):
    from services.tts.engines import BilingualVoice, PiperEngine, bundled_voice

    v = BilingualVoice(PiperEngine(bundled_voice(), "joe"), make_pt=lambda: kokoro)
    assert v.wait_ready(60) and v.pt is kokoro and v.pt_error is None
    assert {r for r, _ in v.synthesize("Olá, tudo bem?", lambda: False)} == {24000}
    assert {r for r, _ in v.synthesize("Hello, how are you?", lambda: False)} == {22050}
    assert list(v.synthesize("Olá, tudo bem?", lambda: True)) == []
    # the reply's first piece is a word or two that says nothing of its language: the user's voice reads it,
    # and an undecided piece after an English one stays English (a name inside an English reply)
    assert {r for r, _ in v.synthesize("A capital", lambda: False)} == {24000}
    assert {r for r, _ in v.synthesize("Hello, how are you?", lambda: False)} == {22050}
    assert {r for r, _ in v.synthesize("Huawei", lambda: False)} == {22050}
    assert {r for r, _ in v.synthesize("Dom", lambda: False)} == {22050}
    assert {r for r, _ in v.synthesize("Dom Casmurro é um romance.", lambda: False)} == {24000}
    assert {r for r, _ in v.synthesize("Dom", lambda: False)} == {24000}


def _thread_nice() -> dict[int, int]:
    """Niceness of each thread of this process (field 19 of /proc/self/task/<tid>/stat)."""
    out = {}
    for t in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            out[int(t.name)] = int((t / "stat").read_text().rsplit(")", 1)[1].split()[16])
    return out


def test_kokoro_renders_at_the_services_priority_after_a_low_priority_load(data_home):
    """The file work runs at nice 10, but onnxruntime's worker threads keep the niceness of the
    thread that makes the session: they must not be left at 10, sharing a core with the LLM."""
    from services.tts.engines import BilingualVoice, PiperEngine, bundled_voice
    from services.tts.kokoro import model_path

    base = os.getpriority(os.PRIO_PROCESS, 0)
    seen: list[int] = []

    def prepare() -> str:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return model_path()

    before = set(_thread_nice())
    v = BilingualVoice(PiperEngine(bundled_voice(), "joe"), prepare_pt=prepare)
    assert v.wait_ready(120) and v.pt_error is None, v.pt_error
    assert seen == [10]  # the files were prepared at low priority
    new = {tid: n for tid, n in _thread_nice().items() if tid not in before}
    assert new and set(new.values()) == {base}, new  # Kokoro's session threads at the service's own priority
    assert {r for r, _ in v.synthesize("Olá, tudo bem?", lambda: False)} == {24000}


def test_bilingual_voice_without_kokoro_still_speaks():
    from services.tts.engines import BilingualVoice, PiperEngine, bundled_voice

    def broken():
        raise PackagedModelError("kokoro: missing part(s)")

    v = BilingualVoice(PiperEngine(bundled_voice(), "joe"), make_pt=broken)
    assert v.wait_ready(10) and "missing" in v.pt_error
    assert {r for r, _ in v.synthesize("Olá, tudo bem?", lambda: False)} == {22050}


def test_load_offline_picks_by_voice(tmp_path, monkeypatch, data_home):
    from services.tts.engines import BilingualVoice, PiperEngine, load_offline

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("LUNA_MODELS_DIR", str(data_home / "luna" / "models"))  # Kokoro already joined there
    eng, why = load_offline("pt_BR-faber-medium")
    assert isinstance(eng, BilingualVoice) and "piper.download_voices pt_BR-faber-medium" in why
    assert eng.wait_ready(60) and eng.pt_error is None and eng.model.startswith("kokoro-82m")
    eng2, why2 = load_offline("en_US-lessac-medium")
    assert isinstance(eng2, PiperEngine) and "joe" in eng2.model and why2
    voices = tmp_path / "luna" / "voices"
    voices.mkdir(parents=True)
    from services.tts.engines import bundled_voice

    src = bundled_voice()  # stands in for a fetched pt voice: a real Piper voice on disk wins
    (voices / "pt_BR-faber-medium.onnx").symlink_to(src)
    (voices / "pt_BR-faber-medium.onnx.json").symlink_to(f"{src}.json")
    eng3, why3 = load_offline("pt_BR-faber-medium")
    assert isinstance(eng3, PiperEngine) and why3 is None and eng3.model == "pt_BR-faber-medium"


# -- speech text -----------------------------------------------------------------------------
@pytest.mark.parametrize("raw,spoken", [
    ("Custa R$ 10,50.", "Custa 10 reais e 50 centavos."),
    ("São R$ 1,00 e R$ 1.200.", "São 1 real e 1.200 reais."),
    ("A reunião é às 14h30, ou 9h.", "A reunião é às 14 horas e 30, ou 9 horas."),
    ("O Dr. Silva e a Sra. Souza.", "O doutor Silva e a senhora Souza."),
    ("Faz 25°C e são 10 km.", "Faz 25 graus e são 10 quilômetros."),
    ("Abra o Power BI e o BigQuery.", "Abra o páuer bi ai e o big quéri."),
    ("Use SQL, pandas e dbt.", "Use SQL, pandas e dbt."),
])
def test_speech_pt(raw, spoken):
    from services.tts.portuguese import speech_pt

    assert speech_pt(raw) == spoken


def test_first_piece_and_language_guess():
    from services.tts.pieces import first_piece
    from services.tts.portuguese import guess_language

    assert first_piece("Oi, eu sou a Luna, sua assistente de voz.") == ("Oi,", "eu sou a Luna, sua assistente de voz.")
    assert first_piece("Hoje o dia está bonito e ensolarado no Rio.") == ("Hoje o dia está", "bonito e ensolarado no Rio.")
    assert first_piece("Tudo bem com você?") == ("Tudo bem com você?", "")
    assert guess_language("Qual é a capital da França?") == guess_language("o que voce quer") == "pt"
    assert guess_language("Hello there, what is the weather?") == "en"
    assert guess_language("A capital") is guess_language("Dom Casmurro") is guess_language("Ready.") is None


def test_decoding_loops_are_cut():
    from services.stt.engines import collapse_loops, max_tokens

    assert collapse_loops("1, 2, 7, 11, 8, 8, 8, 8, 8, 8, 8, 8,") == "1, 2, 7, 11, 8,"
    assert collapse_loops("não, não, não é isso") == "não, não, não é isso"  # three is speech, not a loop
    assert 40 <= max_tokens(2.6) <= 60 and max_tokens(600) == max_tokens(30)


@pytest.mark.integration
async def test_tts_service_speaks_portuguese_with_kokoro(start_service, tmp_path, data_home, ears):
    """The real tts service with the default TTS_VOICE (pt_BR-faber-medium, not downloaded): a Portuguese
    sentence comes out of playback in Kokoro's voice and Whisper hears it (which voice reads which language is
    test_bilingual_voice_reads_each_language_with_its_voice)."""
    from tests.support.audio import read_wav, rms

    out = tmp_path / "out.wav"
    env = {"LUNA_MODELS_DIR": str(data_home / "luna" / "models")}  # Kokoro already joined there
    async with Driver("brain", produce=("sentence",)) as d:
        start_service("playback", PLAYBACK_FILE=str(out), **env)
        start_service("tts", **env)
        await d.ready("tts", "playback", timeout=90)
        note = [n["text"] for n in d.of("notice", service="tts") if n["code"] == "tts-fallback"]
        assert note and "pt_BR-faber-medium" in note[0] and "Kokoro" in note[0]
        d.bus.publish("reply-start", intent="chat", provider="test", model="test", epoch=1)
        await d.push_until("sentence", "sentence", text="A capital do Brasil é Brasília.", epoch=1, index=0,
                           turn_id="t1")
        await d.push_until("sentence", "sentence", text="Hello there.", epoch=1, index=1, turn_id="t1")
        await d.wait(lambda: len(d.of("idle")) >= 2, 90, "both sentences played")
    audio, rate = read_wav(out)
    assert rms(audio) > 300
    heard = ears.transcribe(to_16k(audio, rate)).text
    assert "brasil" in heard.lower() and "brasília" in heard.lower(), heard
