"""What the brain does on a slash command typed in the chat and on a ``command`` frame from the bus.

Why one module: ``/nova`` and ``command new-conversation``, ``/historico N`` and
``history-open``, ``/config`` and ``config-set`` are the same acts reached two ways
(the chat line for a person, the frame for the UI's screens and ``luna send``);
they share one implementation here, so both ways always agree. Also here: the
answers Luna gives herself without a model (an unknown ``/word``, a vision question
that cannot be answered), which are shown and spoken like any reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from services.brain import fallback, router
from services.brain.fallback import FUNCTIONS, PROVIDERS
from services.brain.providers.base import ProviderError
from services.brain.speech.segmenter import speakable
from shared.messages import MAX_ENVELOPE_BYTES

if TYPE_CHECKING:
    from services.brain.service import BrainService

HELP = {
    "pt": ("Comandos:\n"
           "/nova (/new) - nova conversa\n"
           "/historico (/history) [n] - lista as conversas; com n, reabre a n-ésima\n"
           "/alma (/soul) - edita a personalidade da Luna\n"
           "/config [função provedor [modelo]] - mostra ou troca o modelo (ex.: /config chat gemini)\n"
           "/ajuda (/help) - esta lista\n"
           "/sair (/quit) - sai"),
    "en": ("Commands:\n"
           "/new (/nova) - new conversation\n"
           "/history (/historico) [n] - list conversations; with n, reopen the n-th\n"
           "/soul (/alma) - edit Luna's persona\n"
           "/config [function provider [model]] - show or change the model (e.g. /config chat gemini)\n"
           "/help (/ajuda) - this list\n"
           "/quit (/sair) - quit"),
}


class Commands:
    """Slash commands, bus commands and Luna's own answers, acting on ``host`` (the brain)."""

    def __init__(self, host: BrainService) -> None:
        self.host = host
        self.pull_task: asyncio.Task[Any] | None = None

    # -- the chat's slash commands ---------------------------------------------------------------
    async def slash(self, text: str, turn_id: str) -> None:
        """Answer ``/word ...`` as a reply of provider ``luna`` (a new epoch, like any reply)."""
        h = self.host
        cmd, _, arg = text.partition(" ")
        cmd = router.normalize(cmd).lstrip("/")
        arg = arg.strip()
        en = h.lang == "en"
        h.epoch += 1
        epoch = h.epoch
        h.publish("reply-start", turn_id=turn_id, intent="system", provider="luna", model=cmd, epoch=epoch)
        ok, error = True, ""
        if cmd in ("nova", "new"):
            self.new_conversation()
            reply = "New conversation." if en else "Nova conversa começou."
        elif cmd in ("historico", "history"):
            if arg:
                reply, ok = self.open_by_ref(arg)
            else:
                reply = self.history_text()
                self.publish_history()
        elif cmd in ("alma", "soul"):
            assert h.soul is not None
            h.soul.reload()
            reply = (f"Soul file: {h.soul.path} (reloaded)" if en
                     else f"Alma em {h.soul.path} (recarregada; edite e salve para mudar a Luna)")
        elif cmd in ("sair", "quit", "exit"):
            reply = "Bye!" if en else "Até logo!"
        elif cmd == "config":
            if arg:
                words = arg.split()
                fn = words[0]
                prov = words[1] if len(words) > 1 else ""
                model = " ".join(words[2:])
                error = self.config_set(fn, prov, model)
                ok = not error
            reply = error or self.config_text()
        else:  # ajuda / help
            reply = HELP["en" if en else "pt"]
        if ok:
            h.publish("token", turn_id=turn_id, text=reply, epoch=epoch)
        kw = {"error": reply} if not ok else {}
        h.publish("reply-end", turn_id=turn_id, ok=ok, text=reply if ok else "", provider="luna", model=cmd,
                  epoch=epoch, timings={}, **kw)

    def history_text(self) -> str:
        h = self.host
        assert h.history is not None
        rows = h.history.conversations(20)
        if not rows:
            return "Nenhuma conversa ainda."
        lines = []
        for i, r in enumerate(rows, 1):
            mark = "*" if r["id"] == h.conv_id else " "
            when = time.strftime("%d/%m %H:%M", time.localtime(r["updated"]))
            lines.append(f"{mark}{i:>2}. {when}  {r['title'] or '(sem título)'}  ({r['count']} msgs, id {r['id']})")
        return "\n".join(lines) + "\n/historico N reabre a conversa N."

    def open_by_ref(self, ref: str) -> tuple[str, bool]:
        """Reopen the n-th conversation of the list, or one by id; the reply and whether it worked."""
        h = self.host
        assert h.history is not None
        rows = h.history.conversations(100)
        target = None
        if ref.isdigit() and 1 <= int(ref) <= len(rows):
            target = rows[int(ref) - 1]["id"]
        elif h.history.exists(ref):
            target = ref
        if target is None:
            return f"conversa {ref} não existe (veja /historico)", False
        self.open_conversation(target)
        return f"Conversa {target} reaberta.", True

    # -- the bus's command frames ------------------------------------------------------------------
    async def command(self, name: str, args: dict[str, Any]) -> None:
        h = self.host
        if name == "cancel":
            await h.cancel_turn()
        elif name == "new-conversation":
            await h.cancel_turn()
            self.new_conversation()
        elif name == "history-list":
            self.publish_history(int(args.get("limit") or 50))
        elif name == "history-open":
            cid = str(args.get("id") or "")
            assert h.history is not None
            if cid and h.history.exists(cid):
                await h.cancel_turn()
                self.open_conversation(cid)
            else:
                h.notice("warning", f"conversa {cid or '?'} não existe", "history")
        elif name == "config-set":
            err = self.config_set(str(args.get("function") or ""), str(args.get("provider") or ""),
                                  str(args.get("model") or ""))
            h.publish("config", functions=h.registry.functions(), **({"error": err} if err else {}),
                      options=h.registry.options())
            if err:
                h.notice("warning", err, "config")
        elif name == "config-get":
            h.publish("config", functions=h.registry.functions(), options=h.registry.options())
        elif name == "soul-reload":
            assert h.soul is not None
            h.soul.reload()
        elif name == "pull":
            model = str(args.get("model") or "")
            if model and (self.pull_task is None or self.pull_task.done()):
                self.pull_task = asyncio.get_running_loop().create_task(self.pull(model))

    # -- conversations -------------------------------------------------------------------------------
    def new_conversation(self) -> None:
        h = self.host
        assert h.history is not None
        h.conv_id = h.history.new_conversation()
        h.info["conversation_id"] = h.conv_id
        h.publish("conversation", id=h.conv_id, messages=[], title="")

    def open_conversation(self, conv_id: str) -> None:
        h = self.host
        assert h.history is not None
        h.switch_conversation(conv_id)
        msgs = [{"role": m["role"], "content": m["content"], "provider": m["provider"], "model": m["model"],
                 "intent": m["intent"], "ok": bool(m["ok"]), "created": m["created"],
                 "cancelled": bool(m.get("cancelled"))}  # the UI marks a cut-off turn (schema v4)
                for m in h.history.messages(conv_id)]
        # stay under the envelope limit: newest messages win
        budget, kept = MAX_ENVELOPE_BYTES // 2, []
        for m in reversed(msgs):
            budget -= len(m["content"].encode()) + 100
            if budget < 0:
                break
            kept.append(m)
        kept.reverse()
        h.publish("conversation", id=conv_id, messages=kept)

    def publish_history(self, limit: int = 50) -> None:
        h = self.host
        assert h.history is not None
        h.publish("history", conversations=h.history.conversations(limit), current=h.conv_id)

    # -- configuration ---------------------------------------------------------------------------------
    def config_set(self, fn: str, provider: str, model: str) -> str:
        """Hot swap: the next turn of ``fn`` uses ``provider``/``model``. Returns an error line or ''."""
        h = self.host
        fn = fn.strip().lower()
        provider = provider.strip().lower()
        model = model.strip()
        if fn not in FUNCTIONS:
            return f"config: função {fn!r} não existe (use {', '.join(FUNCTIONS)})"
        if provider and provider not in PROVIDERS:
            return f"config: provedor {provider!r} não existe (use {', '.join(PROVIDERS)})"
        if provider == "embedded" and fn == "vision":
            return "config: o modelo embutido não vê imagens"
        if not provider and not model:
            return "config: diga o provedor e/ou o modelo"
        overrides = h.registry.overrides
        ov = dict(overrides.get(fn, {}))
        if provider:
            ov["provider"] = provider
            ov.pop("model", None)
        if model:
            ov["model"] = model
        overrides[fn] = ov
        c = h.registry.configured(fn)
        if c.provider in fallback.PAID and not h.registry.has_key(c.provider):
            h.notice("warning", f"{c.provider}: sem chave ({fallback.KEY_OF[c.provider]} vazio no .env); "
                     "vai ser pulado", "missing-key")
        h.log.info("config-set", extra={"fields": {"function": fn, **c.as_dict()}})
        h.publish_status()
        return ""

    def config_text(self) -> str:
        h = self.host
        lines = []
        for fn, d in h.registry.functions().items():
            lines.append(f"{fn}: {d['provider']} {d['model']}  (escolhido: {d['configured']} {d['configured_model']};"
                         f" ordem: {' > '.join(d['chain'])})")
        lines.append(f"ollama: {'up' if h.registry.ollama_up else 'down'} ({h.settings.OLLAMA_HOST}); "
                     f"embutido: {'sim' if h.registry.embedded_ok else 'não'}")
        lines.append("/config <função> <provedor> [modelo] troca na hora (ex.: /config code deepseek)")
        return "\n".join(lines)

    async def pull(self, model: str) -> None:
        """``ollama pull`` with its progress on ``status`` (at most 10 a second), then a notice."""
        h = self.host
        ol = h.registry.get("ollama")
        last = 0.0
        try:
            async for p in ol.pull(model):
                now = time.monotonic()
                done = p["status"] == "success"
                if done or now - last >= 0.1:
                    last = now
                    h.publish("status", service=h.name, data={**h.status_data(), "pull": {"model": model, **p}})
        except ProviderError as err:
            h.publish("status", service=h.name,
                      data={**h.status_data(), "pull": {"model": model, "status": "error", "error": str(err),
                                                        "completed": 0, "total": 0}})
            h.notice("error", f"pull {model}: {err}", "pull-failed")
            return
        await h.registry.check_ollama()
        h.notice("info", f"modelo {model} baixado", "pulled")
        h.publish_status()

    # -- Luna's own answers ----------------------------------------------------------------------------
    async def own_answer(self, text: str, intent: router.Intent, image: str) -> str:
        """The reply when a turn cannot or need not reach a model, else ''.

        An unknown ``/word`` is a typo, not a message; a vision question without an image asks
        for one; with an image and no provider that can see, it says what to pull or which key
        to set (the old path walked the chain and answered "Ollama não está rodando").
        """
        h = self.host
        reg = h.registry
        en = str(h.lang).lower().startswith("en")
        if router.is_unknown_command(text):
            word = text.strip().split()[0]
            return f"unknown command: {word} — see /help" if en else f"comando desconhecido: {word} — veja /ajuda"
        if intent is not router.Intent.VISION:
            return ""
        if not image:
            return ("To see, I need an image: attach one with /img path/to/image.png (or paste its path) "
                    "and ask again." if en else
                    "Para eu ver, preciso de uma imagem: anexe com /img caminho/da/imagem.png (ou cole o "
                    "caminho) e pergunte de novo.")
        if not reg.can_see() and reg.check_is_old():
            with contextlib.suppress(Exception):  # a failed check leaves the last answer standing
                await reg.check_ollama()
        if reg.can_see():
            return ""
        model = fallback.default_model("ollama", "vision", h.settings)
        keys = " / ".join(fallback.KEY_OF[p] for p in ("gemini", "openai"))
        if reg.ollama_up:
            how = f"`ollama pull {model}` (F5 → Baixar modelos)" if not en else f"`ollama pull {model}`"
        else:
            how = (f"start Ollama (`ollama serve`) and `ollama pull {model}`" if en
                   else f"rode o Ollama (`ollama serve`) e `ollama pull {model}`")
        return (f"No model that sees images is available. To see images: {how}, or set {keys} in .env."
                if en else
                f"Nenhum modelo que vê imagens está disponível. Para ver imagens: {how}, ou defina {keys} no .env.")

    def own_reply(self, text: str, turn_id: str, intent: str, spoken: bool) -> None:
        """A whole reply from Luna herself: shown like any reply, spoken when the turn was."""
        h = self.host
        h.epoch += 1
        epoch = h.epoch
        h.publish("reply-start", turn_id=turn_id, intent=intent, provider="luna", model="", epoch=epoch)
        h.publish("token", turn_id=turn_id, text=text, epoch=epoch)
        said = speakable(text, h.lang) if spoken else ""
        if said:
            h.bus.push("sentence", "sentence", turn_id=turn_id, text=said, epoch=epoch, index=0, final=True)
        h.publish("reply-end", turn_id=turn_id, ok=True, text=text, provider="luna", model="", epoch=epoch,
                  timings={})
