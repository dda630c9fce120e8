"""``luna models``: fetch the configured models once, with progress bars, before the services start.

Why a separate step: the services themselves never touch the network (the bus
carries the microphone and Luna promises to work offline), so a model that is not
on disk makes a service fall back to the small bundled one with a notice. ``make
up`` runs this step first, which is the "first use" where a person sees the
download happen; offline it fails fast and says which fallback will answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from shared.config import Settings


def voices_dir() -> Path:
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "luna" / "voices"


def whisper(name: str, out: Callable[[str], None]) -> bool:
    """Make sure faster-whisper model ``name`` (a hub name or a path) is on disk."""
    if not name or Path(name).exists():
        return True
    from faster_whisper.utils import download_model

    try:
        download_model(name, local_files_only=True)
        out(f"  stt      whisper {name}: present")
        return True
    except Exception:
        pass
    out(f"  stt      whisper {name}: downloading...")
    try:
        download_model(name)  # huggingface_hub shows its own progress bars
        out(f"  stt      whisper {name}: done")
        return True
    except Exception as exc:
        out(f"  stt      whisper {name}: could not download ({type(exc).__name__}); "
            "the bundled tiny.en (English) will listen")
        return False


def piper_voice(voice: str, out: Callable[[str], None]) -> bool:
    """Make sure Piper voice ``voice`` is in Luna's voices directory (or is a path)."""
    if not voice or voice.endswith(".onnx") and Path(voice).exists():
        return True
    d = voices_dir()
    if (d / f"{voice}.onnx").exists():
        out(f"  tts      piper {voice}: present")
        return True
    d.mkdir(parents=True, exist_ok=True)
    out(f"  tts      piper {voice}: downloading...")
    r = subprocess.run([sys.executable, "-m", "piper.download_voices", voice, "--data-dir", str(d)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode == 0 and (d / f"{voice}.onnx").exists():
        out(f"  tts      piper {voice}: done")
        return True
    out(f"  tts      piper {voice}: could not download; the bundled en_US-joe-medium voice will speak")
    return False


def ollama_models(s: Settings, out: Callable[[str], None]) -> bool:
    """Pull the configured Ollama models that are missing, if Ollama runs; progress as a bar."""
    import httpx
    import ollama

    wanted = [m for prov, m in ((s.CHAT_PROVIDER, s.CHAT_LOCAL), (s.CODE_PROVIDER, s.CODE_LOCAL),
                                (s.VISION_PROVIDER, s.VISION_LOCAL)) if prov in ("local", "ollama")]
    client = ollama.Client(host=s.OLLAMA_HOST, timeout=httpx.Timeout(5.0, read=600.0))
    try:
        have = {m.model for m in client.list().models}
    except Exception:
        out(f"  brain    Ollama not running at {s.OLLAMA_HOST}: the tiny embedded model will answer "
            "(install Ollama, then `ollama pull dolphin-mistral`)")
        return False
    ok = True
    for m in dict.fromkeys(wanted):
        if m in have or f"{m}:latest" in have:
            out(f"  brain    ollama {m}: present")
            continue
        try:
            for p in client.pull(m, stream=True):
                if p.total and p.completed:
                    pct = 100 * p.completed / p.total
                    bar = "#" * int(pct / 5)
                    print(f"\r  brain    ollama {m}: [{bar:<20}] {pct:5.1f}% {p.status or ''}", end="", flush=True)
            print()
            out(f"  brain    ollama {m}: done")
        except Exception as exc:
            print()
            out(f"  brain    ollama {m}: could not pull ({exc}); another model will answer")
            ok = False
    return ok


def fetch_all(s: Settings, out: Callable[[str], None] = print) -> bool:
    out("models:")
    results = []
    if s.STT_PROVIDER == "local":
        results.append(whisper(s.STT_LOCAL, out))
    if s.TTS_PROVIDER in ("local", "piper"):
        results.append(piper_voice(s.TTS_VOICE, out))
    results.append(ollama_models(s, out))
    return all(results)
