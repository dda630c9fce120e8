"""Microphone level for the UI's status bar: RMS over one heartbeat period, in dBFS and 0..1.

Fed from capture's collect loop (never from the audio callback): one dot product per
20 ms frame. ``take()`` returns the level since the previous call and starts a new period.
"""

from __future__ import annotations

import math

import numpy as np

#: Levels at or below this many dBFS show as an empty bar (0.0); 0 dBFS is a full one (1.0).
FLOOR_DB = -60.0


class LevelMeter:
    def __init__(self) -> None:
        self._sq = 0.0
        self._n = 0

    def add(self, pcm: np.ndarray) -> None:
        """Accumulate int16 samples."""
        x = pcm.astype(np.float32)
        self._sq += float(np.dot(x, x))
        self._n += len(x)

    def take(self) -> tuple[float, float] | None:
        """(level 0..1, dBFS) over the samples added since the last call; None when none came."""
        if self._n == 0:
            return None
        rms = math.sqrt(self._sq / self._n) / 32768.0
        self._sq, self._n = 0.0, 0
        db = max(FLOOR_DB, 20.0 * math.log10(rms)) if rms > 0 else FLOOR_DB
        return round((db - FLOOR_DB) / -FLOOR_DB, 3), round(db, 1)
