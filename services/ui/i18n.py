"""UI strings in Portuguese (default) and English (``LANGUAGE=en``)."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "pt": {
        "title": "Luna",
        "you": "Você",
        "you_spoken": "Você 🎤",
        "luna": "Luna",
        "placeholder": "Escreva para a Luna… (Enter envia, Shift+Enter/Ctrl+J quebra linha, /ajuda)",
        "quit": "Sair",
        "copy": "Copiar",
        "paste": "Colar",
        "select_all": "Selecionar tudo",
        "new_conversation": "Nova conversa",
        "history": "Histórico",
        "soul": "Editar alma",
        "cancel": "Cancelar",
        "mute": "Microfone",
        "code_mode": "Modo código",
        "settings": "Configurações",
        "newline": "Nova linha",
        "state_idle": "pronta",
        "state_thinking": "pensando…",
        "state_speaking": "falando…",
        "state_listening": "ouvindo…",
        "thinking": "pensando…",
        "brain_down": "O cérebro (brain) não está respondendo: make status / make restart SERVICE=brain",
        "bus_down": "Não foi possível conectar ao barramento: {err}",
        "cancelled": "(cancelado)",
        "error": "Erro",
        "copied_both": "Copiado ({what}) — OSC 52 e pyperclip",
        "copied_osc": "Copiado ({what}) via OSC 52 do terminal; pyperclip falhou: {why}",
        "copied_pc": "Copiado ({what}) via pyperclip; OSC 52 não funcionou: {why} (tmux: set -g set-clipboard on)",
        "copy_failed": "Não foi possível copiar: {why}",
        "nothing_selected": "Nada selecionado para copiar",
        "nothing_to_paste": "Área de transferência vazia",
        "code_block": "bloco de código",
        "all_code": "todo o código",
        "selection": "seleção",
        "click_to_copy": "Clique para copiar",
        "code_mode_title": "Modo código — só o código das respostas (clique para copiar tudo)",
        "code_empty": "Nenhum código ainda",
        "img_attached": "📎 Imagem anexada: {name} (vai com a próxima mensagem)",
        "img_missing": "Imagem não encontrada: {path}",
        "img_not_image": "Não é uma imagem (png, jpg, gif, webp, bmp): {path}",
        "img_usage": "Uso: /img caminho/da/imagem.png",
        "history_title": "Histórico de conversas",
        "history_loading": "Carregando histórico…",
        "history_empty": "Nenhuma conversa salva",
        "history_no_reply": "O cérebro não respondeu ao pedido de histórico",
        "soul_title": "Alma da Luna — {path}",
        "soul_saved": "Alma salva; o cérebro vai recarregar",
        "soul_save": "Salvar",
        "soul_editor": "Abrir no $EDITOR",
        "soul_close": "Fechar",
        "editor_failed": "Não foi possível abrir o editor: {err}",
        "settings_title": "Provedores e modelos por função",
        "settings_apply": "Aplicar",
        "settings_sent": "Configuração enviada ao cérebro: {fn} → {provider}/{model}",
        "provider": "provedor",
        "ollama_down": "Ollama não está rodando: ollama serve (ou escolha outro provedor)",
        "missing_models": "Modelos que faltam no Ollama: {models}",
        "pull_missing": "Baixar modelos",
        "pulling": "Baixando: {models}",
        "model": "modelo",
        "muted": "Microfone desligado",
        "unmuted": "Microfone ligado",
        "new_conv_done": "Nova conversa",
        "latency": "latência",
        "mic": "mic",
        "help": (
            "**Atalhos**: Enter envia · Shift+Enter/Ctrl+J nova linha · Ctrl+C copia · Ctrl+V cola · "
            "Ctrl+A seleciona tudo · Ctrl+T nova conversa · F2/Ctrl+H histórico · Ctrl+E alma · "
            "F3 modo código · F4 microfone · F5 configurações · Esc cancela · Ctrl+Q sai\n\n"
            "**Comandos**: /nova · /historico · /alma · /config · /img caminho · /sair"
        ),
        "notice_prefix": "{service}: {text}",
        "open": "Abrir",
    },
    "en": {
        "title": "Luna",
        "you": "You",
        "you_spoken": "You 🎤",
        "luna": "Luna",
        "placeholder": "Write to Luna… (Enter sends, Shift+Enter/Ctrl+J newline, /help)",
        "quit": "Quit",
        "copy": "Copy",
        "paste": "Paste",
        "select_all": "Select all",
        "new_conversation": "New chat",
        "history": "History",
        "soul": "Edit soul",
        "cancel": "Cancel",
        "mute": "Mic",
        "code_mode": "Code mode",
        "settings": "Settings",
        "newline": "Newline",
        "state_idle": "ready",
        "state_thinking": "thinking…",
        "state_speaking": "speaking…",
        "state_listening": "listening…",
        "thinking": "thinking…",
        "brain_down": "brain is not running: make status / make restart SERVICE=brain",
        "bus_down": "Could not connect to the bus: {err}",
        "cancelled": "(cancelled)",
        "error": "Error",
        "copied_both": "Copied ({what}) — OSC 52 and pyperclip",
        "copied_osc": "Copied ({what}) via terminal OSC 52; pyperclip failed: {why}",
        "copied_pc": "Copied ({what}) via pyperclip; OSC 52 did not work: {why} (tmux: set -g set-clipboard on)",
        "copy_failed": "Could not copy: {why}",
        "nothing_selected": "Nothing selected to copy",
        "nothing_to_paste": "Clipboard is empty",
        "code_block": "code block",
        "all_code": "all code",
        "selection": "selection",
        "click_to_copy": "Click to copy",
        "code_mode_title": "Code mode — only the code from replies (click to copy all)",
        "code_empty": "No code yet",
        "img_attached": "📎 Image attached: {name} (goes with the next message)",
        "img_missing": "Image not found: {path}",
        "img_not_image": "Not an image (png, jpg, gif, webp, bmp): {path}",
        "img_usage": "Usage: /img path/to/image.png",
        "history_title": "Conversation history",
        "history_loading": "Loading history…",
        "history_empty": "No saved conversations",
        "history_no_reply": "The brain did not answer the history request",
        "soul_title": "Luna's soul — {path}",
        "soul_saved": "Soul saved; the brain will reload it",
        "soul_save": "Save",
        "soul_editor": "Open in $EDITOR",
        "soul_close": "Close",
        "editor_failed": "Could not open the editor: {err}",
        "settings_title": "Providers and models per function",
        "settings_apply": "Apply",
        "settings_sent": "Sent to the brain: {fn} → {provider}/{model}",
        "provider": "provider",
        "ollama_down": "Ollama is not running: ollama serve (or pick another provider)",
        "missing_models": "Models missing from Ollama: {models}",
        "pull_missing": "Pull models",
        "pulling": "Pulling: {models}",
        "model": "model",
        "muted": "Microphone muted",
        "unmuted": "Microphone on",
        "new_conv_done": "New conversation",
        "latency": "latency",
        "mic": "mic",
        "help": (
            "**Keys**: Enter sends · Shift+Enter/Ctrl+J newline · Ctrl+C copy · Ctrl+V paste · "
            "Ctrl+A select all · Ctrl+T new chat · F2/Ctrl+H history · Ctrl+E soul · "
            "F3 code mode · F4 microphone · F5 settings · Esc cancel · Ctrl+Q quit\n\n"
            "**Commands**: /new · /history · /soul · /config · /img path · /quit"
        ),
        "notice_prefix": "{service}: {text}",
        "open": "Open",
    },
}

_lang = "pt"


def set_language(lang: str | None) -> str:
    global _lang
    lang = (lang or "pt").strip().lower()[:2]
    _lang = lang if lang in STRINGS else "pt"
    return _lang


def language() -> str:
    return _lang


def t(key: str, **kw: object) -> str:
    """The string ``key`` in the current language (falls back to Portuguese, then the key)."""
    text = STRINGS[_lang].get(key) or STRINGS["pt"].get(key) or key
    return text.format(**kw) if kw else text


