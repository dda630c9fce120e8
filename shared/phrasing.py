"""Words said together with the next one, in the user's two languages.

Why shared: the brain's segmenter (the reply's first piece) and tts's piece cutter
(Kokoro's growing pieces) both cut text before its sentence ends, and neither may
end a piece on an article or a preposition, which a voice would say with a pause
before its noun ("consulta no" | "BigQuery"). One list, one owner.
"""

from __future__ import annotations

LEANS_ON_NEXT = frozenset("a o as os um uma uns umas de do da dos das em no na nos nas num numa ao aos à às "
                          "pelo pela pelos pelas por para pra com sem e ou que se mas meu minha seu sua "
                          "teu tua nosso nossa esse essa este esta esses essas estes estas the an of to in on and or".split())


def leans_on_next(word: str) -> bool:
    """``word`` (as written, with its punctuation) is said together with the next one."""
    return word.lower() in LEANS_ON_NEXT
