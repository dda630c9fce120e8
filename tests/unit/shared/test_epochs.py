"""The one rule tts and playback share for cutting Luna's speech."""

from __future__ import annotations

from shared.epochs import cut_request, latest_epoch
from shared.messages import make


def test_latest_epoch_only_moves_forward() -> None:
    assert latest_epoch(make("reply-start", intent="chat", provider="p", model="m", epoch=4), 2) == 4
    assert latest_epoch(make("reply-start", intent="chat", provider="p", model="m", epoch=1), 4) == 4
    assert latest_epoch(make("token", text="x", epoch=9), 4) == 4


def test_esc_always_cuts_voice_only_with_barge_in() -> None:
    assert cut_request(make("command", name="cancel", args={"epoch": 3}), "half-duplex") == (True, 3)
    assert cut_request(make("command", name="cancel"), "half-duplex") == (True, None)
    assert cut_request(make("speech-start", epoch=5), "half-duplex") == (False, None)
    assert cut_request(make("speech-start", epoch=5), "aec") == (True, 5)
    assert cut_request(make("speech-start"), "off") == (True, None)
    assert cut_request(make("command", name="mute"), "aec") == (False, None)
