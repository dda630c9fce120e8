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
