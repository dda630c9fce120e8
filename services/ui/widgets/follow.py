"""Follow mode: a scrolling log that stays on its newest entry unless the user scrolled up.

The chat (:class:`~services.ui.widgets.chat.ChatLog`) is one; keeping the scroll behaviour
here leaves the chat with its own job, the conversation.
"""

from __future__ import annotations

import weakref

from textual.containers import VerticalScroll
from textual.message import Message

#: Older entries are removed beyond this many, so a long conversation keeps memory flat.
MAX_MESSAGES = 200


class FollowLog(VerticalScroll):
    """A scrolling log in *follow mode*: it stays on the newest entry, whatever kind.

    Following is a state, not a guess: it is set by where the *user* leaves the scroll position
    (at the bottom: follow; above it: don't) and kept while content grows. Every time the
    log's content changes size while following (a token, a re-rendered reply, a notice, an
    error, a cancel) it scrolls to the end, at most ~20 times a second. When the user has
    scrolled up, new content raises :class:`Unseen` (the app's "novas mensagens ↓" marker);
    End, a click on it, or scrolling back to the bottom follows again. The old design
    measured "near the bottom" before each change, and one big change (a re-render at
    reply-end, a cancel) lost the bottom for good. (Textual's ``anchor()`` does the same job
    but re-pins the scroll on every layout and halved the frame rate while streaming.)
    """

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
        """Something new is in the log: following, bring it into view; scrolled up, say so."""
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

    def catch_up(self) -> bool:
        """End: back to the newest entry when scrolled up or news wait below (True); else nothing to do."""
        if self.unseen or not self.following:
            self.jump_end()
            return True
        return False

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
