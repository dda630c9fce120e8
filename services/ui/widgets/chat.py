"""The chat log: the conversation's bubbles in follow mode, and the turns streaming into them.

The log owns Luna's replies from the moment a message is sent (a pending bubble) to the
reply's end: it keeps the turn id -> bubble table, finds the bubble a frame belongs to
(by turn id, else by the brain's epoch: a spoken turn has no id of the UI's), streams
tokens into it and closes it. The app only says what the bus reported.
"""

from __future__ import annotations

import weakref

from textual.containers import VerticalScroll
from textual.message import Message

from services.ui.widgets.bubbles import LunaMessage, UserMessage

#: Older messages are removed beyond this many, so a long conversation keeps memory flat.
MAX_MESSAGES = 200


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
        self.turns: dict[str, LunaMessage] = {}  # turn id (or "epoch-N" for a turn begun elsewhere) -> reply
        self.partial: UserMessage | None = None  # the transcript still being spoken

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
        """A new or reopened conversation: empty, following, no turns (a late frame of theirs opens a new bubble)."""
        self.remove_children()
        self.jump_end()
        self.turns.clear()

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

    # -- turns ------------------------------------------------------------------------
    @property
    def running(self) -> list[LunaMessage]:
        """Replies not finished yet (oldest first)."""
        return [m for m in self.turns.values() if not m.done]

    def start_turn(self, turn_id: str) -> LunaMessage:
        """The user's message went out: Luna's pending bubble ("pensando...") waits for the reply."""
        msg = LunaMessage(turn_id)
        self.turns[turn_id] = msg
        self.add(msg)
        return msg

    def reply_for(self, turn_id: str, epoch: int | None, create: bool = False) -> LunaMessage | None:
        """The bubble a reply frame belongs to: by turn id, else by epoch; ``create`` opens one (a spoken turn)."""
        msg = self.turns.get(turn_id) if turn_id else None
        if msg is None and epoch is not None:
            msg = next((m for m in self.turns.values() if m.epoch == epoch), None)
        if msg is None and create:
            msg = LunaMessage(turn_id)
            self.turns[turn_id or f"epoch-{epoch}"] = msg
            self.add(msg)
        return msg

    def reply_start(self, turn_id: str, epoch: int | None, provider: str, model: str, notice: str = "",
                    intent: str = "") -> LunaMessage | None:
        """Who answers (and why a provider was skipped) goes in the reply's header."""
        msg = self.reply_for(turn_id, epoch, create=True)
        if msg is not None:
            msg.epoch = epoch
            msg.start(provider, model, notice, intent)
        return msg

    async def reply_token(self, turn_id: str, epoch: int | None, text: str) -> LunaMessage | None:
        """One streamed token; the reply that took it, or None (the reply was finished or cancelled)."""
        msg = self.reply_for(turn_id, epoch, create=True)
        if msg is None or msg.done:
            return None
        await msg.add_token(text)
        self.follow()
        return msg

    async def reply_end(self, turn_id: str, epoch: int | None, ok: bool, text: str = "", error: str = "",
                        cancelled: bool = False, footer: str = "") -> LunaMessage | None:
        """The reply ended: rendered whole once. A failure for a turn never seen still shows (as an error)."""
        msg = self.reply_for(turn_id, epoch, create=not ok)
        if msg is None:
            return None
        await msg.finish(ok, text, error, cancelled, footer)
        self.follow()
        return msg

    def cancel_running(self) -> str:
        """Esc: every running reply ends as cancelled now (tokens still in flight are dropped).

        Returns the newest running turn's id, for the brain's ``cancel`` ("" when none ran).
        """
        running = self.running
        for m in running:
            m.done = True
            self.call_later(m.finish, False, cancelled=True)
        return running[-1].turn_id if running else ""

    def transcript_partial(self, said: str) -> None:
        """What the user is saying, updated in place while stt hears more."""
        if self.partial is None:
            self.partial = UserMessage(said, spoken=True, partial=True)
            self.add(self.partial)
        else:
            self.partial.set_text(said)

    def transcript(self, said: str) -> None:
        """The final transcript: the partial bubble becomes it, or a new one (nothing said: nothing shown)."""
        if self.partial is not None:
            self.partial.set_text(said, final=True)
            self.partial = None
        elif said.strip():
            self.add(UserMessage(said, spoken=True))
