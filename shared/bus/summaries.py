"""The tap's copies of stream frames: built and published only while a tap subscribes to ``st.``.

Why counted from XPUB (un)subscriptions: streams carry the microphone and synthesized PCM;
a copy of every frame would cost each producer an encode and a send for nobody. The tap
gets each frame's envelope plus its payload size (:func:`shared.messages.encode_summary`),
never the payload itself.
"""

from __future__ import annotations

from typing import Any

import zmq

from shared.messages import STREAM_PREFIX, Frame, encode_summary


class Summaries:
    """How many subscribers want stream summaries on one publisher, and the copy sent when any does."""

    def __init__(self) -> None:
        self.subscribers = 0

    def send(self, pub: Any, f: Frame) -> None:
        """Publish ``f``'s summary if a tap listens (never blocks; a full HWM drops the copy)."""
        if self.subscribers and pub is not None:
            try:
                pub.send_multipart(encode_summary(f), flags=zmq.NOBLOCK)
            except zmq.Again:
                pass

    def poll(self, pub: Any) -> None:
        """Read pending XPUB (un)subscriptions on ``pub`` and count those that cover ``st.``."""
        while True:
            try:
                msg = pub.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            topic = msg[1:]
            if msg and (STREAM_PREFIX.startswith(topic) or topic.startswith(STREAM_PREFIX)):
                self.subscribers = max(self.subscribers + (1 if msg[0] == 1 else -1), 0)
