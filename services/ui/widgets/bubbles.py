"""The chat's bubbles: what the user said, Luna's streamed markdown reply, system lines, click-to-copy code."""

from __future__ import annotations

import time
from contextlib import suppress
from functools import lru_cache
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Label, Markdown, Static
from textual.widgets._markdown import MarkdownFence, MarkdownStream

from services.ui.clipboard import CopyRequested
from services.ui.i18n import t

#: Streaming tokens are appended to the markdown at most this often (seconds).
FLUSH_S = 0.05


@lru_cache(maxsize=256)
def _known_lexer(language: str) -> str:
    name = (language or "").strip().split()[0] if (language or "").strip() else ""
    if not name:
        return "text"
    try:
        from pygments.lexers import get_lexer_by_name

        get_lexer_by_name(name)
    except Exception:
        return "text"
    return name


class CodeBlock(MarkdownFence):
    """A fenced code block inside a reply: syntax-highlighted; a click copies just this block."""

    DEFAULT_CSS = """
    CodeBlock { border-left: outer $accent 50%; }
    CodeBlock:hover { border-left: outer $accent; background: $boost; }
    """

    def on_mount(self) -> None:
        self.tooltip = t("click_to_copy")

    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False, dark: bool = False):  # noqa: ANN206
        # Never let Pygments guess (slow, and a half-streamed "```py" names no lexer): unknown -> plain text.
        return super().highlight(code, _known_lexer(language), ansi=ansi, dark=dark)

    def on_click(self, event: events.Click) -> None:
        if event.button != 1:
            return
        event.stop()
        self.post_message(CopyRequested(self.code.rstrip("\n"), t("code_block")))


class LunaMarkdown(Markdown):
    BLOCKS = {**Markdown.BLOCKS, "fence": CodeBlock, "code_block": CodeBlock}


class UserMessage(Static):
    """What the user typed or said (``spoken``); a partial transcript updates in place."""

    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 12; padding: 0 1; height: auto;
        background: $primary 20%; border-right: tall $primary; color: $text;
    }
    UserMessage.partial { color: $text-muted; text-style: italic; }
    """

    def __init__(self, text: str, spoken: bool = False, partial: bool = False, image: str = "",
                 via: str = "", cancelled: bool = False) -> None:
        self.spoken = spoken
        self.cancelled = cancelled  # from history: its turn was cut off (Esc, a newer message), kept and marked
        self.image = image
        self.via = via  # sent from elsewhere (``luna send``): said in the header, not passed off as typed here
        self.text = text
        super().__init__(self._render_text(), classes="partial" if partial else "")

    def _render_text(self) -> Text:
        out = Text(t("you_spoken") if self.spoken else t("you"), style="bold")
        if self.via:
            out.append(f" · {self.via}", style="italic")
        if self.cancelled:
            out.append(f" {t('cancelled')}", style="dim italic")
        out.append("\n" + self.text)
        if self.image:
            out.append(f"\n📎 {self.image}", style="italic")
        return out

    def set_text(self, text: str, final: bool = False) -> None:
        self.text = text
        self.update(self._render_text())
        if final:
            self.remove_class("partial")


class LunaMessage(Vertical):
    """One reply: a header (who answers: provider/model), the streamed markdown, a footer line.

    Frames may arrive before the widget is mounted; state is kept on the object and drawn on mount.
    """

    DEFAULT_CSS = """
    LunaMessage {
        margin: 1 12 0 0; padding: 0 1; height: auto;
        background: $secondary 12%; border-left: tall $secondary;
    }
    LunaMessage .luna-header { color: $secondary; text-style: bold; height: auto; width: 100%; }
    LunaMessage .luna-footer { color: $text-muted; height: auto; }
    LunaMessage.error { background: $error 15%; border-left: tall $error; }
    LunaMessage.error .luna-footer { color: $error; text-style: bold; }
    LunaMessage LunaMarkdown { margin: 0; padding: 0; background: transparent; }
    """

    def __init__(self, turn_id: str = "", *, text: str = "", pending: bool = True) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.epoch: int | None = None
        self.provider = ""
        self.model = ""
        self.text = text
        self.pending = pending  # no reply-start yet
        self.waiting = False  # the brain said it keeps this turn for later (reply-wait)
        self.done = not pending
        self.started_at = time.monotonic()
        self.first_token_at: float | None = None
        self.tokens = 0  # streamed tokens taken: the first one gives the status bar its latency
        self.header = t("luna")
        self.notice = ""  # why the first provider(s) were skipped: stays in the header, not just a toast
        self.footer = t("thinking") if pending else ""
        self._ready = False
        self._shown = ""  # the text the markdown widget holds (before streaming)
        self._stream: MarkdownStream | None = None
        self._buffer: list[str] = []
        self._flush_scheduled = False

    def compose(self) -> ComposeResult:
        self._shown = self.text
        yield Label(self._header_text(), classes="luna-header", markup=False)
        yield LunaMarkdown(self.text)
        yield Static(self.footer, classes="luna-footer", markup=False)

    async def on_mount(self) -> None:
        if not self.query(LunaMarkdown):
            return  # removed (trimmed from a long chat) before its children arrived
        self._ready = True
        self._draw()
        if self.text != self._shown:
            self._shown = self.text
            await self.markdown.update(self.text)

    @property
    def key(self) -> str:
        """This reply's key in the Code Output panel (a reply opened from a voice turn may have no turn id)."""
        return self.turn_id or str(id(self))

    @property
    def first_token_ms(self) -> float | None:
        """Time from the bubble's creation (the message sent) to the first streamed token."""
        return None if self.first_token_at is None else (self.first_token_at - self.started_at) * 1000

    @property
    def markdown(self) -> LunaMarkdown:
        return self.query_one(LunaMarkdown)

    def _draw(self) -> None:
        if self._ready:
            with suppress(NoMatches):
                self.query_one(".luna-header", Label).update(self._header_text())
                self.query_one(".luna-footer", Static).update(self.footer)

    def _header_text(self) -> Text:
        """Who answers, and (a second line, one widget less per reply) why a provider was skipped."""
        out = Text(self.header)
        if self.notice:
            out.append(f"\n⚠ {self.notice}", style="not bold yellow")
        return out

    def wait(self, text: str) -> None:
        """No reply yet, and the brain said why (``reply-wait``): the footer says it until the reply starts."""
        self.waiting = True
        self.footer = f"⏳ {text}"
        self._draw()

    def start(self, provider: str, model: str, notice: str = "", intent: str = "") -> None:
        if self.waiting:  # the latency shown is the model's, not the time the turn waited for llama.cpp
            self.started_at = time.monotonic()
        self.pending = False
        self.waiting = False
        self.provider, self.model = provider, model
        if provider == "luna":  # Luna herself (a command, "attach an image"): no model to name
            who = f"/{model}" if intent == "system" and model else ""
        else:
            who = f"{provider}/{model}" if model else provider
        what = t(f"fn_{intent}") if intent in ("code", "vision") else ""  # código / visão, in the user's language
        self.header = " · ".join(x for x in (t("luna"), who, what) if x)
        self.notice = notice
        if not self.text:
            self.footer = t("thinking")
        self._draw()

    async def add_token(self, text: str) -> None:
        if self.done:
            return
        self.tokens += 1
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()
            self.footer = ""
            self._draw()
        self.pending = False
        self.text += text
        if not self._ready or not self.is_attached:
            return  # on_mount draws the accumulated text
        # Tokens are batched: at most ~20 markdown appends a second however fast they arrive, so the
        # layout work stays flat and keys stay responsive while a long reply streams.
        self._buffer.append(text)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            # a long reply re-lays out more on every append: append less often as it grows (20 Hz -> 5 Hz)
            self.set_timer(FLUSH_S + min(0.15, len(self.text) / 50_000), self._flush)

    async def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._buffer or self.done or not self.is_attached:
            return
        chunk = "".join(self._buffer)
        self._buffer.clear()
        if self._stream is None:
            already = self.text[: len(self.text) - len(chunk)] if self.text.endswith(chunk) else ""
            if already != self._shown:  # tokens arrived before mount: catch up first
                await self.markdown.update(already)
            self._stream = Markdown.get_stream(self.markdown)
        await self._stream.write(chunk)

    async def finish(self, ok: bool, text: str = "", error: str = "", cancelled: bool = False,
                     footer: str = "") -> None:
        """The reply ended: stop streaming and render the whole text once so fences are complete."""
        self._buffer.clear()
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        self.done = True
        self.pending = False
        if text and text != self.text:
            self.text = text
        if not ok and not cancelled:
            self.add_class("error")
            self.footer = f"⚠ {error or t('error')}"
        elif cancelled:
            self.footer = t("cancelled")
        else:
            self.footer = footer
        if self._ready and self.is_attached:
            self._shown = self.text
            with suppress(NoMatches):
                await self.markdown.update(self.text)
            self._draw()

    def fail(self, message: str) -> None:
        """No reply at all (brain down, bus down): an error line, no traceback."""
        self.pending = False
        self.done = True
        self.add_class("error")
        self.footer = f"⚠ {message}"
        self._draw()


class SystemLine(Static):
    DEFAULT_CSS = """
    SystemLine { color: $text-muted; margin: 1 4 0 4; height: auto; text-align: center; }
    SystemLine.error { color: $error; }
    """


class HelpMessage(Markdown):
    DEFAULT_CSS = "HelpMessage { margin: 1 4 0 4; background: $boost; }"


def stored_bubble(m: Any) -> UserMessage | LunaMessage | None:
    """One message of a reopened conversation, drawn as it was when it happened (None: not a message).

    A turn cut off (Esc, a newer message) is shown marked; a failed reply keeps its error colour.
    """
    if not isinstance(m, dict):
        return None
    role, content = m.get("role"), str(m.get("content") or m.get("text") or "")
    cancelled = bool(m.get("cancelled"))
    if role == "user":
        return UserMessage(content, cancelled=cancelled)
    if role not in ("assistant", "luna"):
        return None
    msg = LunaMessage(text=content, pending=False)
    if m.get("provider"):
        msg.start(str(m.get("provider")), str(m.get("model") or ""), intent=str(m.get("intent") or ""))
    if cancelled:
        msg.footer = t("cancelled")
    elif m.get("ok") is False:
        msg.add_class("error")
    return msg
