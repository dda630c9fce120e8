"""Every line the ``luna`` CLI prints, in Portuguese (default) and English (``LANGUAGE=en``).

Why one module: the UI has its catalogue (services/ui/i18n.py); the CLI's lines (``make up``
progress, ``luna diagnose``, ``make models``) were English literals and scattered dicts, so
a Portuguese user met English the moment Luna started. Keys are grouped by command
(``up.*``, ``diag.*``, ``models.*``, ``state.*``); tests/unit/luna/test_cli_i18n.py reads the printed
lines in ``LANGUAGE=pt`` and fails on English words.
"""

from __future__ import annotations

import os

STRINGS: dict[str, dict[str, str]] = {
    "pt": {
        # service states, as heartbeats name them
        "state.ready": "pronto", "state.starting": "iniciando", "state.down": "fora do ar",
        "state.degraded": "degradado", "state.no-device": "sem dispositivo", "state.failed": "falhou",
        "state.stopping": "parando",
        # luna up / down / check / logs
        "up.starting": "iniciando os serviços (supervisord)…",
        "up.already": "os serviços já estão rodando; aguardando que fiquem prontos…",
        "up.service": "  {service:<9} {state}{extra}",
        "up.not_ready": "não ficaram prontos em {s:.0f} s: {names} (veja `make logs`)",
        "up.all_ready": "todos os serviços prontos",
        "not_running": "o Luna não está rodando (inicie com `make up`)",
        "orphans.found": "o supervisord não está rodando, mas {n} serviço(s) do Luna seguem sem supervisão: "
                         "{names}; `luna up` os encerra e inicia tudo de novo",
        "orphans.stopped": "o supervisord tinha parado: encerrei {n} serviço(s) do Luna sem supervisão ({names}) "
                           "para rodar um só conjunto",
        "check.ok": "configuração ok",
        "logs.none": "nenhum log em {dir}",
        # luna diagnose
        "diag.title": "LUNA - DIAGNÓSTICO",
        "diag.lines": "linhas lidas: {n}",
        "diag.none": "nenhum log encontrado (inicie o Luna primeiro ou passe arquivos)",
        "diag.turns": "[TURNOS] segundos por etapa (mediana / máx.)",
        "diag.queues": "[FILAS] profundidade máx. / descartes",
        "diag.queue_row": "  {svc:<9} fila {q:<5} ({ql})  descartes {d} ({dl})",
        "diag.rejects": "[QUADROS REJEITADOS]",
        "diag.restarts": "[REINÍCIOS]",
        "diag.restart_why": " (watchdog: {why})",
        "diag.errors": "[ERROS] {n}",
        "diag.warnings": "[AVISOS] mais frequentes",
        "diag.recs": "[RECOMENDAÇÕES]",
        "diag.nothing": "nada a corrigir: nenhum limite ultrapassado",
        "diag.rec_e2e": "ponta a ponta acima de 5 s: use um modelo menor ou uma GPU; confira `first_token_s`",
        "diag.rec_drops": "a captura descartou áudio: o stt não estava consumindo (reiniciando ou lento demais); "
                          "confira o heartbeat do stt e o tamanho do modelo",
        "diag.rec_queue": "fila de {svc} acima de 50: quem a consome é mais lento que o tempo real",
        "diag.rec_rejects": "quadros malformados no barramento: um cliente de outra versão ou um processo perdido",
        "diag.rec_restarts": "serviços reiniciados: veja `make logs SERVICE=...` nesses horários",
        "diag.reply_failed": "resposta falhou: {error}",
        "level.ok": "ok", "level.warning": "atenção", "level.critical": "crítico",
        # make models (luna/models.py)
        "models.title": "modelos:",
        "models.present": "já está aqui",
        "models.done": "pronto ({size}, verificado)",
        "models.unreachable": "sem acesso a {host}",
        "models.offline": "HF_HUB_OFFLINE=1 proíbe downloads",
        "models.not-found": "{what} não existe no hub (confira {key} no .env)",
        "models.auth": "o hub pede login para {what} (defina HF_TOKEN)",
        "models.checksum": "o arquivo baixado não confere ({detail}) e foi posto de lado",
        "models.disk-full": "disco cheio em {where}: precisa de {need}, há {free} livres",
        "models.interrupted": "download interrompido em {got} de {size} (o próximo continua de onde parou)",
        "models.http": "resposta inesperada do hub ({detail})",
        "models.stt": "o modelo embutido vai ouvir",
        "models.tts": "a voz embutida vai falar",
        "models.brain": "o modelo embutido vai responder",
        "models.retry": "Para tentar de novo: make models",
        "models.retry-disk": "Libere espaço e rode: make models",
        "models.ollama-down": "Ollama não está rodando em {host}: o modelo embutido vai responder "
                              "(instale o Ollama e rode `ollama pull {model}`)",
        "models.ollama-fail": "não foi possível baixar ({err}); outro modelo vai responder",
        "models.pulled": "pronto",
        "models.stopped": "download interrompido; `make models` continua de onde parou",
    },
    "en": {
        "state.ready": "ready", "state.starting": "starting", "state.down": "down",
        "state.degraded": "degraded", "state.no-device": "no-device", "state.failed": "failed",
        "state.stopping": "stopping",
        "up.starting": "starting services (supervisord)...",
        "up.already": "services already running; waiting for them...",
        "up.service": "  {service:<9} {state}{extra}",
        "up.not_ready": "not ready after {s:.0f}s: {names} (see `make logs`)",
        "up.all_ready": "all services ready",
        "not_running": "Luna is not running (start it with `make up`)",
        "orphans.found": "supervisord is not running, but {n} Luna service(s) still run unsupervised: {names}; "
                         "`luna up` stops them and starts everything again",
        "orphans.stopped": "supervisord had stopped: stopped {n} unsupervised Luna service(s) ({names}) "
                           "so only one set runs",
        "check.ok": "config ok",
        "logs.none": "no logs in {dir}",
        "diag.title": "LUNA - DIAGNOSE",
        "diag.lines": "lines read: {n}",
        "diag.none": "no logs found (start Luna first, or pass files)",
        "diag.turns": "[TURNS] per-stage seconds (p50 / max)",
        "diag.queues": "[QUEUES] max depth / drops",
        "diag.queue_row": "  {svc:<9} queue {q:<5} ({ql})  drops {d} ({dl})",
        "diag.rejects": "[REJECTED FRAMES]",
        "diag.restarts": "[RESTARTS]",
        "diag.restart_why": " (watchdog: {why})",
        "diag.errors": "[ERRORS] {n}",
        "diag.warnings": "[WARNINGS] most frequent",
        "diag.recs": "[RECOMMENDATIONS]",
        "diag.nothing": "nothing to fix: no thresholds crossed",
        "diag.rec_e2e": "end-to-end above 5 s: use a smaller model or a GPU; check `first_token_s`",
        "diag.rec_drops": "capture dropped audio: stt was not consuming (restarting or too slow); "
                          "check stt's heartbeat and its model size",
        "diag.rec_queue": "{svc} queue above 50: its consumer is slower than real time",
        "diag.rec_rejects": "malformed frames on the bus: a mismatched client version or a stray process",
        "diag.rec_restarts": "services restarted: see `make logs SERVICE=...` around those times",
        "diag.reply_failed": "reply failed: {error}",
        "level.ok": "ok", "level.warning": "warning", "level.critical": "critical",
        "models.title": "models:",
        "models.present": "present",
        "models.done": "done ({size}, verified)",
        "models.unreachable": "cannot reach {host}",
        "models.offline": "HF_HUB_OFFLINE=1 forbids downloads",
        "models.not-found": "{what} is not on the hub (check {key} in .env)",
        "models.auth": "the hub needs a login for {what} (set HF_TOKEN)",
        "models.checksum": "the download did not verify ({detail}) and was set aside",
        "models.disk-full": "disk full at {where}: {need} needed, {free} free",
        "models.interrupted": "download interrupted at {got} of {size} (the next run resumes it)",
        "models.http": "unexpected answer from the hub ({detail})",
        "models.stt": "the bundled model will listen",
        "models.tts": "the bundled voice will speak",
        "models.brain": "the bundled model will answer",
        "models.retry": "To retry: make models",
        "models.retry-disk": "Free some space, then run: make models",
        "models.ollama-down": "Ollama is not running at {host}: the embedded model will answer "
                              "(install Ollama, then `ollama pull {model}`)",
        "models.ollama-fail": "could not pull ({err}); another model will answer",
        "models.pulled": "done",
        "models.stopped": "download stopped; `make models` resumes where it left off",
    },
}


def lang(language: str | None = None) -> str:
    """``pt`` or ``en``: the argument, else LANGUAGE from the environment or .env, else ``pt``."""
    if not language:
        language = os.environ.get("LANGUAGE")
    if not language:
        from shared import config

        language = config.load_lenient()[0].LANGUAGE
    code = str(language or "pt").strip().lower()[:2]
    return code if code in STRINGS else "pt"


def t(key: str, language: str | None = None, /, **kw: object) -> str:
    """The line ``key`` in the user's language (Portuguese, then the key, when a language lacks it)."""
    table = STRINGS[lang(language)]
    text = table.get(key) or STRINGS["pt"].get(key) or key
    return text.format(**kw) if kw else text


def state(name: str, language: str | None = None) -> str:
    """A service state (``ready``, ``no-device``...) as the user reads it."""
    return t(f"state.{name}", language) if f"state.{name}" in STRINGS["pt"] else name
