"""The chat log: user and Luna messages, streamed markdown, click-to-copy code blocks."""

from __future__ import annotations

import time
import weakref
from contextlib import suppress
from functools import lru_cache

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Label, Markdown, Static
from textual.widgets._markdown import MarkdownFence, MarkdownStream

from services.ui.i18n import t

#: Older messages are removed beyond this many, so a long conversation keeps memory flat.
MAX_MESSAGES = 200
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
        self.app.copy_with_notice(self.code.rstrip("\n"), t("code_block"))  # type: ignore[attr-defined]


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
        self.done = not pending
        self.started_at = time.monotonic()
        self.first_token_at: float | None = None
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

    def start(self, provider: str, model: str, notice: str = "", intent: str = "") -> None:
        self.pending = False
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


class ChatLog(VerticalScroll):
    """The scrolling conversation in *follow mode*: it stays on the newest entry, whatever kind.

    Following is a state, not a guess: it is set by where the *user* leaves the scroll position
    (at the bottom: follow; above it: don't) and kept while content grows. Every time the
    chat's content changes size while following (a token, a re-rendered reply, a notice, an
    error, a cancel) it scrolls to the end, at most ~20 times a second. When the user has
    scrolled up, new content raises :class:`Unseen` (the app's "novas mensagens ↓" marker);
    End, a click on it, or scrolling back to the bottom follows again. The old design
    measured "near the bottom" before each change, and one big change (a re-render at
    reply-end, a cancel) lost the bottom for good. (Textual's ``anchor()`` does the same job
    but re-pins the scroll on every layout and halved the frame rate while streaming.)
    """

    DEFAULT_CSS = "ChatLog { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }"
    #: Seconds between follow scrolls while content grows.
    FOLLOW_S = 0.05

    class Unseen(Message):
        """New content arrived below while the user reads above (``unseen``), or it was seen."""

        def __init__(self, unseen: bool) -> None:
            super().__init__()
            self.unseen = unseen

    def __init__(self, **kw) -> None:  # noqa: ANN003
        super().__init__(**kw)
        self._removing: weakref.WeakSet = weakref.WeakSet()
        self.unseen = False
        self._following = True
        self._follow_pending = False

    @property
    def following(self) -> bool:
        """True unless the user scrolled up (then new content waits behind the marker)."""
        return self._following or self.max_scroll_y == 0

    def add(self, widget) -> None:  # noqa: ANN001
        self.mount(widget)
        # Removal is asynchronous: widgets already on their way out still sit in ``children`` for a
        # while, and asking to remove them again piles up Prune messages (a real leak, seen in the bench).
        live = [c for c in self.children if c not in self._removing]
        extra = len(live) - MAX_MESSAGES
        if extra > 0:
            old = live[:extra]
            self._removing.update(old)
            self.remove_children(old)
        self.follow()

    def follow(self) -> None:
        """Something new is in the chat: following, bring it into view; scrolled up, say so."""
        if self.following:
            self._schedule_follow()
        else:
            self._set_unseen(True)

    def _schedule_follow(self) -> None:
        if not self._follow_pending:
            self._follow_pending = True
            self.set_timer(self.FOLLOW_S, self._do_follow)

    def _do_follow(self) -> None:
        self._follow_pending = False
        if self._following:
            self.scroll_end(animate=False)

    def _size_updated(self, size, virtual_size, container_size, layout: bool = True) -> bool:  # noqa: ANN001
        # the content grew or shrank (streamed markdown, a re-render, a bubble mounted): keep the end in view
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if self._following and abs(self.max_scroll_y - self.scroll_y) > 0.5:  # shrinking too: no blank tail
            self._schedule_follow()
        return changed

    def jump_end(self) -> None:
        """End / the marker: back to the newest entry, following again."""
        self._following = True
        self.scroll_end(animate=False)
        self._set_unseen(False)

    def clear(self) -> None:
        """A new or reopened conversation: empty, following."""
        self.remove_children()
        self.jump_end()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # whoever moved the scroll position, the bottom means "follow" and anywhere above means "don't"
        # (content growth never moves it, so it cannot switch following off by itself)
        at_end = new_value >= self.max_scroll_y - 0.5
        self._following = at_end
        if at_end and self.unseen:
            self._set_unseen(False)

    def _set_unseen(self, unseen: bool) -> None:
        if unseen != self.unseen:
            self.unseen = unseen
            self.post_message(self.Unseen(unseen))
