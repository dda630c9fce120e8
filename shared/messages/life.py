"""Service life on the bus: a service says it is ready, alive (every second, with its counters), has
something a person should see, or is stopping.

Why declared together: the watchdog, ``luna diagnose`` and the UI read these from every
service alike; the nested keys of heartbeat ``counters``/``info`` are in :mod:`shared.catalogue`.
"""

from __future__ import annotations

from shared import catalogue as cat
from shared.messages.spec import _D, _I, _S, EVENT, declare

declare("ready", 1, EVENT, {"service": _S}, {"detail": _D}, doc="service finished loading its model",
        shapes={"detail": cat.HEARTBEAT_INFO})
declare("heartbeat", 1, EVENT, {"service": _S, "state": _S, "counters": _D},
        {"info": _D, "pid": _I}, doc="every second: state (starting/ready/no-device/degraded/stopping) and counters",
        shapes={"counters": cat.HEARTBEAT_COUNTERS, "info": cat.HEARTBEAT_INFO})
declare("notice", 1, EVENT, {"service": _S, "level": _S, "text": _S}, {"code": _S},
        doc="a one-line message a person should see (missing model, provider down, fallback used)")
declare("stopping", 1, EVENT, {"service": _S}, doc="service is shutting down on purpose")
