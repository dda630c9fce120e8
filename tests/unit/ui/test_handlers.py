"""The UI's frame table (services/ui/handlers.py) names only frames the catalogue declares.

A misspelt key ("reply_end") would drop that frame silently: nothing fails, the reply just
never finishes on screen. The table is the one place the UI says what it shows.
"""

from __future__ import annotations

from services.ui.handlers import HANDLERS, turn_latency_ms
from shared.messages import CATALOGUE


def test_every_handled_frame_type_is_in_the_catalogue() -> None:
    assert set(HANDLERS) - set(CATALOGUE) == set()
    # the replies, the voice, the brain's state: what the chat and status bar are drawn from
    assert {"token", "reply-start", "reply-end", "transcript", "status", "turn-metrics"} <= set(HANDLERS)


def test_status_bar_latency_prefers_time_to_first_audio() -> None:
    assert turn_latency_ms({"time_to_first_audio_s": 0.8, "total_s": 2.0}) == 800.0
    assert turn_latency_ms({"total_s": 2.0}) == 2000.0
    assert turn_latency_ms({"time_to_first_audio_s": True}) is None  # a bool is not a number of seconds
