"""Config: defaults, validation messages that name the key, secrets redacted."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from shared import config, logs


def test_defaults_follow_the_seed(tmp_path: Path) -> None:
    s = config.load(env={}, path=tmp_path / "none")
    assert s.CHAT_PROVIDER == "local" and s.CHAT_LOCAL == "dolphin-mistral"
    assert s.CODE_LOCAL == "qwen2.5-coder:7b" and s.VISION_LOCAL == "minicpm-v"
    assert s.CHAT_TEMPERATURE == 0.85 and s.CODE_MAX_TOKENS == 4096


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    p = tmp_path / ".env"
    p.write_text("CHAT_TEMPERATURE=0.5\nCHAT_LOCAL=llama3\n")
    s = config.load(env={"CHAT_LOCAL": "hermes"}, path=p)
    assert s.CHAT_TEMPERATURE == 0.5 and s.CHAT_LOCAL == "hermes"


@pytest.mark.parametrize("env,key,words", [
    ({"CHAT_TEMPERATURE": "quente"}, "CHAT_TEMPERATURE", "not a number"),
    ({"CHAT_PROVIDER": "skynet"}, "CHAT_PROVIDER", "not one of"),
    ({"CODE_MAX_TOKENS": "1.5"}, "CODE_MAX_TOKENS", "whole number"),
    ({"CHAT_TEMPERATURE": "9"}, "CHAT_TEMPERATURE", "outside"),
    ({"CHAT_PROVIDER": "gemini"}, "CHAT_PROVIDER", "GEMINI_API_KEY"),
    ({"TTS_PROVIDER": "elevenlabs"}, "TTS_PROVIDER", "ELEVENLABS_API_KEY"),
])
def test_bad_values_give_one_line_naming_the_key(tmp_path: Path, env, key, words) -> None:
    with pytest.raises(config.ConfigError) as exc:
        config.load(env=env, path=tmp_path / "none")
    msg = str(exc.value)
    assert exc.value.key == key and key in msg and words in msg and "\n" not in msg


def test_lenient_load_falls_back_and_reports(tmp_path: Path) -> None:
    s, errors = config.load_lenient(env={"CHAT_TEMPERATURE": "x", "CODE_PROVIDER": "deepseek"}, path=tmp_path / "n")
    assert s.CHAT_TEMPERATURE == 0.85 and s.CODE_PROVIDER == "local"
    assert [e.key for e in errors] == ["CHAT_TEMPERATURE", "CODE_PROVIDER"]


def test_api_keys_are_redacted_from_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    canary = "sk-canary-0123456789"
    s = config.load(env={"GEMINI_API_KEY": canary, "CHAT_PROVIDER": "gemini"}, path=tmp_path / "n")
    logs.add_secrets(s.secrets())
    log = logs.setup("test", to_file=False)
    log.error("provider said: bad key %s", canary)
    try:
        raise RuntimeError(f"401 for {canary}")
    except RuntimeError:
        log.exception("boom")
    err = capsys.readouterr().err
    assert canary not in err and "***" in err
    logging.getLogger().handlers.clear()


def test_env_example_documents_every_key() -> None:
    text = (Path(__file__).resolve().parents[3] / ".env.example").read_text()
    missing = [k.name for k in config.KEYS if k.name not in text]
    assert not missing, f".env.example lacks {missing}"
