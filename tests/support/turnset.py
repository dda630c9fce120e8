"""The turn-taking set (tests/support/data/turns.tsv) spoken by espeak-ng: used by the tests and bench_turn.

Why SSML breaks rather than two separate phrases: a prefix spoken alone ("eu queria
saber se.") gets a sentence-final fall in pitch, which is exactly the cue a person
does not give when they stop to think. One sentence with a ``<break>`` inside keeps
the mid-sentence intonation before the pause, as a speaker who is not done has.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tests.support.audio import to_16k

SET = Path(__file__).parent / "data" / "turns.tsv"
VOICES = {"pt": ("pt-br", "pt-br+f3", "pt-br+m3"), "en": ("en-us", "en-gb+f2", "en-us+m3")}
LEVEL = 300  # |sample| above this is voice (espeak's silence is digital zero)


@dataclass(frozen=True)
class Item:
    lang: str
    kind: str  # complete | cut
    first: str
    rest: str = ""


def load(path: Path = SET) -> list[Item]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        out.append(Item(cols[0], cols[1], cols[2], cols[3] if len(cols) > 3 else ""))
    return out


@lru_cache(maxsize=256)
def _espeak(ssml: str, voice: str, speed: int) -> bytes:
    exe = shutil.which("espeak-ng")
    if exe is None:
        import pytest

        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    wav = subprocess.run([exe, "-m", "-v", voice, "-s", str(speed), "--stdout", ssml], check=True,
                         capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()
        rate = w.getframerate()
    return to_16k(audio, rate).tobytes()


def _trim(audio: np.ndarray) -> np.ndarray:
    on = np.nonzero(np.abs(audio) > LEVEL)[0]
    return audio[on[0]:on[-1] + 1] if len(on) else audio[:0]


def espeak16(text: str, voice: str = "en-us", speed: int = 150) -> np.ndarray:
    """``text`` at 16 kHz, without espeak's leading and trailing silence."""
    return _trim(np.frombuffer(_espeak(f"<speak>{_esc(text)}</speak>", voice, speed), dtype=np.int16))


def speech_with_pause(first: str, rest: str, voice: str, pause_s: float, speed: int = 150) -> tuple[np.ndarray, int]:
    """One sentence with a thinking pause of ``pause_s`` after ``first``: (audio, sample where the pause starts)."""
    ms = int(pause_s * 1000)
    audio = _trim(np.frombuffer(_espeak(f'<speak>{_esc(first)} <break time="{ms}ms"/> {_esc(rest)}</speak>',
                                        voice, speed), dtype=np.int16))
    on = np.nonzero(np.abs(audio) > LEVEL)[0]
    gaps = np.nonzero(np.diff(on) > int(0.6 * pause_s * 16000))[0]
    if not len(gaps):
        raise ValueError(f"no pause found in {first!r} / {rest!r}")
    return audio, int(on[gaps[0]]) + 1


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
