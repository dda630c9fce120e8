"""A bounded ring of audio frames that keeps the newest and counts what it dropped."""

from __future__ import annotations

from collections import deque
from typing import Any


class Ring:
    """FIFO of frames with a hard bound; pushing into a full ring drops the oldest frame.

    ``dropped`` only ever grows, so the heartbeat and the tap can show that audio was
    lost instead of losing it silently.
    """

    def __init__(self, maxlen: int) -> None:
        self.maxlen = max(1, int(maxlen))
        self._q: deque[Any] = deque()
        self.dropped = 0

    def push(self, item: Any) -> None:
        if len(self._q) >= self.maxlen:
            self._q.popleft()
            self.dropped += 1
        self._q.append(item)

    def peek(self) -> Any:
        return self._q[0]

    def pop(self) -> Any:
        return self._q.popleft()

    def clear(self) -> int:
        n = len(self._q)
        self._q.clear()
        return n

    def __len__(self) -> int:
        return len(self._q)

    @property
    def full(self) -> bool:
        return len(self._q) >= self.maxlen
