"""Intent router: which brain answers a line of text (seed section 5, fixed).

``detect_intent(text, has_image)`` returns chat / code / vision / system. It is a
handful of precompiled regular expressions over an accent-free lower-case copy
of the text, so it costs microseconds, never a model call.

Fixes over the seed's patterns:

* accents and case: the text is NFKD-normalised and stripped of combining marks,
  so "código", "CÓDIGO" and "codigo" are the same word ("faça" -> "faca").
* more vocabulary: regex, pytest, parquet, DAX, list comprehension, docker, git...
* false friends: the seed's "faz ... um" rule made "faz um favor pra mim" code;
  a creation verb only counts with a programming object ("cria uma função"), and
  the lone letter "r" only counts as the language in "em R" / "no R" / "linguagem R".
* an attached image is vision unless the line is a system command.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from enum import Enum


class Intent(str, Enum):
    CHAT = "chat"
    CODE = "code"
    VISION = "vision"
    SYSTEM = "system"


def normalize(text: str) -> str:
    """Lower-case, accent-free, single-spaced copy of ``text``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split())


SYSTEM_COMMANDS = ("nova", "new", "historico", "history", "alma", "soul", "sair", "quit", "exit",
                   "config", "ajuda", "help")
_SYSTEM = re.compile(r"^/(" + "|".join(SYSTEM_COMMANDS) + r")(\s|$)")

_IMG_OBJ = (r"(imagem|imagens|foto|fotos|fotografia|tela|print|printscreen|screenshot|captura|figura|desenho|grafico"
            r"|image|picture|photo|pic|screen|diagram|chart|drawing)")
_VISION = [re.compile(p) for p in (
    # look/see verb + something visual ("olha essa foto", "analisa a imagem", "look at this screenshot")
    r"\b(ve|veja|ver|olha|olhe|olhar|analisa|analise|analisar|observa|observe|descreve|descreva|descrever"
    r"|identifica|identifique|le|leia|look|see|analyze|analyse|describe|identify|read|check)\b.*\b" + _IMG_OBJ + r"\b",
    r"\b(nessa|nesta|dessa|desta|na|da|essa|esta|this|the|that|in the|on the)\s+" + _IMG_OBJ + r"\b",
    r"\bo\s+que\s+(voce\s+|vc\s+|tu\s+)?(ve|esta\s+vendo|enxerga)\b",
    r"\b(que|quem)\s+(voce\s+|vc\s+)?(ve|enxerga)\s+a(qui|i)\b",
    r"\bwhat\s+(do|can)\s+you\s+see\b",
    r"\bwhat('?s| is)\s+(in|on)\s+(this|the|my)\b",
    r"\b(voce|vc)\s+(consegue\s+)?(ve|ver|enxerga|enxergar)\s+(isso|isto|aqui|o que)\b",
    r"\bcan you see\b",
)]

_LANGS = (r"python|sql|javascript|typescript|java|kotlin|rust|golang|c\+\+|c#|php|ruby|bash|shell|powershell|html|css"
          r"|json|yaml|toml|regex|regexp|dax|m\s+query|vba|scala|swift|lua|perl|haskell|elixir")
_TOOLS = (r"pandas|numpy|dataframe|dataframes|polars|pyspark|spark|parquet|csv|pytest|unittest|jupyter|notebook"
          r"|docker|dockerfile|kubernetes|k8s|git|github|gitlab|pip|venv|virtualenv|conda|npm|nodejs|node\.js|reactjs"
          r"|django|flask|fastapi|airflow|dbt|bigquery|gcp|aws|terraform|etl|pipeline|postgres|postgresql|mysql"
          r"|sqlite|mongodb|redis|api|apis|endpoint|endpoints|webhook|http|https|backend|frontend|deploy|compilar"
          r"|compila|compilador|compiler|debug|debugar|debuga|debugging|traceback|stacktrace|stack\s+trace"
          r"|exception|excecao|segfault|refatora|refatorar|refatore|refactor|refactoring|linter|type\s+hints?"
          r"|async|await|asyncio|multithreading|mutex|struct|array|arrays|recursao|recursion|recursiva|recursive"
          r"|big\s+o|hashmap|list\s+comprehension|dict\s+comprehension|lambda|decorator|decorador|oop|poo"
          r"|power\s*bi|pbi|looker|tableau|vba|procv|vlookup|xlookup|inner\s+join|left\s+join|right\s+join"
          r"|group\s+by|order\s+by|cte|tabela\s+dinamica|pivot\s+table|unit\s+tests?|testes?\s+unitarios?"
          r"|mock|fixture|snippet|framework|sdk|variavel|variaveis|string|strings|booleano|boolean|parser|parsing"
          r"|bug|bugs|stderr|stdout|runtime|dashboard|query|queries|consulta\s+sql|regex|regexp|script|scripts"
          r"|codigo|codigos|code|funcao|funcoes|function|functions|metodo|method|algoritmo|algorithm"
          r"|expressao\s+regular|crud|schema|migration|json|yaml|programar|programacao|programming|coding|codar"
          r"|codando|deployar|localhost|ssh|chmod|sudo|apt\s+install|pip\s+install|repositorio|repository|repo"
          r"|matplotlib|seaborn|plotly|sklearn|scikit-learn|tensorflow|pytorch|keras|opencv|selenium"
          r"|beautifulsoup|requests\.get|dict|dicts|tuple|tuplas?|set\(\)|json\.loads|stdin|grep|awk|sed|cron"
          r"|crontab|systemd|nginx|env\s+var|variavel\s+de\s+ambiente|environment\s+variable|profiler|profiling")
# nouns that are code only next to a verb that builds or fixes something ("cria uma classe", not "minha classe")
_AMBIG_NOUN = (r"(classe|classes|class|programa|program|teste|testes|test|tests|tabela|table|app|aplicativo|bot"
               r"|componente|component|modulo|module|loop|site|pagina\s+web|web\s*page|formulario|form|banco\s+de"
               r"\s+dados|database|planilha|macro|biblioteca|library|servidor|server|comando|command)")
_BUILD_VERB = (r"(cria|crie|criar|faz|faca|fazer|escreve|escreva|escrever|implementa|implemente|implementar|gera|gere"
               r"|gerar|monta|monte|montar|desenvolve|desenvolva|corrige|corrija|corrigir|conserta|conserte|otimiza"
               r"|otimize|write|create|build|make|generate|implement|fix|optimize|refactor|testa|teste|test|roda|rode"
               r"|run|instala|instale|install|configura|configure)")
_CODE = [re.compile(p) for p in (
    r"\b(" + _LANGS + r")\b",
    r"\b(" + _TOOLS + r")\b",
    r"\b(em|no|na|in|linguagem|language)\s+r\b",
    r"\b" + _BUILD_VERB + r"\b.*\b" + _AMBIG_NOUN + r"\b",
    # TypeError, KeyError, NullPointerException... (not "terror": a list of exception stems, not any word)
    r"\b(type|key|value|index|attribute|name|import|syntax|runtime|zerodivision|assertion|os|io|filenotfound"
    r"|modulenotfound|recursion|memory|overflow|connection|timeout|permission|unicode\w*|lookup|reference|range"
    r"|nullpointer|illegalargument|illegalstate|classcast|arrayindexoutofbounds|arithmetic|stopiteration"
    r"|notimplemented|jsondecode|http|validation|integrity|operational|programming)\s?(error|exception)\b",
    r"\b(erro|error|falha)\b.*\b(linha|line|compil\w*|build|log|stack|modulo|import)\b",
    r"\bselect\b.*\bfrom\b|\bupdate\b.*\bset\b|\binsert\s+into\b|\bdelete\s+from\b",
    r"`|\bdef\s+\w+\(|\bimport\s+\w+|\w+\.(py|js|ts|sql|sh|ipynb|yaml|yml|toml|rs|go|java|cpp)\b",
    r"\w+\(\)|=>|!=|==|\+=|::",
)]


#: "/word" alone at the start: a command, not a path ("/etc/hosts o que é isso?").
_COMMAND_WORD = re.compile(r"^/[^\s/]+(\s|$)")


def is_unknown_command(text: str) -> bool:
    """``/foo``: a slash command the brain does not know (answered as such, never sent to a model)."""
    raw = text.strip()
    return bool(_COMMAND_WORD.match(raw)) and not _SYSTEM.match(normalize(raw))


def detect_intent(text: str, has_image: bool = False) -> Intent:
    """chat / code / vision / system for one user line (microseconds, no I/O)."""
    raw = text.strip()
    if raw.startswith("/") and _SYSTEM.match(normalize(raw)):
        return Intent.SYSTEM
    if has_image:
        return Intent.VISION
    t = normalize(raw)
    for p in _VISION:
        if p.search(t):
            return Intent.VISION
    for p in _CODE:
        if p.search(t):
            return Intent.CODE
    return Intent.CHAT


def route_main(argv: list[str] | None = None) -> int:
    """``luna route "text" [--image]``: print the intent as the first word, then the cost."""
    args = list(sys.argv[1:] if argv is None else argv)
    has_image = False
    for flag in ("--image", "-i"):
        while flag in args:
            args.remove(flag)
            has_image = True
    if not args or args[0] in ("-h", "--help"):
        print('usage: luna route "text" [--image]')
        return 2 if not args else 0
    text = " ".join(args)
    t0 = time.perf_counter_ns()
    intent = detect_intent(text, has_image)
    cost_us = (time.perf_counter_ns() - t0) / 1000
    print(f"{intent.value}  ({cost_us:.0f} us, normalized: {normalize(text)!r})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(route_main())
