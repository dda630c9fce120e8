"""Luna's bus: brokerless ZeroMQ pub/sub for events, push/pull for streams.

One module per job: :mod:`.bus` (:class:`Bus`, one process's view: subscribe, consume,
produce, publish, push, receive), :mod:`.sockets` (binding and connecting with CURVE on
TCP, refused handshakes, ports held by someone else), :mod:`.summaries` (the tap's copies
of stream frames) and :mod:`.rejects` (refused frames, counted and logged). Importers use
the names below (``from shared.bus import Bus``).
"""

from __future__ import annotations

from shared.bus.bus import DRAIN_MAX, EVENT_HWM, REJECT_YIELD, STREAM_HWM, Bus
from shared.bus.rejects import Rejects
from shared.bus.sockets import LINGER_MS, Sockets, port_holder
from shared.bus.summaries import Summaries

__all__ = ["DRAIN_MAX", "EVENT_HWM", "LINGER_MS", "REJECT_YIELD", "STREAM_HWM", "Bus", "Rejects", "Sockets",
           "Summaries", "port_holder"]
