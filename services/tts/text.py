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


# -- Portuguese text as a voice should read it --------------------------------------------
# espeak-ng's pt-br rules already read plain numbers, "3,5", "50%", "1º" and "etc." well;
# these are what it gets wrong (measured by ear and by the round-trip bench): money, the
# "14h30" way of writing times, units, common abbreviations whose period ends the sentence
# for the phonemizer, and the English product names a Brazilian says the English way (each kept
# only where the round trip heard it better: "pipeline" read by espeak's own rules was heard
# right and "páip láin" was not, so it is not respelled).
_PT_ABBR = {"Dr.": "doutor", "Dra.": "doutora", "Sr.": "senhor", "Sra.": "senhora", "Srta.": "senhorita",
            "Prof.": "professor", "Profa.": "professora", "Av.": "avenida", "n.º": "número", "nº": "número",
            "ex.:": "por exemplo:", "p.ex.": "por exemplo", "vs.": "versus", "aprox.": "aproximadamente",
            "obs.:": "observação:", "pág.": "página", "tel.": "telefone"}
_PT_ABBR_RE = re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in sorted(_PT_ABBR, key=len, reverse=True))
                         + r")(?=\s|$)", re.I)
_PT_TERMS = {"power bi": "páuer bi ai", "bigquery": "big quéri", "python": "páiton", "github": "guit rãb",
             "google": "gúgou", "excel": "écsel", "dataframe": "dêita frêime", "dashboard": "déchbord",
"query": "quéri", "queries": "quéris", "notebook": "nôutbuk",
             "jupyter": "júpiter", "docker": "dóquer", "linux": "línux"}
_PT_TERMS_RE = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(_PT_TERMS, key=len, reverse=True))
                          + r")\b", re.I)
_MONEY = re.compile(r"R\$\s*(\d{1,3}(?:\.\d{3})*|\d+)(?:,(\d{2}))?")
_HOUR = re.compile(r"\b(\d{1,2})h(\d{2})?\b")
_UNITS = {"km/h": "quilômetros por hora", "km": "quilômetros", "kg": "quilos", "cm": "centímetros",
          "mm": "milímetros", "ms": "milissegundos", "GB": "gigabytes", "MB": "megabytes", "°C": "graus"}
_UNIT_RE = re.compile(r"(\d)\s*(" + "|".join(re.escape(k) for k in sorted(_UNITS, key=len, reverse=True))
                      + r")(?![\w/])")


def _money(m: re.Match[str]) -> str:
    reais, cents = m.group(1), m.group(2)
    word = "real" if reais == "1" else "reais"
    if cents and cents != "00":
        return f"{reais} {word} e {int(cents)} {'centavo' if cents == '01' else 'centavos'}"
    return f"{reais} {word}"


def _hour(m: re.Match[str]) -> str:
    h, mins = int(m.group(1)), m.group(2)
    out = f"{h} {'hora' if h == 1 else 'horas'}"
    return f"{out} e {int(mins)}" if mins and int(mins) else out


def speech_pt(text: str) -> str:
    """Portuguese text rewritten the way it is said: "R$ 10,50" -> "10 reais e 50 centavos", "Dr." -> "doutor"."""
    t = _MONEY.sub(_money, text)
    t = _HOUR.sub(_hour, t)
    t = _UNIT_RE.sub(lambda m: f"{m.group(1)} {_UNITS[m.group(2)]}", t)
    t = _PT_ABBR_RE.sub(lambda m: _PT_ABBR.get(m.group(1)) or _PT_ABBR.get(m.group(1).capitalize(), m.group(1)), t)
    t = _PT_TERMS_RE.sub(lambda m: _PT_TERMS[m.group(1).lower()], t)
    return t


def first_piece(text: str, max_words: int = 4, min_rest: int = 3) -> tuple[str, str]:
    """Split off a short head so a voice without streaming can start speaking sooner.

    Why: Kokoro computes a whole piece at once, in time proportional to its length, so
    a long first piece delays the first audio. The head ends at the first punctuation
    within ``max_words`` words, or after ``max_words`` words; a short text stays whole.
    """
    words = text.split()
    if len(words) <= max_words + min_rest:
        return text, ""
    cut = max_words
    for i, w in enumerate(words[:max_words]):
        if w[-1:] in ",;:":
            cut = i + 1
            break
    return " ".join(words[:cut]), " ".join(words[cut:])


_PT_MARKS = re.compile(r"[ãõçáéíóúâêôàü]", re.I)
_PT_WORDS = frozenset("a o os as de do da dos das em no na nos nas um uma que não é eu você ele ela com para por "
                      "se mais mas como isso esse essa está são ao já também muito seu sua meu minha oi olá "
                      "sim obrigado obrigada tudo bem aqui".split())
_EN_WORDS = frozenset("the a an of to in on is are was be it this that you i he she we they and or not with for "
                      "as at by from have has do does what which can will would there here hello yes no".split())


def looks_portuguese(text: str) -> bool:
    """A cheap per-sentence guess (diacritics, then stop words), so each reply is read by a voice of its language.

    Why per sentence: Luna answers in the user's language, and a reply may quote the
    other one; the wrong voice is unintelligible (the English voice reading Portuguese
    scored 86% WER in the round-trip bench), a wrong guess on a mixed sentence is not.
    """
    if _PT_MARKS.search(text):
        return True
    ws = re.findall(r"[a-zà-ü']+", text.lower())
    pt = sum(w in _PT_WORDS for w in ws)
    en = sum(w in _EN_WORDS for w in ws)
    return pt > en
