"""The chat: the conversation the user has with Luna, from the message sent to the reply's end.

As in a chat client, the chat owns its conversation: which one it is (``conversation_id``),
the image attached to the next message, sending it (with Luna's pending bubble and the
"the brain is not running" timeout), starting a new one or reopening an old one, and
cancelling the running reply. It keeps the turn id -> bubble table, finds the bubble a
frame belongs to (by turn id, else by the brain's epoch: a spoken turn has no id of the
UI's), streams tokens into it and closes it. The app only says what the bus reported.
Scrolling in follow mode is :class:`~services.ui.widgets.follow.FollowLog`'s.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.reactive import var

from services.ui.attach import check_image
from services.ui.i18n import t
from services.ui.widgets.bubbles import LunaMessage, SystemLine, UserMessage
from services.ui.widgets.follow import FollowLog

#: Seconds to wait for reply-start before saying the brain is not running.
REPLY_START_TIMEOUT = 5.0
#: Spoken turns whose bubbles a newer transcript may still replace (it comes within STT_CONTINUE_MS).
SPOKEN_KEPT = 8


class ChatLog(FollowLog):
    """The conversation's bubbles; ``client`` (:class:`~services.ui.busclient.BusClient`) carries its messages."""

    DEFAULT_CSS = "ChatLog { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }"

    #: Set after each change of the running replies that the indicator shows (sending, the brain not
    #: answering): the app watches it, and its watcher runs at once (a message would land a cycle late).
    replying: var[bool] = var(False, always_update=True)

    class Attached(Message):
        """The image for the next message changed (``path``; "" once it went or was dropped)."""

        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    def __init__(self, client: Any = None, *, reply_timeout: float = REPLY_START_TIMEOUT, **kw) -> None:  # noqa: ANN003
        super().__init__(**kw)
        self.client = client
        self.reply_timeout = reply_timeout
        self.conversation_id: str | None = None  # None: the brain's current one
        self.image = ""  # the path attached to the next message
        self.turns: dict[str, LunaMessage] = {}  # turn id (or "epoch-N" for a turn begun elsewhere) -> reply
        self.partial: UserMessage | None = None  # the transcript still being spoken
        self.spoken: dict[str, UserMessage] = {}  # the last spoken turns' bubbles (a newer one may go on with one)
        self.merged: deque[str] = deque(maxlen=SPOKEN_KEPT)  # spoken turns a newer transcript went on with: their
        # late frames (the brain's reply-end for the reply it stopped) are dropped

    # -- the conversation ------------------------------------------------------------------
    def send(self, text: str) -> str:
        """The user's message (with the attached image) goes out; Luna's pending bubble waits for the reply."""
        image = self.image
        self.image = ""
        self.spoken.clear()  # a typed message in between: no spoken turn before it may be continued
        self.post_message(self.Attached(""))
        self.add(UserMessage(text, image=Path(image).name if image else ""))
        tid = self.client.send_text(text, image=image or None, conversation_id=self.conversation_id)
        msg = self.start_turn(tid)
        if not self.client.ok:
            msg.fail(t("bus_down", err=self.client.error or "-"))
        else:
            self.set_timer(self.reply_timeout, lambda: self._check_started(tid))
        self.replying = bool(self.running)
        return tid

    def _check_started(self, tid: str) -> None:
        msg = self.turns.get(tid)
        if msg is not None and msg.pending and not msg.done and not msg.waiting:
            msg.fail(t("brain_down"))
            self.replying = bool(self.running)

    def attach(self, text: str) -> bool:
        """``/img path`` or a pasted path: the image goes with the next message; a bad one is said here."""
        path, err = check_image(text)
        if err:
            self.notify(err, severity="error", timeout=4)
            self.add(SystemLine(err, classes="error", markup=False))
            return False
        self.image = path
        self.post_message(self.Attached(path))
        return True

    def new_conversation(self) -> None:
        """The brain starts a new conversation; the chat empties now (its answer only brings the new id)."""
        self.client.command("new-conversation")
        self.conversation_id = None
        self.clear()
        self.notify(t("new_conv_done"), timeout=1.5)

    def open_conversation(self, conv_id: str) -> None:
        """Ask the brain to reopen ``conv_id``; its ``conversation`` frame fills the chat."""
        self.conversation_id = conv_id
        self.client.command("history-open", id=conv_id)
        self.clear()

    def cancel(self) -> None:
        """Esc: the running replies end as cancelled here, and the brain is told to stop the newest."""
        self.client.command("cancel", turn_id=self.cancel_running())

    def show_up_summary(self) -> None:
        """What ``luna up`` reported (its progress lines vanish when the UI takes the terminal) as the
        chat's first line; ``luna up`` names the file in LUNA_UP_SUMMARY (luna/stack.py)."""
        path = os.environ.get("LUNA_UP_SUMMARY")
        if not path:
            return
        try:
            lines = [x.strip() for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
        except (OSError, UnicodeDecodeError):
            return
        if lines:  # the verdict, then one line per service not plainly ready (degraded, no device...)
            self.add(SystemLine(t("up_summary", text="\n".join(lines)), markup=False))

    def clear(self) -> None:
        """A new or reopened conversation: empty, following, no turns (a late frame of theirs opens a new bubble)."""
        self.remove_children()
        self.jump_end()
        self.turns.clear()
        self.spoken.clear()

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
        if turn_id in self.merged:
            return None  # a late frame of a turn a newer transcript replaced
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

    def reply_wait(self, turn_id: str, text: str) -> LunaMessage | None:
        """The brain keeps this turn until it can answer (llama.cpp compiling): the bubble says why, and
        waits as long as it takes instead of calling the brain down after ``reply_timeout``."""
        msg = self.reply_for(turn_id, None, create=True)
        if msg is not None and not msg.done:
            msg.wait(text)
            self.follow()
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
        """Every running reply ends as cancelled now (tokens still in flight are dropped).

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

    def transcript(self, said: str, turn_id: str = "", continues: str = "") -> None:
        """The final transcript: the partial bubble becomes it, or a new one (nothing said: nothing shown).

        ``continues``: these words go on with that spoken turn and hold all of it, so that turn's
        bubble and Luna's reply to half a sentence leave the screen, as they leave the history.
        """
        if continues and continues == next(reversed(self.spoken), None):  # only the newest spoken turn
            self.merge(continues)
        bubble = None
        if self.partial is not None:
            bubble, self.partial = self.partial, None
            bubble.set_text(said, final=True)
        elif said.strip():
            bubble = UserMessage(said, spoken=True)
            self.add(bubble)
        if bubble is not None and turn_id:
            self.spoken[turn_id] = bubble
            for old in list(self.spoken)[:-SPOKEN_KEPT]:
                del self.spoken[old]

    def merge(self, turn_id: str) -> None:
        """Take spoken turn ``turn_id`` (the user's line and Luna's reply to it) off the screen."""
        self.merged.append(turn_id)
        bubble = self.spoken.pop(turn_id, None)
        reply = self.turns.pop(turn_id, None)
        for w in (bubble, reply):
            if w is not None and w.is_attached:
                w.remove()
        self.replying = bool(self.running)
