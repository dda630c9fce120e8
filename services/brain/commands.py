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
from shared import i18n
from shared.messages import MAX_ENVELOPE_BYTES

if TYPE_CHECKING:
    from services.brain.service import BrainService

#: The help list: each command's Portuguese and English name (the user's language first) and its line.
HELP = (("nova", "new", "brain.help.new"), ("historico", "history", "brain.help.history"),
        ("alma", "soul", "brain.help.soul"), ("config", "", "brain.help.config"),
        ("ajuda", "help", "brain.help.help"), ("sair", "quit", "brain.help.quit"))


def help_text(lang: object) -> str:
    """``/ajuda``: one line a command, named first in the user's language."""
    en = i18n.lang(lang) == "en"
    lines = [i18n.say("brain.help.title", lang)]
    for pt_name, en_name, key in HELP:
        first, other = (en_name, pt_name) if en and en_name else (pt_name, en_name)
        alias = f" (/{other})" if other else ""
        lines.append(f"/{first}{alias} {i18n.say(key, lang)}")
    return "\n".join(lines)


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
        h.epoch += 1
        epoch = h.epoch
        h.publish("reply-start", turn_id=turn_id, intent="system", provider="luna", model=cmd, epoch=epoch)
        ok, error = True, ""
        if cmd in ("nova", "new"):
            self.new_conversation()
            reply = h.say("brain.new")
        elif cmd in ("historico", "history"):
            if arg:
                reply, ok = self.open_by_ref(arg)
            else:
                reply = self.history_text()
                self.publish_history()
        elif cmd in ("alma", "soul"):
            assert h.soul is not None
            h.soul.reload()
            reply = h.say("brain.soul", path=h.soul.path)
        elif cmd in ("sair", "quit", "exit"):
            reply = h.say("brain.bye")
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
            reply = help_text(h.lang)
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
            return h.say("brain.history.none")
        lines = []
        for i, r in enumerate(rows, 1):
            mark = "*" if r["id"] == h.conv_id else " "
            when = time.strftime("%d/%m %H:%M", time.localtime(r["updated"]))
            title = r["title"] or h.say("brain.history.untitled")
            lines.append(f"{mark}{i:>2}. {when}  {title}  ({r['count']} msgs, id {r['id']})")
        return "\n".join(lines) + "\n" + h.say("brain.history.footer")

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
            return h.say("brain.history.no-ref", ref=ref), False
        self.open_conversation(target)
        return h.say("brain.history.reopened", id=target), True

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
                h.notice("warning", h.say("brain.history.no-id", id=cid or "?"), "history")
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
            return h.say("brain.config.no-function", fn=repr(fn), names=", ".join(FUNCTIONS))
        if provider and provider not in PROVIDERS:
            return h.say("brain.config.no-provider", provider=repr(provider), names=", ".join(PROVIDERS))
        if provider == "embedded" and fn == "vision":
            return h.say("brain.config.blind")
        if not provider and not model:
            return h.say("brain.config.empty")
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
            h.notice("warning", h.say("brain.config.no-key", provider=c.provider, setting=fallback.KEY_OF[c.provider]),
                     "missing-key")
        h.log.info("config-set", extra={"fields": {"function": fn, **c.as_dict()}})
        h.publish_status()
        return ""

    def config_text(self) -> str:
        h = self.host
        lines = []
        for fn, d in h.registry.functions().items():
            lines.append(h.say("brain.config.row", fn=fn, provider=d["provider"], model=d["model"],
                               configured=d["configured"], configured_model=d["configured_model"],
                               chain=" > ".join(d["chain"])))
        lines.append(h.say("brain.config.health", state="up" if h.registry.ollama_up else "down",
                           host=h.settings.OLLAMA_HOST, embedded=h.say("brain.yes" if h.registry.embedded_ok
                                                                       else "brain.no")))
        lines.append(h.say("brain.config.how", example="/config code deepseek"))
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
        h.notice("info", h.say("brain.pulled", model=model), "pulled")
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
        if router.is_unknown_command(text):
            return h.say("brain.unknown-command", word=text.strip().split()[0])
        if intent is not router.Intent.VISION:
            return ""
        if not image:
            return h.say("brain.vision.no-image")
        if not reg.can_see() and reg.check_is_old():
            with contextlib.suppress(Exception):  # a failed check leaves the last answer standing
                await reg.check_ollama()
        if reg.can_see():
            return ""
        model = fallback.default_model("ollama", "vision", h.settings)
        keys = " / ".join(fallback.KEY_OF[p] for p in ("gemini", "openai"))
        how = h.say("brain.vision.how-pull" if reg.ollama_up else "brain.vision.how-start", model=model)
        return h.say("brain.vision.none", how=how, keys=keys)

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
