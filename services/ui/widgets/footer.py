"""The key footer, fitted to the terminal's width instead of cut at its right edge.

Textual's Footer lays every binding out in one row and clips what does not fit: below
~120 columns the user read "F5 Confi…" and never saw the palette key. Like the status
bar (widgets/status.py), this one is rebuilt shorter, level by level, until it fits:
full labels, then short labels, then the least needed entries left out (the palette
lists them all), so every entry shown is whole.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from services.ui.i18n import t

#: Binding ids dropped first when even short labels do not fit (Ctrl+P's palette still lists them).
DROP_ORDER = ("soul", "metrics", "new_conversation", "mute", "code_mode", "history", "settings")


def entry_width(key: str, label: str) -> int:
    """Cells of one compact FooterKey: key, a space, label, and its right margin."""
    return Text(key).cell_len + (1 + Text(label).cell_len if label else 0) + 1


class LunaFooter(Footer):
    """Footer whose entries always fit: see the module docstring."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("compact", True)
        super().__init__(**kw)
        self.level = 0
        self._fitted_width = -1

    def _entries(self) -> tuple[list[tuple[Any, bool, str]], tuple[Any, bool, str] | None]:
        """The shown bindings, one per action (its first key), and the palette's, as Textual's Footer picks them."""
        active = self.screen.active_bindings
        seen: dict[str, tuple[Any, bool, str]] = {}
        palette = None
        for key, (_, binding, enabled, tooltip) in active.items():
            if key == self.app.COMMAND_PALETTE_BINDING and self.show_command_palette:
                palette = (binding, enabled, tooltip)
            elif binding.show and binding.action not in seen:
                seen[binding.action] = (binding, enabled, tooltip)
        if palette is not None:
            seen.pop(palette[0].action, None)
        # the app's own order (Textual puts priority bindings first: Ctrl+E before Ctrl+Q read oddly)
        order = [getattr(b, "id", None) for b in self.app.BINDINGS]
        ranked = sorted(seen.values(), key=lambda e: order.index(e[0].id) if e[0].id in order else len(order))
        return ranked, palette

    def _label(self, binding: Any, short: bool) -> str:
        if short and binding.id:
            s = t(f"short_{binding.id}")
            if s != f"short_{binding.id}":
                return s
        return binding.description

    def plan(self, width: int) -> tuple[int, list[tuple[Any, bool, str, str]], tuple[Any, bool, str, str] | None]:
        """(level, entries with their labels, palette entry) for ``width`` columns."""
        entries, palette = self._entries()
        levels: list[tuple[bool, int]] = [(False, 0), (True, 0)] + [(True, n) for n in range(1, len(DROP_ORDER) + 1)]
        for lvl, (short, dropped) in enumerate(levels):
            gone = set(DROP_ORDER[:dropped])
            keep = [(b, e, tip, self._label(b, short)) for b, e, tip in entries if (b.id or "") not in gone]
            pal = None if palette is None else (*palette, self._label(palette[0], short))
            used = sum(entry_width(self.app.get_key_display(b), lab) for b, _, _, lab in keep)
            if pal is not None:
                used += entry_width(self.app.get_key_display(pal[0]), pal[3]) + 1  # its left border
            if used <= width or lvl == len(levels) - 1:
                return lvl, keep, pal
        raise AssertionError("unreachable")

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.size.width or self.app.size.width
        self._fitted_width = width
        self.level, keep, pal = self.plan(width)
        for binding, enabled, tooltip, label in keep:
            yield FooterKey(binding.key, self.app.get_key_display(binding), label, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)
        if pal is not None:
            binding, enabled, tooltip, label = pal
            yield FooterKey(binding.key, self.app.get_key_display(binding), label, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def on_resize(self) -> None:
        if self._bindings_ready and self.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
