"""The chat log: user and Luna messages, streamed markdown, click-to-copy code blocks."""

from __future__ import annotations

import time

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Markdown, Static
from textual.widgets._markdown import MarkdownFence, MarkdownStream

from services.ui.i18n import t

#: Older messages are removed beyond this many, so a long conversation keeps memory flat.
MAX_MESSAGES = 200


class CodeBlock(MarkdownFence):
    """A fenced code block inside a reply: syntax-highlighted; a click copies just this block."""

    DEFAULT_CSS = """
    CodeBlock { border-left: outer $accent 50%; }
    CodeBlock:hover { border-left: outer $accent; background: $boost; }
    """

    def on_mount(self) -> None:
        self.tooltip = t("click_to_copy")

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

    def __init__(self, text: str, spoken: bool = False, partial: bool = False, image: str = "") -> None:
        self.spoken = spoken
        self.image = image
        self.text = text
        super().__init__(self._render_text(), classes="partial" if partial else "")

    def _render_text(self) -> Text:
        out = Text(t("you_spoken") if self.spoken else t("you"), style="bold")
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
    LunaMessage .luna-header { color: $secondary; text-style: bold; height: 1; }
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
        self.footer = t("thinking") if pending else ""
        self._ready = False
        self._shown = ""  # the text the markdown widget holds (before streaming)
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        self._shown = self.text
        yield Label(self.header, classes="luna-header", markup=False)
        yield LunaMarkdown(self.text)
        yield Static(self.footer, classes="luna-footer", markup=False)

    async def on_mount(self) -> None:
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
            self.query_one(".luna-header", Label).update(self.header)
            self.query_one(".luna-footer", Static).update(self.footer)

    def start(self, provider: str, model: str, notice: str = "", intent: str = "") -> None:
        self.pending = False
        self.provider, self.model = provider, model
        who = f"{provider}/{model}" if model else provider
        extra = f" · {intent}" if intent and intent != "chat" else ""
        self.header = f"{t('luna')} · {who}{extra}"
        if not self.text:
            self.footer = f"⚠ {notice}" if notice else t("thinking")
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
        if not self._ready:
            return  # on_mount draws the accumulated text
        if self._stream is None:
            if self.text != self._shown + text:  # tokens arrived before mount: catch up first
                await self.markdown.update(self.text[: len(self.text) - len(text)])
            self._stream = Markdown.get_stream(self.markdown)
        await self._stream.write(text)

    async def finish(self, ok: bool, text: str = "", error: str = "", cancelled: bool = False,
                     footer: str = "") -> None:
        """The reply ended: stop streaming and render the whole text once so fences are complete."""
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
        if self._ready:
            self._shown = self.text
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
    """The scrolling conversation; follows the bottom unless the user scrolled up."""

    DEFAULT_CSS = "ChatLog { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }"

    def add(self, widget) -> None:  # noqa: ANN001
        at_end = self.is_vertical_scroll_end or self.max_scroll_y == 0
        self.mount(widget)
        extra = len(self.children) - MAX_MESSAGES
        if extra > 0:
            self.remove_children(list(self.children)[:extra])
        if at_end:
            self.scroll_end(animate=False)

    def follow(self) -> None:
        if self.is_vertical_scroll_end or self.max_scroll_y - self.scroll_y < 4:
            self.scroll_end(animate=False)
