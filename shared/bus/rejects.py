"""The count of frames a process refused, by reason, and the rate-limited log line for each.

Why its own counter: heartbeats report it (``rejected``, ``info.rejects``), so a flood of
garbage or a squatter on a port shows up in ``luna diagnose`` and the watchdog without the
log growing by one line per frame.
"""

from __future__ import annotations

import logging
from collections import Counter

from shared.messages import FrameError

log = logging.getLogger("luna.bus")


class Rejects:
    """Counts and rate-limits logging of rejected frames (reason -> count)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, err: FrameError, where: str) -> None:
        self.note(err.reason, where, str(err))

    def note(self, reason: str, where: str, detail: str, what: str = "dropped frame") -> None:
        self.counts[reason] += 1
        n = self.counts[reason]
        if n <= 5 or n % 1000 == 0:  # log the first few and then every thousandth
            log.warning("%s on %s: %s (count %d)", what, where, detail, n)

    @property
    def total(self) -> int:
        return sum(self.counts.values())
