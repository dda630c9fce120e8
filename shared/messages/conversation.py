"""The conversation on the bus: what the person said or typed, control commands, and the reply as it
streams (start, tokens, end), plus the status each service shows.

Why one domain: these are the frames a turn is made of, from the UI to the brain and back;
``command`` names and their arguments are declared in :mod:`.commands`.
"""

from __future__ import annotations

from shared import catalogue as cat
from shared.messages.spec import _B, _D, _I, _S, EVENT, declare

declare("user-text", 1, EVENT, {"text": _S}, {"image": _S, "spoken": _B, "conversation_id": _S, "queue": _B},
        doc="the user said or typed something; image is a file path; queue: wait for the reply in progress "
            "instead of cutting it off (scripts: `luna send`)")
declare("command", 1, EVENT, {"name": _S}, {"args": _D},
        doc="control: cancel, mute, unmute, new-conversation, config-set, history-list, history-open, ...")
declare("reply-start", 1, EVENT, {"intent": _S, "provider": _S, "model": _S}, {"epoch": _I, "notice": _S})
declare("reply-wait", 1, EVENT, {"text": _S},
        doc="the brain keeps this turn until it can answer (llama.cpp still compiling); text says why, in the "
            "user's language; reply-start follows when it answers, reply-end when it is cancelled")
declare("token", 1, EVENT, {"text": _S}, {"epoch": _I})
declare("reply-end", 1, EVENT, {"ok": _B}, {"text": _S, "error": _S, "epoch": _I, "provider": _S,
                                            "model": _S, "timings": _D, "cancelled": _B},
        shapes={"timings": cat.REPLY_TIMINGS})
declare("status", 1, EVENT, {"service": _S, "data": _D}, doc="service-specific state the UI shows (providers, models)",
        shapes={"data": cat.STATUS_DATA})
