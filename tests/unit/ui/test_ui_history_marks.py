"""A conversation reopened from history shows its cancelled turns marked, not missing (issue 13).

Why: since schema v4 the brain keeps a turn cut off by Esc or a newer message
(``cancelled=1``) instead of dropping the user's line; reopening the conversation
must show that the turn was cut, in the user's language, never as an error or as
a normal answer.
"""

from __future__ import annotations

from services.ui.app import LunaApp
from services.ui.widgets.bubbles import LunaMessage, UserMessage
from shared.messages import make


async def test_reopened_conversation_marks_cancelled_turns_in_pt(bus_env) -> None:
    app = LunaApp(reply_timeout=30)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.handle_frame(make("conversation", source="brain", id="c9", messages=[
            {"role": "user", "content": "primeira pergunta", "ok": True, "cancelled": True},
            {"role": "assistant", "content": "comecei a respon", "provider": "ollama", "model": "m",
             "ok": False, "cancelled": True},
            {"role": "user", "content": "segunda pergunta", "ok": True, "cancelled": False},
            {"role": "assistant", "content": "resposta inteira", "provider": "ollama", "model": "m", "ok": True}]))
        await pilot.pause()
        users = list(app.chat.query(UserMessage))
        lunas = list(app.chat.query(LunaMessage))
        assert [str(u.render()).splitlines()[0] for u in users] == ["Você (cancelado)", "Você"], \
            [str(u.render()) for u in users]
        footers = [str(m.query_one(".luna-footer").render()) for m in lunas]
        assert footers == ["(cancelado)", ""], footers
        assert not lunas[0].has_class("error")  # cut off by the user, not a failure
