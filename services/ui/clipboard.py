"""Copy and paste: Ctrl+C, Ctrl+V, Ctrl+A and click-to-copy (:class:`Clipboard`).

Copying takes two paths, OSC 52 through the terminal (Textual) and pyperclip (xclip/xsel/
wl-copy), and the notification says which worked or why neither did. What Ctrl+C copies and
where Ctrl+V pastes are decided here too (:func:`selected_text`, :func:`paste_target`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import TextArea

from services.ui.attach import looks_like_image_path
from services.ui.i18n import t


class CopyRequested(Message):
    """A widget's click asks for ``text`` on the clipboard (a code block, all of F3's code); the app copies
    it and says how (``what`` names it in the notice)."""

    def __init__(self, text: str, what: str) -> None:
        super().__init__()
        self.text = text
        self.what = what


@dataclass
class CopyResult:
    osc52: bool
    pyperclip: bool
    why_osc: str = ""
    why_pyperclip: str = ""

    @property
    def ok(self) -> bool:
        return self.osc52 or self.pyperclip

    def message(self, what: str) -> str:
        if self.osc52 and self.pyperclip:
            return t("copied_both", what=what)
        if self.osc52:
            return t("copied_osc", what=what, why=self.why_pyperclip)
        if self.pyperclip:
            return t("copied_pc", what=what, why=self.why_osc)
        return t("copy_failed", why=f"OSC 52: {self.why_osc}; pyperclip: {self.why_pyperclip}")


def tmux_blocks_osc52() -> str:
    """A reason string when we run inside tmux with ``set-clipboard off``, else ''."""
    if not os.environ.get("TMUX"):
        return ""
    try:
        out = subprocess.run(["tmux", "show-options", "-gv", "set-clipboard"], capture_output=True,
                             text=True, timeout=0.5).stdout.strip()
    except Exception:
        return ""
    return t("tmux_clip_off") if out == "off" else ""


def pyperclip_copy(text: str) -> str:
    """Copy with pyperclip; '' on success or the reason it failed."""
    try:
        import pyperclip
    except ImportError:
        return t("pc_missing")
    try:
        pyperclip.copy(text)
    except Exception as exc:  # PyperclipException when no xclip/xsel/wl-copy
        msg = str(exc).split("\n")[0]
        if "copy/paste mechanism" in msg or "xclip" in msg or "xsel" in msg:
            return t("pc_no_tool")
        return msg[:120] or type(exc).__name__
    return ""


def pyperclip_paste() -> str:
    try:
        import pyperclip

        return pyperclip.paste() or ""
    except Exception:
        return ""


def copy_text(app, text: str) -> CopyResult:  # noqa: ANN001 - a Textual App
    """Copy ``text`` both ways and report."""
    why_osc = ""
    osc = False
    try:
        app.copy_to_clipboard(text)
        osc = True
        blocked = tmux_blocks_osc52()
        if blocked:
            osc, why_osc = False, blocked
    except Exception as exc:
        why_osc = str(exc)[:80] or type(exc).__name__
    why_pc = pyperclip_copy(text)
    return CopyResult(osc52=osc, pyperclip=not why_pc, why_osc=why_osc, why_pyperclip=why_pc)


def selected_text(app) -> str:  # noqa: ANN001 - a Textual App
    """What Ctrl+C copies: the focused text box's selection, else the text selected on the screen."""
    focused = app.focused
    if isinstance(focused, TextArea) and focused.selected_text:
        return focused.selected_text
    try:
        return app.screen.get_selected_text() or ""
    except Exception:
        return ""


def paste_target(app, prompt: TextArea) -> TextArea | None:  # noqa: ANN001 - a Textual App
    """Where Ctrl+V pastes: the focused editable text box, else the input unless a modal is open."""
    focused = app.focused
    if isinstance(focused, TextArea) and not focused.read_only:
        return focused
    return None if isinstance(app.screen, ModalScreen) else prompt


class Clipboard:
    """The app's copy and paste keys; the chat (``app.chat``) takes a pasted image path as an attachment."""

    def __init__(self, app) -> None:  # noqa: ANN001 - a LunaApp
        self.app = app
        self.last: CopyResult | None = None  # how the latest copy went

    def copy(self, text: str, what: str) -> CopyResult:
        """``text`` on the clipboard both ways, and a notice naming ``what`` and how it went."""
        res = copy_text(self.app, text)
        self.last = res
        self.app.notify(res.message(what), severity="information" if res.ok else "error", timeout=3)
        return res

    def copy_selection(self) -> None:
        """Ctrl+C: copy the selection (input or screen); never quits."""
        text = selected_text(self.app)
        if not text:
            self.app.notify(t("nothing_selected"), timeout=2)
            return
        self.copy(text, t("selection"))

    def paste(self) -> None:
        """Ctrl+V: paste the app clipboard (or the system one through pyperclip) into the input."""
        app = self.app
        text = app.clipboard or pyperclip_paste()
        if not text:
            app.notify(t("nothing_to_paste"), timeout=2)
            return
        target = paste_target(app, app.prompt)
        if target is None:
            return
        if target is app.prompt and looks_like_image_path(text):
            app.chat.attach(text)
            return
        target.focus()
        start, end = target.selection
        target.replace(text, start, end, maintain_selection_offset=False)

    def select_all(self) -> None:
        """Ctrl+A: select the whole input (or the whole chat when the input is empty)."""
        focused = self.app.focused
        if isinstance(focused, TextArea) and focused.text:
            focused.select_all()
            return
        if isinstance(self.app.screen, ModalScreen):
            return
        try:
            self.app.chat.text_select_all()
        except Exception:
            pass
