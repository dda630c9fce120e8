"""The audio-thread side of playback: a queue of sentence audio pulled by the output callback.

``fill`` is called by the sound card's callback (or a clock thread for file/no-device
output). It never blocks on anything but a short lock, and reports when a sentence's
first sample is handed to the device (``speaking``) and when it ends or is cut (``idle``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Notify = Callable[[str, dict[str, Any]], None]


@dataclass
class Segment:
    epoch: int
    index: int
    text: str
    turn_id: str
    chunks: deque[np.ndarray] = field(default_factory=deque)
    ended: bool = False  # the last chunk arrived
    started: bool = False
    pos: int = 0  # samples played of chunks[0]


class Player:
    def __init__(self, notify: Notify) -> None:
        self.notify = notify
        self.lock = threading.Lock()
        self.segments: deque[Segment] = deque()
        self.cut_epoch = 0
        self.samples_played = 0
        self.underruns = 0

    # -- producer side (event loop) ---------------------------------------------------
    def add(self, epoch: int, index: int, text: str, turn_id: str, audio: np.ndarray | None,
            first: bool, last: bool) -> bool:
        """Append audio for a sentence; returns False when the epoch was cancelled."""
        with self.lock:
            if epoch <= self.cut_epoch:
                return False
            seg = self.segments[-1] if self.segments else None
            if first or seg is None or seg.ended or seg.epoch != epoch or seg.index != index:
                seg = Segment(epoch, index, text, turn_id)
                self.segments.append(seg)
            if audio is not None and len(audio):
                seg.chunks.append(audio)
            if last:
                seg.ended = True
            return True

    def cancel(self, epoch: int) -> int:
        """Drop everything with epoch <= ``epoch``; the sentence playing stops at once."""
        cut: list[Segment] = []
        with self.lock:
            self.cut_epoch = max(self.cut_epoch, epoch)
            keep: deque[Segment] = deque()
            for s in self.segments:
                (cut if s.epoch <= epoch else keep).append(s)
            self.segments = keep
        # From here on the audio thread cannot hand over another sample of these sentences;
        # what is already in the device buffer (its latency, ~40 ms on PulseAudio) still plays.
        now = time.monotonic_ns()
        for s in cut:
            if s.started:
                self.notify("idle", {"epoch": s.epoch, "text": s.text, "played": False, "turn_id": s.turn_id,
                                     "t_ns": now})
        return len(cut)

    def queued_samples(self) -> int:
        with self.lock:
            return sum(sum(len(c) for c in s.chunks) - s.pos for s in self.segments)

    @property
    def busy(self) -> bool:
        return bool(self.segments)

    # -- consumer side (audio thread) --------------------------------------------------
    def fill(self, out: np.ndarray) -> int:
        """Write int16 samples into ``out`` (1-D), silence where nothing is queued. Returns samples of audio."""
        n = len(out)
        done = 0
        events: list[tuple[str, dict[str, Any]]] = []
        now = time.monotonic_ns()
        with self.lock:
            while done < n and self.segments:
                seg = self.segments[0]
                if not seg.chunks:
                    if seg.ended:
                        self.segments.popleft()
                        if seg.started:
                            events.append(("idle", {"epoch": seg.epoch, "text": seg.text, "played": True,
                                                    "turn_id": seg.turn_id, "t_ns": now}))
                        continue
                    if seg.started:
                        self.underruns += 1
                    break  # waiting for more of this sentence
                if not seg.started:
                    seg.started = True
                    events.append(("speaking", {"epoch": seg.epoch, "text": seg.text, "turn_id": seg.turn_id,
                                                "t_ns": now, "offset": done}))
                chunk = seg.chunks[0]
                take = min(n - done, len(chunk) - seg.pos)
                out[done:done + take] = chunk[seg.pos:seg.pos + take]
                done += take
                seg.pos += take
                if seg.pos >= len(chunk):
                    seg.chunks.popleft()
                    seg.pos = 0
        if done < n:
            out[done:] = 0
        self.samples_played += done
        for kind, data in events:
            self.notify(kind, data)
        return done
