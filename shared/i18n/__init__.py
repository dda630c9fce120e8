"""Every line any Luna process shows or says to a person, looked up in the user's language (pt default, en).

Why one catalogue: the UI, the services (notices, heartbeat problems, the brain's lines)
and the ``luna`` tool (``make up`` progress, ``luna diagnose``, ``make models``) each kept
their own table, so a Portuguese user could still meet a line that one table lacked.
Now there is one table per language, :mod:`shared.i18n.pt` and :mod:`shared.i18n.en`;
``shared/`` so every service, the UI and ``luna`` read it without importing each other.
The UI and ``luna`` keep only their language state (services/ui/i18n.py, luna/i18n.py).
"""

from __future__ import annotations

from shared.i18n import en, pt

STRINGS: dict[str, dict[str, str]] = {"pt": pt.LINES, "en": en.LINES}


def lang(language: object) -> str:
    """``pt`` or ``en`` from a LANGUAGE value (``pt`` for anything else, the default)."""
    code = str(language or "pt").strip().lower()[:2]
    return code if code in STRINGS else "pt"


def say(key: str, language: object = "pt", /, **fields: object) -> str:
    """The line ``key`` in ``language`` with its ``{fields}`` filled (Portuguese when a language lacks it).

    An unknown key raises: a service names its lines in code, so a typo must fail its tests.
    """
    text = STRINGS[lang(language)].get(key) or STRINGS["pt"][key]
    return text.format(**fields) if fields else text


def line(key: str, language: object = "pt", /, **fields: object) -> str:
    """Like :func:`say`, but an unknown key reads as itself.

    Why: the UI and ``luna`` build some keys from what they receive (a service state, a
    metric name), and an unexpected one must show as it came rather than break the screen.
    """
    table = STRINGS[lang(language)]
    text = table.get(key) or STRINGS["pt"].get(key) or key
    return text.format(**fields) if fields else text
