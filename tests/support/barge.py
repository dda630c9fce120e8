"""Barge-in across the satellite link, run on the main host: ``python -m tests.support.barge``.

Plays the brain (as tests/integration/test_voice_services.py does): tts on this host speaks long
sentences, playback on the satellite plays them, then the cut request goes out
(``speech-start`` as stt publishes it when the person talks over Luna, or the
``command cancel`` of Esc) and we time the satellite's ``idle played=False``. Prints
one JSON line ``{"voice": ms, "esc": ms, "capture_heartbeats": n}``.
"""

from __future__ import annotations

import asyncio
import json
import time

from tests.support.voicekit import Driver

LONG = "This is a long answer that goes on for a while so that there is time to interrupt it."


async def main() -> dict:
    out: dict = {}
    async with Driver("brain", produce=("sentence",)) as d:
        await d.ready("tts", "playback", timeout=120)
        for epoch, how in ((1, "voice"), (2, "esc")):
            d.bus.publish("reply-start", intent="chat", provider="t", model="t", epoch=epoch)
            for i in range(3):
                await d.push_until("sentence", "sentence", text=LONG, epoch=epoch, index=i, turn_id=f"e{epoch}")
            await d.wait(lambda e=epoch: d.of("speaking", epoch=e), 60, "speaking on the satellite")
            await asyncio.sleep(0.4)
            if how == "voice":
                cut = d.bus.publish("speech-start", epoch=epoch, t_audio_ns=time.monotonic_ns())
            else:
                cut = d.bus.publish("command", name="cancel", args={"epoch": epoch})
            idle = await d.wait(lambda e=epoch: d.of("idle", played=False, epoch=e), 10, f"cut ({how})")
            out[how] = round((idle[0].ts - cut.ts) / 1e6, 1)
            await asyncio.sleep(0.5)
        out["playback_heartbeats"] = sum(1 for f in d.events if f.type == "heartbeat" and f["service"] == "playback")
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())), flush=True)
