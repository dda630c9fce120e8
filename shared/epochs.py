"""Which events cut Luna's speech, and up to which epoch: one rule for tts and playback.

Every reply has an epoch (the brain numbers them in ``reply-start``). Esc sends
``command cancel``; the user's voice sends ``speech-start``, which cuts Luna off
only when barge-in by voice is possible (any ECHO_MODE but half-duplex, where the
microphone is gated while she speaks). Both services must agree, or one would keep
synthesizing what the other already dropped.
"""

from __future__ import annotations

from shared.messages import Frame


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
