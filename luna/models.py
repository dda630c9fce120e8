"""``luna models``: fetch the configured models once, with progress bars, before the services start.

Why a separate step: the services themselves never touch the network (the bus
carries the microphone and Luna promises to work offline), so a model that is not
on disk makes a service fall back to the small bundled one with a notice. ``make
up`` runs this step first, which is the "first use" where a person sees the
download happen; offline it fails fast and says, in one line in the user's
language, why and which fallback will answer.

What is fetched, all from the model hub at ``HF_ENDPOINT`` (huggingface.co) through
:mod:`luna.fetch` (resumable, sha256-checked):

* Whisper ``STT_LOCAL`` (``small`` means ``Systran/faster-whisper-small``, as in
  faster-whisper) into the hub cache, where faster-whisper's ``local_files_only``
  load finds it;
* the Piper voice ``TTS_VOICE`` from ``rhasspy/piper-voices`` (the layout
  ``pt/pt_BR/faber/medium/pt_BR-faber-medium.onnx`` that ``piper.download_voices``
  uses) into Luna's voices folder;
* ``LLM_GGUF`` when it is a hub reference: ``owner/repo[@revision]:file.gguf``, e.g.
  ``Qwen/Qwen2.5-0.5B-Instruct-GGUF:qwen2.5-0.5b-instruct-q4_k_m.gguf``, into the hub
  cache (:func:`gguf_file` finds it offline for the brain);
* the configured Ollama models, pulled by a running Ollama.
"""

from __future__ import annotations

import fnmatch
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from luna.fetch import FetchError, Hub
from luna.i18n import t
from luna.progress import Bar, human
from shared.config import Settings
from shared.i18n import STRINGS
from shared.paths import cached, has_model, parse_gguf_ref, voices_dir  # the rules services read too

Out = Callable[[str], None]

WHISPER_FILES = ("config.json", "preprocessor_config.json", "tokenizer.json", "vocabulary.*", "model.bin")
PIPER_REPO = "rhasspy/piper-voices"
_VOICE = re.compile(r"^(?P<lang>[a-z]{2,3}_[A-Z]{2})-(?P<name>[A-Za-z0-9_]+)-(?P<quality>x_low|low|medium|high)$")

def say(lang: str, msg: str, **kw: object) -> str:
    """A ``make models`` line from the catalogue (shared/i18n, ``models.*``)."""
    return t(f"models.{msg}", lang, **kw)


def failure_line(lang: str, role: str, label: str, err: FetchError, key: str) -> str:
    """The one line a person reads when a model could not be fetched: what, why, who answers, what to run."""
    i = err.info
    fields = {"host": i.get("host", ""), "what": i.get("what", label), "key": key, "detail": err.detail,
              "where": i.get("where", ""), "need": human(i.get("need") or 0), "free": human(i.get("free") or 0),
              "got": human(i.get("got") or 0), "size": human(i.get("size") or 0)}
    reason = say(lang, err.kind if f"models.{err.kind}" in STRINGS["pt"] else "http", **fields)
    fix = say(lang, "retry-disk" if err.kind == "disk-full" else "retry")
    return f"  {role:<8} {label}: {reason}; {say(lang, role)}. {fix}"


# -- names -> hub files -------------------------------------------------------------------
def whisper_repo(name: str) -> str | None:
    """``small`` -> ``Systran/faster-whisper-small`` (faster-whisper's table); a repo id as is; a path -> None."""
    if not name or Path(name).expanduser().exists() or name.startswith(("/", "~", ".")):
        return None
    if "/" in name:
        return name
    try:
        from faster_whisper.utils import _MODELS
    except ImportError:
        return f"Systran/faster-whisper-{name}"
    return _MODELS.get(name)


def whisper_cached(name: str) -> bool:
    """Is the Whisper model complete in the hub cache (``model.bin`` is fetched last, so it says so)?"""
    repo = whisper_repo(name)
    return repo is not None and cached(repo, "model.bin") is not None and cached(repo, "config.json") is not None


def piper_files(voice: str) -> list[str] | None:
    """``pt_BR-faber-medium`` -> its two files in rhasspy/piper-voices (config first, model last)."""
    m = _VOICE.match(voice)
    if not m:
        return None
    lang = m["lang"]
    base = f"{lang.split('_')[0]}/{lang}/{m['name']}/{m['quality']}/{voice}"
    return [f"{base}.onnx.json", f"{base}.onnx"]


# -- one model each ---------------------------------------------------------------------------
class Fetcher:
    """One ``luna models`` run: one hub connection, the user's language, where lines and bars go."""

    def __init__(self, lang: str = "pt", out: Out = print, stream: IO[str] | None = None,
                 hub: Hub | None = None) -> None:
        self.lang = lang
        self.out = out
        self.stream = stream or sys.stderr
        self.hub = hub or Hub()

    def bar(self, label: str) -> Callable[[str, int | None, int], Bar]:
        """A progress bar per file; files under 1 MB (configs, tokenizers' vocabularies) get none: noise."""
        def make(name: str, total: int | None, initial: int) -> Bar:
            out = self.stream if total is None or total >= 1_000_000 else io.StringIO()
            return Bar(f"{label} {Path(name).name}", total, initial, out)
        return make

    def _line(self, role: str, label: str, msg: str, **kw: object) -> None:
        self.out(f"  {role:<8} {label}: {say(self.lang, msg, **kw)}")

    def whisper(self, name: str) -> bool:
        """Make sure faster-whisper model ``name`` (a size, a hub repo or a path) is on disk."""
        repo = whisper_repo(name)
        label = f"whisper {name}"
        if repo is None or whisper_cached(name):
            if repo is not None:
                self._line("stt", label, "present")
            return True
        try:
            commit = self.hub.commit(repo)
            listed = self.hub.files(repo, commit)
            wanted = [f for pat in WHISPER_FILES for f in listed if fnmatch.fnmatch(f, pat)]
            total = 0
            for f in dict.fromkeys(wanted):
                r = self.hub.head(repo, f, commit)
                r.revision = "main"
                self.hub.to_cache(r, self.bar(f"  stt      {label}"))
                total += r.size or 0
        except FetchError as err:
            self.out(failure_line(self.lang, "stt", label, err, "STT_LOCAL"))
            return False
        self._line("stt", label, "done", size=human(total))
        return True

    def piper_voice(self, voice: str) -> bool:
        """Make sure Piper voice ``voice`` is in Luna's voices folder (or is a path to an .onnx)."""
        if not voice or voice.endswith(".onnx"):
            return not voice or Path(voice).expanduser().is_file()
        label = f"piper {voice}"
        d = voices_dir()
        if (d / f"{voice}.onnx").is_file() and (d / f"{voice}.onnx.json").is_file():
            self._line("tts", label, "present")
            return True
        files = piper_files(voice)
        if files is None:
            err = FetchError("not-found", voice, what=voice)
            self.out(failure_line(self.lang, "tts", label, err, "TTS_VOICE"))
            return False
        total = 0
        try:
            for f in files:
                dest = d / Path(f).name
                if dest.is_file():
                    continue
                r = self.hub.head(PIPER_REPO, f)
                self.hub.download(r, dest, self.bar("  tts      piper"))
                total += r.size or 0
        except FetchError as err:
            self.out(failure_line(self.lang, "tts", label, err, "TTS_VOICE"))
            return False
        self._line("tts", label, "done", size=human(total))
        return True

    def gguf(self, value: str) -> bool:
        """Fetch ``LLM_GGUF`` when it names a hub file; a path or empty value needs nothing."""
        ref = parse_gguf_ref(value)
        if ref is None:
            return True
        repo, rev, name = ref
        label = f"gguf {name}"
        if cached(repo, name, rev) is not None:
            self._line("brain", label, "present")
            return True
        try:
            r = self.hub.head(repo, name, rev)
            self.hub.to_cache(r, self.bar("  brain    gguf"))
        except FetchError as err:
            self.out(failure_line(self.lang, "brain", label, err, "LLM_GGUF"))
            return False
        self._line("brain", label, "done", size=human(r.size or 0))
        return True


def _close(bars: dict[str, Bar]) -> None:
    for b in bars.values():
        b.close()
    bars.clear()


def ollama_models(s: Settings, out: Out, lang: str = "pt", stream: IO[str] | None = None) -> bool:
    """Pull the configured Ollama models that are missing, if Ollama runs; a bar (size, speed) per layer."""
    import httpx
    import ollama

    wanted = [m for prov, m in ((s.CHAT_PROVIDER, s.CHAT_LOCAL), (s.CODE_PROVIDER, s.CODE_LOCAL),
                                (s.VISION_PROVIDER, s.VISION_LOCAL)) if prov in ("local", "ollama")]
    if not wanted:
        return True
    client = ollama.Client(host=s.OLLAMA_HOST, timeout=httpx.Timeout(5.0, read=600.0))
    try:
        have = {m.model for m in client.list().models}
    except Exception:
        out(f"  brain    {say(lang, 'ollama-down', host=s.OLLAMA_HOST, model=wanted[0])}")
        return False
    ok = True
    for m in dict.fromkeys(wanted):
        if has_model(have, m):
            out(f"  brain    ollama {m}: {say(lang, 'present')}")
            continue
        bars: dict[str, Bar] = {}  # the layer being pulled (one at a time)
        try:
            for p in client.pull(m, stream=True):
                if not (p.digest and p.total):
                    continue
                if p.digest not in bars:
                    _close(bars)
                    bars[p.digest] = Bar(f"  brain    ollama {m} {p.digest.removeprefix('sha256:')[:12]}",
                                         p.total, 0, stream or sys.stderr)
                bar = bars[p.digest]
                bar.update((p.completed or 0) - bar.done)
            _close(bars)
            out(f"  brain    ollama {m}: {say(lang, 'pulled')}")
        except Exception as exc:
            _close(bars)
            out(f"  brain    ollama {m}: {say(lang, 'ollama-fail', err=exc)}")
            ok = False
    return ok


def fetch_all(s: Settings, out: Out = print, stream: IO[str] | None = None, hub: Hub | None = None) -> bool:
    """Every configured model, in the order the services start; True when all are on disk."""
    lang = s.get("LANGUAGE", "pt")
    f = Fetcher(lang, out, stream, hub)
    out(say(lang, "title"))
    results = []
    try:
        if s.STT_PROVIDER == "local":
            results.append(f.whisper(s.STT_LOCAL))
        if s.TTS_PROVIDER in ("local", "piper"):
            results.append(f.piper_voice(s.TTS_VOICE))
        results.append(f.gguf(s.get("LLM_GGUF", "")))
    except KeyboardInterrupt:
        out(f"\n{say(lang, 'stopped')}")  # Ctrl+C: the .part files stay, the next run resumes them
        raise
    finally:
        if hub is None:
            f.hub.close()
    results.append(ollama_models(s, out, lang, stream))
    return all(results)
