"""The one catalogue (shared/i18n) is complete in both languages, key by key.

Why: every line any Luna process shows or says (UI, service notices, the brain's lines,
``make up`` progress, ``luna diagnose``) comes from shared/i18n/pt.py and en.py; a key in
one file only, a ``{field}`` spelled differently, an empty line or a Portuguese line left
in English reaches the user as a KeyError, a blank or the wrong language. The English-word
walks of each process's lines are in test_service_i18n.py, tests/unit/luna/test_cli_i18n.py
and tests/system/test_ui_live.py.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from shared import i18n

#: Lines that read the same in both languages: names, commands, units, layouts.
SAME_IN_BOTH = {
    "title", "luna",  # Luna
    "m_stt_s", "m_chunks", "mic", "short_mute", "msgs", "short_history",  # Whisper (STT), chunks/s, mic, msg, Hist.
    "arg_history", "notice_prefix", "up_summary", "up.service", "diag.restart_why", "level.ok",  # layouts, ok
}


def placeholders(text: str) -> set[str]:
    """The ``{name:spec}`` fields of a line, spec included (``{s:.0f}`` in one and ``{s}`` in the other differ)."""
    return {f"{name}:{spec}" for _, name, spec, _ in string.Formatter().parse(text) if name is not None}


def test_both_languages_have_the_same_keys() -> None:
    pt, en = set(i18n.STRINGS["pt"]), set(i18n.STRINGS["en"])
    assert pt == en, {"only pt": sorted(pt - en), "only en": sorted(en - pt)}
    assert len(pt) > 300  # the UI's, the services' and luna's lines, not one of them


@pytest.mark.parametrize("language", ["pt", "en"])
def test_no_key_is_written_twice(language: str) -> None:
    """A dict literal keeps the last of two equal keys silently: two processes' lines would collide unseen."""
    source = (Path(i18n.__file__).parent / f"{language}.py").read_text(encoding="utf-8")
    table = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Dict))
    keys = [k.value for k in table.keys if isinstance(k, ast.Constant)]
    assert len(keys) == len(table.keys) == len(i18n.STRINGS[language]), sorted(k for k in keys if keys.count(k) > 1)


def test_every_line_has_the_same_placeholders_in_both() -> None:
    pt, en = i18n.STRINGS["pt"], i18n.STRINGS["en"]
    differ = {k: (placeholders(pt[k]), placeholders(en[k])) for k in pt if placeholders(pt[k]) != placeholders(en[k])}
    assert not differ, differ


@pytest.mark.parametrize("language", ["pt", "en"])
def test_no_line_is_empty(language: str) -> None:
    empty = [k for k, v in i18n.STRINGS[language].items() if not isinstance(v, str) or not v.strip()]
    assert not empty, empty


def test_portuguese_is_not_the_english_line() -> None:
    """A pt line equal to its en line is an untranslated line, unless it is a name or a layout listed above."""
    pt, en = i18n.STRINGS["pt"], i18n.STRINGS["en"]
    same = {k for k in pt if pt[k] == en[k]}
    assert same - SAME_IN_BOTH == set(), {k: pt[k] for k in same - SAME_IN_BOTH}
    assert SAME_IN_BOTH - same == set(), SAME_IN_BOTH - same  # a listed line that now differs leaves the list


def test_lookups_fall_back_as_each_process_expects() -> None:
    """Services' ``say`` fails on an unknown key; the UI's and luna's ``line`` shows it as it came."""
    assert i18n.say("capture.no-device", "fr", why="X") == i18n.say("capture.no-device", "pt", why="X")
    assert i18n.line("state_idle", "en") == "ready" and i18n.line("state_idle", "pt") == "pronta"
    assert i18n.line("no-such-key", "en") == "no-such-key"
    with pytest.raises(KeyError):
        i18n.say("no-such-key", "en")
