"""Portuguese in tts's bilingual voice: which sentences the pt voice reads, and how its phonemizer needs them.

Why in tts: the brain hands tts clean clauses (services/brain/speech); what is left is
engine work. :func:`guess_language` picks the voice per piece (BilingualVoice),
and :func:`speech_pt` respells what espeak-ng's pt-br rules, Kokoro's front end, read
wrong. Neither changes what is shown or what another engine (ElevenLabs) receives.
"""

from __future__ import annotations

import re


def _any_of(words: dict[str, str]) -> str:
    """A regex alternation of ``words``, longest first ("km/h" before "km")."""
    return "|".join(re.escape(k) for k in sorted(words, key=len, reverse=True))


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
_PT_ABBR_RE = re.compile(rf"(?<!\w)({_any_of(_PT_ABBR)})(?=\s|$)", re.I)
_PT_TERMS = {"power bi": "páuer bi ai", "bigquery": "big quéri", "python": "páiton", "github": "guit rãb",
             "google": "gúgou", "excel": "écsel", "dataframe": "dêita frêime", "dashboard": "déchbord",
             "query": "quéri", "queries": "quéris", "notebook": "nôutbuk",
             "jupyter": "júpiter", "docker": "dóquer", "linux": "línux"}
_PT_TERMS_RE = re.compile(rf"\b({_any_of(_PT_TERMS)})\b", re.I)
_MONEY = re.compile(r"R\$\s*(\d{1,3}(?:\.\d{3})*|\d+)(?:,(\d{2}))?")
_HOUR = re.compile(r"\b(\d{1,2})h(\d{2})?\b")
_UNITS = {"km/h": "quilômetros por hora", "km": "quilômetros", "kg": "quilos", "cm": "centímetros",
          "mm": "milímetros", "ms": "milissegundos", "GB": "gigabytes", "MB": "megabytes", "°C": "graus"}
_UNIT_RE = re.compile(rf"(\d)\s*({_any_of(_UNITS)})(?![\w/])")


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


_PT_MARKS = re.compile(r"[ãõçáéíóúâêôàü]", re.I)
_PT_WORDS = frozenset("a o os as de do da dos das em no na nos nas um uma que não é eu você ele ela com para por "
                      "se mais mas como isso esse essa está são ao já também muito seu sua meu minha oi olá "
                      "sim obrigado obrigada tudo bem aqui".split())
_EN_WORDS = frozenset("the a an of to in on is are was be it this that you i he she we they and or not with for "
                      "as at by from have has do does what which can will would there here hello yes no".split())


def guess_language(text: str) -> str | None:
    """A cheap per-piece guess (diacritics, then stop words): "pt", "en", or None when the piece
    does not say ("A capital", "Dom", "Huawei", "2 mais 2" has "mais": pt).

    Why per piece: Luna answers in the user's language, and a reply may quote the
    other one; the wrong voice is unintelligible (the English voice reading Portuguese
    scored 86% WER in the round-trip bench), a wrong guess on a mixed sentence is not.
    Why None: the reply's first piece is one or two words, and a guess forced on them
    sent "A capital" (the English "a" counts as much as the Portuguese) and a name to
    the English voice; :class:`~services.tts.engines.BilingualVoice` reads an undecided
    piece with the voice of the last one that was decided.
    """
    if _PT_MARKS.search(text):
        return "pt"
    ws = re.findall(r"[a-zà-ü']+", text.lower())
    pt = sum(w in _PT_WORDS for w in ws)
    en = sum(w in _EN_WORDS for w in ws)
    return "pt" if pt > en else "en" if en > pt else None
