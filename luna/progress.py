"""The progress line ``luna models`` and ``make up`` print while a model downloads.

Why apart from the hub client (:mod:`luna.fetch`): Ollama's pulls draw the same bar
(:mod:`luna.models`), and how progress looks on a terminal or in a log has nothing
to do with resuming or verifying a download.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class Bar:
    """One progress line: ``label [#####     ]  52%  251.3/483.6 MB  11.2 MB/s``.

    On a terminal it redraws in place (at most 10 times a second); elsewhere (a log,
    a test) it prints a line every quarter so the log still shows that it moved.
    """

    def __init__(self, label: str, total: int | None, initial: int = 0, out: IO[str] | None = None) -> None:
        self.label, self.total, self.done = label, total, initial
        self.out = out or sys.stderr
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self.start = initial
        self._drawn = 0.0
        self._quarter = -1

    def speed(self) -> float:
        dt = time.monotonic() - self.t0
        return (self.done - self.start) / dt if dt > 0 else 0.0

    def line(self) -> str:
        rate = f"{human(self.speed())}/s"
        if not self.total:
            return f"{self.label}  {human(self.done)}  {rate}"
        frac = min(1.0, self.done / self.total)
        bar = "#" * int(frac * 20)
        return f"{self.label}  [{bar:<20}] {frac * 100:3.0f}%  {human(self.done)}/{human(self.total)}  {rate}"

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty:
            if now - self._drawn >= 0.1:
                self._drawn = now
                print(f"\r{self.line()}\033[K", end="", file=self.out, flush=True)
        elif self.total:
            q = int(4 * self.done / self.total)
            if q > self._quarter and q < 4:
                self._quarter = q
                print(self.line(), file=self.out, flush=True)

    def close(self) -> None:
        if self.tty:
            print(f"\r{self.line()}\033[K", file=self.out, flush=True)
        else:
            print(self.line(), file=self.out, flush=True)


ProgressFactory = Callable[[str, "int | None", int], Bar]


def default_bar(label: str, total: int | None, initial: int) -> Bar:
    return Bar(label, total, initial)
