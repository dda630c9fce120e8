"""The lines services publish to the user (notices, heartbeat problems, fallbacks), in pt (default) and en.

Why here: the UI and ``luna`` have their own catalogues, but capture, playback, stt
and tts wrote English literals into notice frames and heartbeat ``problems`` that
the UI and ``luna up``/``luna diagnose`` show as they are, so a Portuguese user met
English on the first chat line. ``shared/`` so every service can reach it without
importing another service. Model names, key names and commands stay as they are.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "pt": {
        "private.env-readable": "aviso: {path} guarda uma chave de API e outros usuários podem lê-lo "
                                "(chmod 600 {path})",
        "service.setup-failed": "{name} não conseguiu iniciar: {err}",
        # audio devices (shared/audiodev.py)
        "dev.list": "não consigo listar os dispositivos de áudio: {err}",
        "dev.none.input": "nenhum dispositivo de entrada encontrado (há um microfone ou PulseAudio?)",
        "dev.none.output": "nenhum dispositivo de saída encontrado (há alto-falantes ou PulseAudio?)",
        "dev.index.input": "{key}={spec}: nenhum dispositivo de entrada com esse índice",
        "dev.index.output": "{key}={spec}: nenhum dispositivo de saída com esse índice",
        "dev.name.input": "{key}={spec}: nenhum dispositivo de entrada com esse nome (disponíveis: {names})",
        "dev.name.output": "{key}={spec}: nenhum dispositivo de saída com esse nome (disponíveis: {names})",
        # capture
        "capture.open": "não consigo abrir o dispositivo de entrada: {err}",
        "capture.stopped": "o dispositivo de entrada parou (desconectado?)",
        "capture.no-device": "microfone: {why}; o chat por texto continua funcionando",
        "capture.aec-missing": "ECHO_MODE=aec: cancelador de eco indisponível ({err}); usando half-duplex "
                               "(não escuto enquanto a Luna fala)",
        "capture.aec-back": "o cancelamento de eco voltou: você pode falar por cima da Luna de novo",
        "capture.aec-noref": "o cancelamento de eco não recebe referência do playback: não escuto enquanto "
                             "a Luna fala (half-duplex) até ela voltar",
        # playback
        "playback.open": "não consigo abrir o dispositivo de saída: {err}",
        "playback.stopped": "o dispositivo de saída parou (desconectado?)",
        "playback.no-device": "alto-falante: {why}; as respostas aparecem só como texto",
        # tts
        "tts.eleven-down": "ElevenLabs indisponível ({err}); falando com Piper",
        "tts.chatterbox-missing": "o Chatterbox não está instalado (`pip install .[chatterbox]`)",
        "tts.chatterbox-gpu": "o Chatterbox precisa de uma GPU NVIDIA e nenhuma foi encontrada",
        "tts.chatterbox-load": "o Chatterbox não carregou ({err})",
        "tts.to-piper": "{why}; falando com Piper",
        "tts.why-broken": "TTS_VOICE={voice} não carregou ({err})",
        "tts.why-missing": "a voz Piper {voice} não foi baixada (baixe com: `python -m piper.download_voices {stem}`)",
        "tts.fallback-bilingual": "{why}; falo português com a voz Kokoro embutida e inglês com {model}",
        "tts.fallback-english": "{why}; falo com a voz inglesa embutida {model}",
        "tts.playback-down": "o playback não está recebendo áudio; a fala está sendo descartada",
        # brain: said instead of a code block (services/brain/speech)
        "speech.code-on-screen": "o código está na tela.",
        # stt
        "stt.why-missing": "STT_LOCAL={model} não está nesta máquina (`make models` o baixa; {err})",
        "stt.why-empty": "STT_LOCAL está vazio",
        "stt.why-base": "o Whisper base multilíngue embutido não funciona ({err})",
        "stt.fallback": "{why}; usando o modelo embutido {model}{note}. Baixe o modelo uma vez com rede, "
                        "ou aponte STT_LOCAL para uma pasta de modelo.",
        "stt.english-only": " (só inglês)",
        "stt.turn-missing": "o modelo de fim de turno (smart-turn v3) não está instalado: o turno termina após "
                            "{ms} ms de silêncio (`python -m services.stt.endofturn --fetch` o instala)",
        "stt.turn-failed": "o modelo de fim de turno não carregou ({err}); o turno termina pelo silêncio",
        "stt.wake-failed": "{err}; LISTEN_MODE=wake não ouve nada até isso ser corrigido",
        "stt.listen-mode": "modo de escuta desconhecido {mode} (always, name, wake ou push)",
        "stt.behind": "o reconhecimento de fala está atrasado; uma fala foi pulada",
        "stt.failed": "o reconhecimento de fala falhou: {err}",
        "watchdog.restart": "vigia: reiniciando {svc} ({why})",
        "watchdog.failed": "vigia: não consegui reiniciar {svc}: {err}",
        "watchdog.silent": "sem sinal de vida há {s} s",
        "watchdog.frozen": "áudio parado há {s} s",
        # brain (services/brain): notices, errors and Luna's own replies
        "brain.unknown-provider": "provedor desconhecido: {name}",
        "brain.ollama-down-at": "Ollama não está rodando em {host} (instale e rode `ollama serve`)",
        "brain.ollama-down": "Ollama não está rodando em {host}; {alt}",
        "brain.embedded-answers": "o modelo embutido responde o chat",
        "brain.no-local": "sem modelo local",
        "brain.pull-hint": "modelo {model} não encontrado: rode `ollama pull {model}`",
        "brain.model-missing": "{hint} (ou mande o comando {cmd}); {fn} usa o próximo da lista até lá",
        "brain.skip.no-key": "sem chave ({setting} vazio no .env)",
        "brain.skip.ollama-down": "Ollama não está rodando",
        "brain.skip.not-pulled": "modelo {model} não baixado ({cmd})",
        "brain.skip.unavailable": "indisponível",
        "brain.answering": "{notices}; respondendo: {provider} {model}",
        "brain.stalled": "{provider}: parou de responder por {s} s (timeout)",
        "brain.internal": "erro interno no brain: {err}",
        "brain.no-image": "imagem não encontrada: {path}",
        "brain.new": "Nova conversa começou.",
        "brain.soul": "Alma em {path} (recarregada; edite e salve para mudar a Luna)",
        "brain.bye": "Até logo!",
        "brain.help.title": "Comandos:",
        "brain.help.new": "- nova conversa",
        "brain.help.history": "[n] - lista as conversas; com n, reabre a n-ésima",
        "brain.help.soul": "- edita a personalidade da Luna",
        "brain.help.config": "[função provedor [modelo]] - mostra ou troca o modelo (ex.: /config chat gemini)",
        "brain.help.help": "- esta lista",
        "brain.help.quit": "- sai",
        "brain.history.none": "Nenhuma conversa ainda.",
        "brain.history.untitled": "(sem título)",
        "brain.history.footer": "/historico N reabre a conversa N.",
        "brain.history.no-ref": "conversa {ref} não existe (veja /historico)",
        "brain.history.reopened": "Conversa {id} reaberta.",
        "brain.history.no-id": "conversa {id} não existe",
        "brain.config.no-function": "config: função {fn} não existe (use {names})",
        "brain.config.no-provider": "config: provedor {provider} não existe (use {names})",
        "brain.config.blind": "config: o modelo embutido não vê imagens",
        "brain.config.empty": "config: diga o provedor e/ou o modelo",
        "brain.config.no-key": "{provider}: sem chave ({setting} vazio no .env); vai ser pulado",
        "brain.config.row": "{fn}: {provider} {model}  (escolhido: {configured} {configured_model}; ordem: {chain})",
        "brain.config.health": "ollama: {state} ({host}); embutido: {embedded}",
        "brain.config.how": "/config <função> <provedor> [modelo] troca na hora (ex.: {example})",
        "brain.yes": "sim",
        "brain.no": "não",
        "brain.pulled": "modelo {model} baixado",
        "brain.unknown-command": "comando desconhecido: {word} — veja /ajuda",
        "brain.vision.no-image": "Para eu ver, preciso de uma imagem: anexe com /img caminho/da/imagem.png (ou cole o "
                                 "caminho) e pergunte de novo.",
        "brain.vision.how-pull": "`ollama pull {model}` (F5 → Baixar modelos)",
        "brain.vision.how-start": "rode o Ollama (`ollama serve`) e `ollama pull {model}`",
        "brain.vision.none": "Nenhum modelo que vê imagens está disponível. Para ver imagens: {how}, ou defina {keys} "
                             "no .env.",
    },
    "en": {
        "private.env-readable": "warning: {path} holds an API key and other users can read it (chmod 600 {path})",
        "service.setup-failed": "{name} could not start: {err}",
        "dev.list": "cannot list audio devices: {err}",
        "dev.none.input": "no input device found (is a microphone or PulseAudio available?)",
        "dev.none.output": "no output device found (is speakers or PulseAudio available?)",
        "dev.index.input": "{key}={spec}: no input device with that index",
        "dev.index.output": "{key}={spec}: no output device with that index",
        "dev.name.input": "{key}={spec}: no input device by that name (have: {names})",
        "dev.name.output": "{key}={spec}: no output device by that name (have: {names})",
        "capture.open": "cannot open input device: {err}",
        "capture.stopped": "the input device stopped (unplugged?)",
        "capture.no-device": "microphone: {why}; text chat still works",
        "capture.aec-missing": "ECHO_MODE=aec: echo canceller unavailable ({err}); using half-duplex "
                               "(no listening while Luna speaks)",
        "capture.aec-back": "echo cancellation is back: you can talk over Luna again",
        "capture.aec-noref": "echo cancellation has no reference from playback: not listening while "
                             "Luna speaks (half-duplex) until it is back",
        "playback.open": "cannot open output device: {err}",
        "playback.stopped": "the output device stopped (unplugged?)",
        "playback.no-device": "speaker: {why}; replies are shown as text only",
        "tts.eleven-down": "ElevenLabs unavailable ({err}); speaking with Piper",
        "tts.chatterbox-missing": "Chatterbox is not installed (pip install .[chatterbox])",
        "tts.chatterbox-gpu": "Chatterbox needs an NVIDIA GPU and none was found",
        "tts.chatterbox-load": "Chatterbox failed to load ({err})",
        "tts.to-piper": "{why}; speaking with Piper",
        "tts.why-broken": "TTS_VOICE={voice} could not be loaded ({err})",
        "tts.why-missing": "Piper voice {voice} is not downloaded (get it with: python -m piper.download_voices {stem})",
        "tts.fallback-bilingual": "{why}; speaking Portuguese with the packaged Kokoro voice and English with {model}",
        "tts.fallback-english": "{why}; speaking with the bundled English voice {model}",
        "tts.playback-down": "playback is not taking audio; speech is being dropped",
        "speech.code-on-screen": "the code is on screen.",
        "stt.why-missing": "STT_LOCAL={model} is not on this machine (`make models` downloads it; {err})",
        "stt.why-empty": "STT_LOCAL is empty",
        "stt.why-base": "the packaged multilingual Whisper base is unusable ({err})",
        "stt.fallback": "{why}; using the bundled {model}{note}. Download the model once with network access, "
                        "or set STT_LOCAL to a model folder.",
        "stt.english-only": " (English only)",
        "stt.turn-missing": "the end-of-turn model (smart-turn v3) is not installed: turns end after "
                            "{ms} ms of silence (`python -m services.stt.endofturn --fetch` installs it)",
        "stt.turn-failed": "the end-of-turn model failed to load ({err}); turns end by silence",
        "stt.wake-failed": "{err}; LISTEN_MODE=wake hears nothing until it is fixed",
        "stt.listen-mode": "unknown listen mode {mode} (always, name, wake or push)",
        "stt.behind": "speech recognition is falling behind; an utterance was skipped",
        "stt.failed": "speech recognition failed: {err}",
        "watchdog.restart": "watchdog: restarting {svc} ({why})",
        "watchdog.failed": "watchdog: could not restart {svc}: {err}",
        "watchdog.silent": "heartbeat silent for {s} s",
        "watchdog.frozen": "audio frames frozen for {s} s",
        "brain.unknown-provider": "unknown provider: {name}",
        "brain.ollama-down-at": "Ollama is not running at {host} (install it and run `ollama serve`)",
        "brain.ollama-down": "Ollama is not running at {host}; {alt}",
        "brain.embedded-answers": "the embedded model answers the chat",
        "brain.no-local": "no local model",
        "brain.pull-hint": "model {model} not found: run `ollama pull {model}`",
        "brain.model-missing": "{hint} (or send the command {cmd}); {fn} uses the next one in the list until then",
        "brain.skip.no-key": "no key ({setting} empty in .env)",
        "brain.skip.ollama-down": "Ollama is not running",
        "brain.skip.not-pulled": "model {model} not pulled ({cmd})",
        "brain.skip.unavailable": "unavailable",
        "brain.answering": "{notices}; answering: {provider} {model}",
        "brain.stalled": "{provider}: stopped responding for {s} s (timeout)",
        "brain.internal": "internal error in the brain: {err}",
        "brain.no-image": "image not found: {path}",
        "brain.new": "New conversation.",
        "brain.soul": "Soul file: {path} (reloaded)",
        "brain.bye": "Bye!",
        "brain.help.title": "Commands:",
        "brain.help.new": "- new conversation",
        "brain.help.history": "[n] - list conversations; with n, reopen the n-th",
        "brain.help.soul": "- edit Luna's persona",
        "brain.help.config": "[function provider [model]] - show or change the model (e.g. /config chat gemini)",
        "brain.help.help": "- this list",
        "brain.help.quit": "- quit",
        "brain.history.none": "No conversations yet.",
        "brain.history.untitled": "(untitled)",
        "brain.history.footer": "/history N reopens conversation N.",
        "brain.history.no-ref": "conversation {ref} does not exist (see /history)",
        "brain.history.reopened": "Conversation {id} reopened.",
        "brain.history.no-id": "conversation {id} does not exist",
        "brain.config.no-function": "config: there is no function {fn} (use {names})",
        "brain.config.no-provider": "config: there is no provider {provider} (use {names})",
        "brain.config.blind": "config: the embedded model cannot see images",
        "brain.config.empty": "config: name the provider and/or the model",
        "brain.config.no-key": "{provider}: no key ({setting} empty in .env); it will be skipped",
        "brain.config.row": "{fn}: {provider} {model}  (chosen: {configured} {configured_model}; order: {chain})",
        "brain.config.health": "ollama: {state} ({host}); embedded: {embedded}",
        "brain.config.how": "/config <function> <provider> [model] switches at once (e.g. {example})",
        "brain.yes": "yes",
        "brain.no": "no",
        "brain.pulled": "model {model} downloaded",
        "brain.unknown-command": "unknown command: {word} — see /help",
        "brain.vision.no-image": "To see, I need an image: attach one with /img path/to/image.png (or paste its path) "
                                 "and ask again.",
        "brain.vision.how-pull": "`ollama pull {model}`",
        "brain.vision.how-start": "start Ollama (`ollama serve`) and `ollama pull {model}`",
        "brain.vision.none": "No model that sees images is available. To see images: {how}, or set {keys} in .env.",
    },
}


def lang(language: object) -> str:
    """``pt`` or ``en`` from a LANGUAGE value (``pt`` for anything else, the default)."""
    code = str(language or "pt").strip().lower()[:2]
    return code if code in STRINGS else "pt"


def say(key: str, language: object = "pt", /, **fields: object) -> str:
    """The line ``key`` in ``language`` with its ``{fields}`` filled (Portuguese when a language lacks it)."""
    text = STRINGS[lang(language)].get(key) or STRINGS["pt"][key]
    return text.format(**fields) if fields else text
