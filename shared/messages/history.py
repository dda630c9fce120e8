"""The brain's answers about stored conversations and its configuration: the history list, one
conversation's messages, provider/model per function.

Why apart from the live conversation: these answer a ``command`` (history-list, history-open,
config-get/-set) and only the UI reads them.
"""

from __future__ import annotations

from shared import catalogue as cat
from shared.messages.spec import _D, _L, _S, EVENT, declare

declare("history", 1, EVENT, {"conversations": _L}, {"current": _S},
        doc="brain -> ui: recent conversations [{id, title, created, updated, count}] (answer to history-list)",
        shapes={"conversations": cat.HISTORY_ITEM})
declare("conversation", 1, EVENT, {"id": _S, "messages": _L}, {"title": _S},
        doc="brain -> ui: the current conversation's messages (after history-open or new-conversation)")
declare("config", 1, EVENT, {"functions": _D}, {"error": _S, "options": _D},
        doc="brain -> ui: provider/model per function (answer to config-get and config-set)")
