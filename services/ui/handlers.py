"""What each bus frame does to the screen: one handler per frame type, looked up in :data:`HANDLERS`.

The UI listens to every event the catalogue (``shared/messages/``) declares for it; a frame
type missing here is simply not shown. Replies go to the chat (it owns turns and streaming)
and their code to the Code Output panel; the rest updates the app's state (listening,
speaking, the brain's providers) or a toast. A handler that raises only logs: a strange
frame must never take the UI down (:meth:`LunaApp.on_bus_event`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.widgets import ProgressBar

from services.ui.codeextract import extract_code
from services.ui.i18n import t
from services.ui.screens.history import HistoryScreen
from services.ui.screens.settings import SettingsScreen
from services.ui.widgets.bubbles import UserMessage, stored_bubble

if TYPE_CHECKING:
    from services.ui.app import LunaApp

Handler = Callable[["LunaApp", Any], Awaitable[None]]


def turn_latency_ms(stages: dict[str, Any]) -> float | None:
    """The figure the status bar shows from ``turn-metrics``: time to first audio, else the whole turn."""
    for key, scale in (("time_to_first_audio_s", 1000), ("total_s", 1000)):
        v = stages.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v) * scale
    return None


# -- replies ---------------------------------------------------------------------------
async def token(app: LunaApp, f: Any) -> None:
    msg = await app.chat.reply_token(f.turn_id, f.get("epoch"), f["text"])
    if msg is None:
        return
    if msg.tokens == 1:  # until turn-metrics brings the time to first audio, the first token's delay
        app.latency_ms = msg.first_token_ms
    app.code_panel.feed(msg.key, f["text"])


async def reply_start(app: LunaApp, f: Any) -> None:
    notice = f.get("notice") or ""
    app.chat.reply_start(f.turn_id, f.get("epoch"), f["provider"], f["model"], notice, f.get("intent") or "")
    if notice:
        app.notify(notice, severity="warning", timeout=5)
    app.update_indicator()


async def reply_wait(app: LunaApp, f: Any) -> None:
    app.chat.reply_wait(f.turn_id, f["text"])


async def reply_end(app: LunaApp, f: Any) -> None:
    total = (f.get("timings") or {}).get("total_ms")
    footer = f"{total:.0f} ms" if isinstance(total, (int, float)) else ""
    msg = await app.chat.reply_end(f.turn_id, f.get("epoch"), bool(f["ok"]), f.get("text") or "",
                                   f.get("error") or "", bool(f.get("cancelled")), footer)
    if msg is not None:
        app.code_panel.finish(msg.key, msg.text)
    app.update_indicator()


# -- the user's voice and text -----------------------------------------------------------
async def transcript_partial(app: LunaApp, f: Any) -> None:
    app.chat.transcript_partial(f.get("said") or f["text"])
    app.listening = True
    app.update_indicator()


async def transcript(app: LunaApp, f: Any) -> None:
    # what was said ("Luna, ..."); text is what the brain got
    app.chat.transcript(f.get("said") or f["text"], f.turn_id, f.get("continues") or "")
    app.listening = False
    app.update_indicator()


async def user_text(app: LunaApp, f: Any) -> None:
    """A message typed elsewhere (``luna send``), shown with where it came from (ours and spoken ones already are)."""
    if not f.get("spoken") and f.source != "ui":
        via = t("via_send") if f.source == "ctl" else t("via_other", source=f.source)
        app.chat.add(UserMessage(f["text"], via=via))


async def speech_start(app: LunaApp, f: Any) -> None:
    app.listening = True
    app.update_indicator()


async def speech_end(app: LunaApp, f: Any) -> None:
    app.update_indicator()


async def speaking(app: LunaApp, f: Any) -> None:
    app.speaking = True
    app.update_indicator()


async def idle(app: LunaApp, f: Any) -> None:
    app.speaking = False
    app.update_indicator()


async def notice(app: LunaApp, f: Any) -> None:
    sev = {"error": "error", "warning": "warning"}.get(f["level"], "information")
    app.notify(t("notice_prefix", service=f["service"], text=f["text"]), severity=sev,
               timeout=8 if sev == "error" else 5)


# -- the brain's state ---------------------------------------------------------------------
async def status(app: LunaApp, f: Any) -> None:
    brain_data(app, f["data"] or {})


async def config(app: LunaApp, f: Any) -> None:
    brain_data(app, f.data)
    if f.get("error"):
        app.notify(f["error"], severity="error", timeout=6)


def brain_data(app: LunaApp, data: dict[str, Any]) -> None:
    """The brain's status/config: providers and models per function, options, missing models, pulls."""
    if isinstance(data.get("functions"), dict):
        app.functions = {k: v for k, v in data["functions"].items() if isinstance(v, dict)}
        app.refresh_status()
    if isinstance(data.get("options"), dict):
        app.brain_options = data["options"]
    for key in ("missing_models", "ollama_models", "ollama"):
        if key in data:
            app.brain_info[key] = data[key]
    pull = data.get("pull")
    if isinstance(pull, dict):
        pull_progress(app, pull)
    if isinstance(app.screen, SettingsScreen):
        app.screen.update_functions(app.functions, app.brain_options, app.brain_info)


def pull_progress(app: LunaApp, pull: dict[str, Any]) -> None:
    """Ollama's /api/pull progress as a bar under the chat (total unknown: indeterminate)."""
    status = str(pull.get("status") or "")
    total, done = pull.get("total") or 0, pull.get("completed") or 0
    pct = f" {100 * done / total:.0f}%" if isinstance(total, (int, float)) and total else ""
    bar = app.query_one("#pull", ProgressBar)
    if status in ("success", "error"):
        app.pulling = ""
        bar.remove_class("shown")
    else:
        app.pulling = f"⇣ {pull.get('model', '')}{pct}"
        bar.add_class("shown")
        if isinstance(total, (int, float)) and total:
            bar.update(total=total, progress=done if isinstance(done, (int, float)) else 0)
    app.update_indicator()


async def turn_metrics(app: LunaApp, f: Any) -> None:
    app.turn_history.append(dict(f["stages"] or {}))
    ms = turn_latency_ms(f["stages"] or {})
    if ms is not None:
        app.latency_ms = ms
        app.refresh_status()


# -- conversations ---------------------------------------------------------------------------
async def history(app: LunaApp, f: Any) -> None:
    if isinstance(app.screen, HistoryScreen):
        app.screen.set_items(f["conversations"], current=f.get("current") or "")


async def conversation(app: LunaApp, f: Any) -> None:
    """A conversation opened (history-open, /historico N): its messages replace the chat.

    An empty one (the answer to new-conversation) only switches the id: the chat was cleared
    when the user asked, and clearing again could wipe a message typed since.
    """
    data = f.data
    cid = str(data.get("id") or "")
    messages = data.get("messages") or []
    if cid:
        app.chat.conversation_id = cid
    if not messages:
        return
    app.chat.clear()
    app.code_panel.clear()
    for i, m in enumerate(messages):
        bubble = stored_bubble(m)
        if bubble is None:
            continue
        app.chat.add(bubble)
        code = extract_code(bubble.text) if not isinstance(bubble, UserMessage) else ""
        if code:
            app.code_panel.set_turn(f"history-{cid}-{i}", code)
    app.chat.jump_end()
    app.call_after_refresh(app.focus_input)


#: Frame type -> what it does on screen.
HANDLERS: dict[str, Handler] = {
    "token": token,
    "reply-start": reply_start,
    "reply-end": reply_end,
    "reply-wait": reply_wait,
    "transcript-partial": transcript_partial,
    "transcript": transcript,
    "user-text": user_text,
    "speech-start": speech_start,
    "speech-end": speech_end,
    "speaking": speaking,
    "idle": idle,
    "notice": notice,
    "status": status,
    "config": config,
    "history": history,
    "conversation": conversation,
    "turn-metrics": turn_metrics,
}
