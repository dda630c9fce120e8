"""Text as it should be spoken: no emojis, no markdown, no code."""

from __future__ import annotations

import re

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S*[^\s.,!?;:)]")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M)
_QUOTE = re.compile(r"^\s*>\s?", re.M)
_EMPH = re.compile(r"(\*{1,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_UNDER = re.compile(r"(?<!\w)(_{1,3})(?=\S)(.+?)(?<=\S)\1(?!\w)")
_TABLE = re.compile(r"^\s*\|?[\s:|-]+\|[\s:|-]*$", re.M)
_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F900-\U0001F9FF\U00002B00-\U00002BFF"
    "\U0000FE0F\U0000200D\U000020E3\U0001F1E6-\U0001F1FF\U00002300-\U000023FF]+")
_SPACES = re.compile(r"[ \t]+")


def speakable(text: str, code_phrase: str = "the code is on screen") -> str:
    """Strip what a voice should not read: code, markdown marks, links' targets, emojis."""
    t = _CODE_BLOCK.sub(f" {code_phrase}. " if code_phrase else " ", text)
    t = _INLINE_CODE.sub(r"\1", t)
    t = _LINK.sub(r"\1", t)
    t = _URL.sub(" ", t)
    t = _TABLE.sub(" ", t)
    t = _HEADING.sub("", t)
    t = _BULLET.sub("", t)
    t = _QUOTE.sub("", t)
    t = _EMPH.sub(r"\2", t)
    t = _UNDER.sub(r"\2", t)
    t = _EMOJI.sub(" ", t)
    t = t.replace("|", " ").replace("*", " ").replace("#", " ")
    t = _SPACES.sub(" ", t.replace("\n", " ")).strip()
    t = re.sub(r"\s+([,.!?;:])", r"\1", t)
    return "" if not re.search(r"\w", t) else t


_CLAUSE = re.compile(r"(?<=[,;:])\s+")


def clauses(text: str, min_words: int = 3) -> list[str]:
    """Split a long sentence at , ; : into pieces of at least ``min_words`` words.

    Piper needs time in proportion to the text, so synthesizing the first clause
    alone gets the first audio out sooner; the rest is ready long before it is due.
    """
    parts = _CLAUSE.split(text)
    out: list[str] = []
    for part in parts:
        if out and (len(out[-1].split()) < min_words or len(part.split()) < min_words):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out
