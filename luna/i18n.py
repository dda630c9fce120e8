"""The ``luna`` tool's language: the argument, else LANGUAGE from the environment or .env, else pt.

Why state here: ``make up``, ``luna diagnose`` and ``make models`` run before any service
and have no config object to pass along, so they read the language themselves. The lines
(``up.*``, ``diag.*``, ``models.*``, ``state.*``) live in shared/i18n with every other
process's; tests/unit/luna/test_cli_i18n.py reads the printed lines in ``LANGUAGE=pt``
and fails on English words.
"""

from __future__ import annotations

import os

from shared import i18n


def lang(language: str | None = None) -> str:
    """``pt`` or ``en``: the argument, else LANGUAGE from the environment or .env, else ``pt``."""
    if not language:
        language = os.environ.get("LANGUAGE")
    if not language:
        from shared import config

        language = config.load_lenient()[0].LANGUAGE
    return i18n.lang(language)


def t(key: str, language: str | None = None, /, **kw: object) -> str:
    """The line ``key`` in the user's language (Portuguese, then the key, when a language lacks it)."""
    return i18n.line(key, lang(language), **kw)


def state(name: str, language: str | None = None) -> str:
    """A service state (``ready``, ``no-device``...) as the user reads it."""
    return t(f"state.{name}", language) if f"state.{name}" in i18n.STRINGS["pt"] else name
