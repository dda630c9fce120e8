"""Post-processing (seed 7.2): what the voice says is not what the screen shows.

* ``strip_emoji`` removes emoji (and their joiners/variation selectors) from
  the persona's text; code is left alone by the caller.
* ``for_speech`` turns one sentence of markdown into something a TTS voice can
  say: no emoji, no ``**``/``#``/bullets/links markup, inline code kept as words.
* a fenced code block is never read aloud: it becomes one short line,
  :func:`code_notice` ("o código está na tela").
"""

from __future__ import annotations

import re

_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, supplemental symbols, chess, etc.
    "\U00002600-\U000027bf"  # misc symbols, dingbats
    "\U00002b00-\U00002bff"  # arrows and stars used as emoji (⭐)
    "\U0001f1e6-\U0001f1ff"  # regional indicators (flags)
    "\u200d\ufe0e\ufe0f\u20e3"  # zero-width joiner, variation selectors, keycap
    "\U000e0020-\U000e007f"  # tag characters (subdivision flags)
    "]+"
)

_NOTICE = {"pt": "o código está na tela.", "en": "the code is on screen."}


def code_notice(lang: str = "pt") -> str:
    return _NOTICE.get(lang, _NOTICE["pt"])


def strip_emoji(text: str) -> str:
    out = _EMOJI.sub("", text)
    return re.sub(r"[ \t]{2,}", " ", out) if out != text else out


_MD = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> their text
    (re.compile(r"`([^`]*)`"), r"\1"),  # inline code -> words
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])"), r"\1"),  # italics
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),  # headings
    (re.compile(r"^\s*>\s?", re.M), ""),  # quotes
    (re.compile(r"^\s*([-*+•]|\d+[.)])\s+", re.M), ""),  # bullets and numbered lists
    (re.compile(r"^\s*([-*_]\s*){3,}$", re.M), ""),  # rules
    (re.compile(r"\|"), " "),  # table pipes
    (re.compile(r"[*#`~]"), ""),  # leftovers
]


def strip_markdown(text: str) -> str:
    for pat, rep in _MD:
        text = pat.sub(rep, text)
    return text


def for_speech(text: str) -> str:
    """One sentence of reply markdown -> plain words for TTS ('' if nothing is left to say)."""
    text = strip_markdown(strip_emoji(text))
    text = " ".join(text.split())
    return text if any(c.isalnum() for c in text) else ""
