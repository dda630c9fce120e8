"""The UI's current language (``LANGUAGE``: pt default, en); its lines live in shared/i18n.

Why state here: the UI sets the language once from its config and every widget then asks
:func:`t` without passing it around.
"""

from __future__ import annotations

from shared import i18n

_lang = "pt"


def set_language(lang: str | None) -> str:
    global _lang
    _lang = i18n.lang(lang)
    return _lang


def language() -> str:
    return _lang


def t(key: str, **kw: object) -> str:
    """The string ``key`` in the current language (falls back to Portuguese, then the key)."""
    return i18n.line(key, _lang, **kw)
