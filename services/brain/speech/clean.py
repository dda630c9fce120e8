"""Reply text -> the words a voice reads: no emoji, no markdown, no link targets, no code.

Why one module: the screen shows the reply as the model wrote it (markdown, code, emoji
for chat replies removed by :func:`strip_emoji`); the voice must never read ``**``, a URL
or a code block aloud. :func:`for_speech` is the only place that rule lives: the
segmenter cleans every piece it hands to tts with it (a whole reply Luna answers herself
goes through the segmenter too). A fenced code block is never read: the segmenter says
:func:`code_notice` ("o código está na tela.") in the user's LANGUAGE instead.
"""

from __future__ import annotations

import re

from shared.i18n import say

#: Emoji: pictographs, emoticons, transport and supplemental symbols, misc symbols and
#: dingbats, arrows and stars used as emoji (⭐), regional indicators (flags), the zero-width
#: joiner, variation selectors, keycap, tag characters (subdivision flags).
_EMOJI = re.compile("[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff\U0001f1e6-\U0001f1ff"
                    "\u200d\ufe0e\ufe0f\u20e3\U000e0020-\U000e007f]+")
_MARKDOWN = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images -> their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> their text
    (re.compile(r"`([^`]*)`"), r"\1"),  # inline code -> words
    (re.compile(r"^\s*\|?[\s:|-]+\|[\s:|-]*$", re.M), " "),  # a table's |---|---| row
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])"), r"\1"),  # italics
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),  # headings
    (re.compile(r"^\s*>\s?", re.M), ""),  # quotes
    (re.compile(r"^\s*([-*+•]|\d+[.)])\s+", re.M), ""),  # bullets and numbered lists
    (re.compile(r"^\s*([-*_]\s*){3,}$", re.M), ""),  # rules
    (re.compile(r"[*#|]"), " "),  # leftover marks and table pipes: "2*3" is two words
    (re.compile(r"[`~]"), ""),
]
#: Still in a sentence but never read: a bare URL (its trailing dot stays), a link without text, technical
#: symbols (⌚ ⏰ ⌘ ⏎ ⌈ ⌉: shown, since they mean something on screen, but a voice would read them by name).
_UNREAD = re.compile(r"https?://\S*[^\s.,!?;:)]|\[\]\([^)]*\)|[\u2300-\u23ff]+")
_SPACE_BEFORE_MARK = re.compile(r"\s+([,.!?;:])")


def code_notice(lang: object = "pt") -> str:
    """The line said instead of a code block, in the user's language."""
    return say("speech.code-on-screen", lang)


def strip_emoji(text: str) -> str:
    """The reply as the screen shows it for chat: without emoji, the rest untouched."""
    out = _EMOJI.sub("", text)
    return re.sub(r"[ \t]{2,}", " ", out) if out != text else out


def _prose(text: str) -> str:
    """The reply's words without emoji and markdown, on one line (a bare URL still in)."""
    text = _EMOJI.sub("", text)
    for pat, rep in _MARKDOWN:
        text = pat.sub(rep, text)
    return " ".join(text.split())


def has_words(text: str) -> bool:
    """Whether a piece of reply says something: where the segmenter may end a sentence.

    A sentence that is only a URL counts: it ends where the model ended it, and
    :func:`for_speech` then leaves it silent, instead of gluing its dot to the next one.
    """
    return any(c.isalnum() for c in _prose(text))


def for_speech(text: str) -> str:
    """One piece of reply markdown -> plain words for tts ('' if nothing is left to say).

    The markdown pass runs again once the unread parts are out: a list item that began
    with a URL begins with its bullet then.
    """
    text = _SPACE_BEFORE_MARK.sub(r"\1", _prose(_UNREAD.sub(" ", _prose(text))))
    return text if any(c.isalnum() for c in text) else ""
