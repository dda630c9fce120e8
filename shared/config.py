"""Configuration: one table of every key, loaded from ``.env`` and the environment, validated.

Why a table: the same definitions produce the defaults, the validation and its
one-line error messages (naming the key), ``.env.example``'s documentation check,
and the redaction list for logs (every ``*_API_KEY`` value).

Precedence: real environment > ``.env`` (``LUNA_ENV_FILE`` or ./.env) > defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values


class ConfigError(ValueError):
    """A bad configuration value; ``str()`` is one line naming the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config error: {key}: {message}")
        self.key = key


@dataclass(frozen=True)
class Key:
    name: str
    default: Any
    kind: type = str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    secret: bool = False
    help: str = ""


_PROVIDERS_LLM = ("local", "ollama", "embedded", "gemini", "deepseek", "openai")

KEYS: tuple[Key, ...] = (
    # voice
    Key("TTS_PROVIDER", "local", str, ("local", "piper", "chatterbox", "elevenlabs"), help="text-to-speech engine"),
    Key("TTS_LOCAL_ENGINE", "piper", str, ("piper", "chatterbox")),
    Key("TTS_VOICE", "pt_BR-faber-medium", help="Piper voice name or path to .onnx"),
    Key("ELEVENLABS_API_KEY", "", secret=True),
    Key("ELEVENLABS_VOICE_ID", ""),
    Key("ELEVENLABS_MODEL", "eleven_flash_v2_5"),
    # ears
    Key("STT_PROVIDER", "local", str, ("local", "openai")),
    Key("STT_LOCAL", "small", help="faster-whisper model name or path"),
    Key("STT_COMPUTE_TYPE", "int8"),
    Key("STT_LANGUAGE", "pt"),
    Key("OPENAI_API_KEY", "", secret=True),
    Key("OPENAI_BASE_URL", ""),
    Key("STT_OPENAI_MODEL", "whisper-1"),
    Key("VAD_THRESHOLD", 0.5, float, low=0.0, high=1.0),
    Key("VAD_MIN_SILENCE_MS", 500, int, low=50, high=5000),
    Key("ECHO_MODE", "half-duplex", str, ("aec", "half-duplex", "off")),
    # audio devices
    Key("CAPTURE_DEVICE", "", help="input device name or index; empty = system default"),
    Key("CAPTURE_FILE", "", help="read the microphone from this WAV instead of a device"),
    Key("PLAYBACK_DEVICE", ""),
    Key("PLAYBACK_FILE", "", help="write what Luna says to this WAV instead of a device"),
    # --- voice additions
    Key("CAPTURE_FAST", "0", str, ("0", "1"), help="with CAPTURE_FILE: read as fast as stt takes it, not real time"),
    Key("CAPTURE_RING_S", 3.0, float, low=0.1, high=600, help="seconds of newest audio kept while stt is down"),
    Key("VAD_MIN_SPEECH_MS", 250, int, low=0, high=5000, help="shorter bursts are ignored"),
    Key("VAD_SPEECH_PAD_MS", 200, int, low=0, high=2000, help="audio kept before speech starts"),
    Key("VAD_BARGE_IN_MIN_SPEECH_MS", 150, int, low=0, high=5000,
        help="with ECHO_MODE=aec, the shortest burst that counts as speech while Luna speaks"),
    Key("STT_MAX_UTTERANCE_S", 30.0, float, low=1, high=600, help="longer speech is cut into pieces"),
    Key("STT_CONTINUE_MS", 1000, int, low=0, high=5000,
        help="voice again within this long after an utterance ended goes on with it: the two are transcribed "
             "as one and replace the first turn; 0 = off"),
    Key("STT_SPECULATIVE_MS", 64, int, low=0, high=5000,
        help="start transcribing after this much silence, before the end of speech is sure; 0 = off"),
    Key("PREEMPTIVE_REPLY", "1", str, ("0", "1"),
        help="1: start the reply on the pause's transcript and speak it once the end of speech is sure"),
    Key("PREEMPTIVE_SPEECH", "auto", str, ("auto", "0", "1"),
        help="the preemptive reply's first sentences are synthesized before the end of speech is sure and "
             "spoken at once when it is; auto: on for local voices, off for a paid one (a guess costs characters)"),
    # --- turn-taking and listen modes (issue 14)
    Key("TURN_MODEL", "", help="smart-turn v3 ONNX file; empty = the one make install fetched; off = silence rule only"),
    Key("TURN_PAUSE_MS", 64, int, low=32, high=2000, help="silence after which the end-of-turn model is asked"),
    Key("TURN_COMPLETE_PROB", 0.5, float, low=0.0, high=1.0,
        help="the model's P(complete) at or above this ends the turn at once"),
    Key("TURN_SURE_PROB", 0.85, float, low=0.0, high=1.0,
        help="between TURN_COMPLETE_PROB and this the model is unsure and the VAD silence rule decides"),
    Key("TURN_COMMIT_MIN_MS", 300, int, low=0, high=5000,
        help="a turn the model called complete still waits for this much silence (a breath is not an end)"),
    Key("TURN_MAX_SILENCE_MS", 1600, int, low=100, high=10000,
        help="silence that ends a turn the model called incomplete (a thinking pause is not cut)"),
    Key("TURN_BUDGET_MS", 350, int, low=10, high=5000,
        help="a model call slower than this is ignored and the VAD silence rule decides"),
    Key("LISTEN_MODE", "always", str, ("always", "name", "wake", "push"),
        help="always: every turn; name: only turns that start by calling Luna; wake: only after the wake word "
             "(WAKE_MODEL); push: only while a key holds the mic"),
    Key("WAKE_MODEL", "", str,
        help="wake mode: a bundled openWakeWord model (hey_jarvis, the default placeholder until a 'Luna' model "
             "is trained; okay_nabu, alexa, hey_mycroft, hey_rhasspy) or the path of a trained .tflite"),
    Key("WAKE_THRESHOLD", 0.5, float, low=0.01, high=1.0, help="wake mode: the model's score that counts as heard"),
    Key("FOLLOW_UP_S", 8.0, float, low=0.0, high=600,
        help="name/wake mode: seconds after Luna speaks when no name or wake word is needed"),
    Key("ELEVENLABS_BASE_URL", "https://api.elevenlabs.io"),
    Key("ELEVENLABS_OUTPUT_FORMAT", "pcm_22050", str, ("pcm_16000", "pcm_22050", "pcm_24000")),
    # brains
    Key("OLLAMA_HOST", "http://127.0.0.1:11434"),
    Key("OLLAMA_TIMEOUT", 60.0, float, low=0.1, high=3600),
    Key("FIRST_TOKEN_TIMEOUT", 30.0, float, low=0.1, high=3600, help="seconds to wait for the first token"),
    Key("LLM_STALL_TIMEOUT", 30.0, float, low=0.1, high=3600, help="seconds without a new token before a reply is abandoned"),
    Key("GEMINI_API_KEY", "", secret=True),
    Key("DEEPSEEK_API_KEY", "", secret=True),
    Key("DEEPSEEK_BASE_URL", "https://api.deepseek.com"),
    Key("GEMINI_BASE_URL", ""),
    Key("LLM_GGUF", "", help="GGUF for the embedded model (path or owner/repo:file.gguf); empty = the packaged Qwen2.5-Coder-0.5B, SmolLM2-135M as last resort"),
    Key("CHAT_PROVIDER", "local", str, _PROVIDERS_LLM),
    Key("CHAT_LOCAL", "dolphin-mistral"),
    Key("CHAT_GEMINI_MODEL", "gemini-2.5-flash"),
    Key("CHAT_TEMPERATURE", 0.85, float, low=0.0, high=2.0),
    Key("CHAT_MAX_TOKENS", 1024, int, low=1, high=131072),
    Key("CODE_PROVIDER", "local", str, _PROVIDERS_LLM),
    Key("CODE_LOCAL", "qwen2.5-coder:7b"),
    Key("CODE_API_MODEL", "deepseek-chat"),
    Key("CODE_TEMPERATURE", 0.3, float, low=0.0, high=2.0),
    Key("CODE_MAX_TOKENS", 4096, int, low=1, high=131072),
    Key("VISION_PROVIDER", "local", str, _PROVIDERS_LLM),
    Key("VISION_LOCAL", "minicpm-v"),
    Key("VISION_GEMINI_MODEL", "gemini-2.5-flash"),
    # bus (read by shared/endpoints.py, from the environment first): tcp means CURVE on every socket
    Key("LUNA_BUS", "ipc", str, ("ipc", "tcp"), help="ipc: one host, 0700 sockets; tcp: CURVE-encrypted ports"),
    Key("LUNA_BUS_HOST", "127.0.0.1", help="address this host's bus binds on (not loopback: LUNA_BUS_ALLOW_REMOTE=1)"),
    Key("LUNA_BUS_PORT", 47100, int, low=1024, high=65000, help="first of the bus's tcp ports"),
    Key("LUNA_BUS_ALLOW_REMOTE", "0", str, ("0", "1"), help="1: the bus may bind and connect beyond loopback"),
    Key("LUNA_SATELLITE_HOST", "", help="on the main host: the satellite's address (capture and playback run there)"),
    Key("LUNA_SATELLITE_OF", "", help="on a satellite: the main host's address (stt, brain and tts run there)"),
    Key("LUNA_PEER_KEY", "", help="the other host's public key (`luna keys show` there; `luna keys add` it too)"),
    # ui and logs
    Key("LANGUAGE", "pt", str, ("pt", "en")),
    Key("LOG_LEVEL", "INFO", str, ("DEBUG", "INFO", "WARNING", "ERROR")),
)
KEY_BY_NAME = {k.name: k for k in KEYS}


def _coerce(key: Key, raw: Any) -> Any:
    if raw is None:
        return key.default
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if key.kind is str:
        val: Any = text
        if key.choices and val.lower() not in key.choices:
            raise ConfigError(key.name, f"{text!r} is not one of {', '.join(key.choices)}")
        return val.lower() if key.choices else val
    if text == "":
        return key.default
    try:
        val = key.kind(text)
    except ValueError:
        raise ConfigError(key.name, f"{text!r} is not a {'number' if key.kind is float else 'whole number'}") from None
    if key.low is not None and val < key.low or key.high is not None and val > key.high:
        raise ConfigError(key.name, f"{val} is outside {key.low}..{key.high}")
    return val


def env_file() -> Path:
    return Path(os.environ.get("LUNA_ENV_FILE", ".env"))


class Settings(dict):
    """Validated settings: ``settings["CHAT_PROVIDER"]`` or ``settings.CHAT_PROVIDER``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def secrets(self) -> list[str]:
        """Values that must never be logged or put on the bus."""
        return [str(self[k.name]) for k in KEYS if k.secret and self.get(k.name)]


def load(env: dict[str, str] | None = None, path: Path | None = None) -> Settings:
    """Read ``.env`` plus the environment and validate every key (raises the first ConfigError).

    Used by ``luna check`` / ``make up`` so a bad value stops start-up with one line.
    """
    settings, errors = load_lenient(env, path)
    if errors:
        raise errors[0]
    return settings


def load_lenient(env: dict[str, str] | None = None, path: Path | None = None) -> tuple[Settings, list[ConfigError]]:
    """Like :func:`load` but never raises: bad keys fall back to their default and are returned.

    Services use this so a typo in ``.env`` becomes a notice in the UI instead of a
    crash loop under supervisord.
    """
    file_values: dict[str, str | None] = {}
    p = path or env_file()
    if p.is_file():
        file_values = dotenv_values(p)
    source = {**file_values, **(os.environ if env is None else env)}
    out = Settings()
    errors: list[ConfigError] = []
    for key in KEYS:
        try:
            out[key.name] = _coerce(key, source.get(key.name))
        except ConfigError as err:
            errors.append(err)
            out[key.name] = key.default
    for fn, need in _missing_paid_keys(out):
        errors.append(ConfigError(fn, f"{out[fn]} needs {need} (set it in .env, or use {fn}=local)"))
        out[fn] = "local"
    errors += _satellite_errors(out)
    return out, errors


def _satellite_errors(s: Settings) -> list[ConfigError]:
    """A satellite pair needs the tcp bus, consent to leave loopback and the peer's key."""
    out = []
    for key in ("LUNA_SATELLITE_HOST", "LUNA_SATELLITE_OF"):
        if s[key]:
            if s.LUNA_BUS != "tcp":
                out.append(ConfigError(key, "a satellite pair needs LUNA_BUS=tcp (CURVE on every socket)"))
            elif s.LUNA_BUS_ALLOW_REMOTE != "1":
                out.append(ConfigError(key, "the peer is another host: set LUNA_BUS_ALLOW_REMOTE=1 as well"))
            elif not s.LUNA_PEER_KEY:
                out.append(ConfigError(key, "set LUNA_PEER_KEY to the other host's key (`luna keys show` there)"))
    return out


_PAID_KEY = {"gemini": "GEMINI_API_KEY", "deepseek": "DEEPSEEK_API_KEY", "openai": "OPENAI_API_KEY",
             "elevenlabs": "ELEVENLABS_API_KEY"}


def _missing_paid_keys(s: Settings) -> list[tuple[str, str]]:
    out = []
    for fn in ("CHAT_PROVIDER", "CODE_PROVIDER", "VISION_PROVIDER", "STT_PROVIDER", "TTS_PROVIDER"):
        need = _PAID_KEY.get(s[fn])
        if need and not s[need]:
            out.append((fn, need))
    return out
