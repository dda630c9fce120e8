"""Which events cut Luna's speech, and up to which epoch: one rule for tts, playback and stt.

Every reply has an epoch (the brain numbers them in ``reply-start``). Esc sends
``command cancel``; the user's voice sends ``speech-start``, which cuts Luna off
only when barge-in by voice is possible (any ECHO_MODE but half-duplex, where the
microphone is gated while she speaks). Both services must agree, or one would keep
synthesizing what the other already dropped.

Why a window (:class:`EpochWindow`): a cut is "drop every epoch up to N", so a single
frame carrying ``epoch = 2**62`` used to cut every future reply, muting Luna until
tts and playback restarted. An epoch is accepted only near the epochs that really
started: a new one may move ahead of the newest by at most :data:`MAX_AHEAD` (the
brain numbers replies one by one), a cut may name at most the newest plus one (a
``flush`` names the epoch after the reply it ends). Anything else is ignored and
counted. The brain is the epoch authority: its heartbeat carries its counter, and
a window that got ahead of it (a hostile run of frames, or a brain that restarted
and counts from 0 again) is pulled back to it within a second.
"""

from __future__ import annotations

from typing import Any

from shared.messages import Frame

#: How far a new epoch may jump past the newest one seen (turns cancelled before they ran skip numbers).
MAX_AHEAD = 256
#: The publisher whose heartbeat carries the epoch counter.
AUTHORITY = "brain"
#: The events an :class:`EpochWindow` reads (besides the brain's heartbeat): a service that keeps
#: one listens to these.
EVENTS = ("reply-start", "command", "speech-start")


def latest_epoch(f: Frame, current: int) -> int:
    """The newest epoch seen so far (from ``reply-start``)."""
    if f.type == "reply-start" and f.get("epoch") is not None:
        return max(current, f["epoch"])
    return current


def cut_request(f: Frame, echo_mode: str) -> tuple[bool, int | None]:
    """(True, epoch) when ``f`` cuts speech up to ``epoch`` (None: up to the latest), else (False, None)."""
    if f.type == "command" and f["name"] == "cancel":
        return True, (f.get("args") or {}).get("epoch")
    if f.type == "speech-start" and echo_mode != "half-duplex":
        return True, f.get("epoch")
    return False, None


class EpochWindow:
    """The newest epoch that started and the highest one cut, guarded against epochs that never started.

    ``counters`` (the service's) gets ``epoch_rejected`` for every ignored epoch.
    """

    def __init__(self, counters: Any = None) -> None:
        self.latest = 0
        self.cut = 0
        self.authority: int | None = None
        self.counters = counters if counters is not None else {}

    def _reject(self) -> bool:
        self.counters["epoch_rejected"] = self.counters.get("epoch_rejected", 0) + 1
        return False

    def start(self, epoch: int) -> bool:
        """An epoch seen in ``reply-start``, a sentence or PCM: True if it is plausible (and now the newest)."""
        # Until the brain's first heartbeat there is nothing to judge by (this service just
        # started, the brain may be at epoch 500): accept, the heartbeat pulls it back.
        if self.authority is not None and epoch > max(self.latest, self.authority) + MAX_AHEAD:
            return self._reject()
        self.latest = max(self.latest, epoch)
        return True

    def cut_to(self, epoch: int | None) -> int | None:
        """A cut up to ``epoch`` (None: the newest). Returns the new cut, or None when it was ignored."""
        n = self.latest if epoch is None else epoch
        if n > self.latest + 1:  # an epoch that never started
            self._reject()
            return None
        self.cut = max(self.cut, n)
        return self.cut

    def stale(self, epoch: int) -> bool:
        return epoch <= self.cut

    def sync(self, f: Frame) -> None:
        """Follow the brain's counter (its heartbeat's ``info.epoch``); fold in ``reply-start``."""
        if f.type == "reply-start" and f.get("epoch") is not None:
            self.start(f["epoch"])
            return
        if f.type != "heartbeat" or f.get("service") != AUTHORITY:
            return
        b = (f.get("info") or {}).get("epoch")
        if type(b) is not int or b < 0:
            return
        self.authority = b
        if self.latest > b:  # ahead of the only source of epochs: poisoned, or a restarted brain
            self.latest = b
            self.cut = min(self.cut, b)

    def observe(self, f: Frame, echo_mode: str) -> int | None:
        """Fold in one event; returns the epoch to cut up to when ``f`` is an accepted cut, else None."""
        self.sync(f)
        want, epoch = cut_request(f, echo_mode)
        if not want:
            return None
        return self.cut_to(epoch)
