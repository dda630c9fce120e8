"""UI bench: key-to-screen latency and frames per second while a 2,000-token reply streams in over the
real bus (from a fake brain in another process), and memory over a 500-message conversation.

``python -m bench.bench_ui`` prints the figures and merges them into bench/results.json
(``ui_key_latency_p95_ms`` and friends). Not a test: no pass/fail, the targets are printed beside.

Key-to-screen: a Key event is posted to the app the way the driver posts it; the time runs until the
first frame the app hands to its driver (``App._display``) after the input holds the new character.
Headless, so the terminal's own drawing time is not included.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TOKENS = 2000
TOKENS_PER_S = 250.0
KEY_EVERY_S = 0.04
MESSAGES = 500
#: The conversation goes on to twice MESSAGES to show that memory levels off.
MESSAGES_PLATEAU = 1000
SKIP_MEMORY = bool(os.environ.get("BENCH_UI_NO_MEMORY"))


def _reply_tokens(n: int) -> list[str]:
    """Markdown with prose and code fences, cut into ~n tokens of 1-6 chars."""
    prose = ("A Luna pensa em voz alta sobre **streams**, `tokens` e o terminal; isto é texto corrido "
             "com algumas palavras a mais. ")
    code = "```python\ndef f(x):\n    return [i * x for i in range(10)]\n```\n\n"
    out: list[str] = []
    k = 0
    while len(out) < n:
        chunk = prose if k % 3 else code
        k += 1
        for i in range(0, len(chunk), 4):
            out.append(chunk[i:i + 4])
    return out[:n]


def _brain(run_dir: str, rate: float, n: int, ready: mp.Event) -> None:  # type: ignore[valid-type]
    """The fake brain process: heartbeats, and one long streamed reply to each user-text."""
    os.environ["LUNA_RUN_DIR"] = run_dir

    from shared.bus import Bus

    async def main() -> None:
        bus = Bus("brain")
        bus.subscribe()

        async def beat() -> None:
            while True:
                for svc in ("capture", "stt", "brain", "tts", "playback"):
                    bus.publish("heartbeat", service=svc, state="ready", counters={}, info={"level": 0.3})
                await asyncio.sleep(0.5)

        asyncio.create_task(beat())
        ready.set()
        tokens = _reply_tokens(n)
        while True:
            f = await bus.recv_event()
            if f.type != "user-text":
                continue
            tid = f.turn_id
            bus.publish("reply-start", turn_id=tid, intent="chat", provider="bench", model="fake", epoch=1)
            t0 = time.perf_counter()
            for i, tok in enumerate(tokens):
                bus.publish("token", turn_id=tid, text=tok, epoch=1)
                delay = t0 + (i + 1) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            bus.publish("reply-end", turn_id=tid, ok=True, text="".join(tokens), epoch=1)

    asyncio.run(main())


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def _run(run_dir: str) -> dict[str, float]:
    from textual import events

    from services.ui.app import LunaApp
    from services.ui.widgets.bubbles import LunaMessage, UserMessage

    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_brain, args=(run_dir, TOKENS_PER_S, TOKENS, ready), daemon=True)
    proc.start()
    ready.wait(20)
    app = LunaApp(reply_timeout=60)
    frames: list[float] = []
    pending: list[tuple[int, float]] = []
    lat: list[float] = []
    figures: dict[str, float] = {}
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            orig = app._display

            def display(screen, renderable):  # noqa: ANN001
                now = time.perf_counter()
                if renderable is not None:
                    frames.append(now)
                    if pending:
                        n = len(app.prompt.text)
                        while pending and pending[0][0] <= n:
                            lat.append((now - pending.pop(0)[1]) * 1000)
                return orig(screen, renderable)

            app._display = display  # type: ignore[method-assign]
            deadline = time.monotonic() + 20
            while app.client.status("brain") != "ready" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.2)  # the brain's SUB hears the UI (first UI heartbeat)
            tid = app.chat.send("conte uma história longa")
            msg = app.chat.turns[tid]
            while msg.first_token_at is None and time.monotonic() < deadline + 10:
                await asyncio.sleep(0.01)
            t_start = time.perf_counter()
            f0 = len(frames)
            typed = 0
            while not msg.done:
                if typed % 60 == 59:
                    app.prompt.clear()
                    pending.clear()
                    await asyncio.sleep(KEY_EVERY_S)
                ch = "abcdefghij"[typed % 10]
                pending.append((len(app.prompt.text) + 1, time.perf_counter()))
                app.post_message(events.Key(ch, ch))
                typed += 1
                await asyncio.sleep(KEY_EVERY_S)
            t_end = time.perf_counter()
            await pilot.pause()
            n_frames = len([f for f in frames[f0:] if f <= t_end])
            dur = t_end - t_start
            if os.environ.get("BENCH_UI_DEBUG"):
                q = len(lat) // 4
                print("p95 by quarter:", [round(_pct(lat[i * q:(i + 1) * q], 95), 1) for i in range(4)])
            figures.update({
                "ui_key_latency_p50_ms": round(_pct(lat, 50), 2),
                "ui_key_latency_p95_ms": round(_pct(lat, 95), 2),
                "ui_key_latency_max_ms": round(max(lat) if lat else float("nan"), 2),
                "ui_keys_measured": len(lat),
                "ui_fps_during_stream": round(n_frames / dur, 1),
                "ui_stream_tokens": TOKENS,
                "ui_stream_seconds": round(dur, 2),
                "ui_stream_tokens_per_s": round(TOKENS / dur, 1),
            })
            ok_text = len(msg.text) == len("".join(_reply_tokens(TOKENS)))
            figures["ui_stream_complete"] = 1 if ok_text else 0

            if SKIP_MEMORY:
                return figures
            # memory over a long conversation (frames injected straight into the handler)
            from shared.messages import make

            app.chat.remove_children()
            app.chat.turns.clear()
            await pilot.pause()
            gc.collect()
            body = "Uma resposta com `código` e **negrito**.\n\n```python\nprint('x')\n```\n"
            marks: dict[int, float] = {}
            for i in range(MESSAGES_PLATEAU // 2):
                app.chat.add(UserMessage(f"pergunta {i}"))
                t = f"m{i}"
                await app.handle_frame(make("reply-start", source="brain", turn_id=t, intent="chat",
                                            provider="bench", model="fake", epoch=i))
                for j in range(0, len(body), 6):
                    await app.handle_frame(make("token", source="brain", turn_id=t, text=body[j:j + 6], epoch=i))
                await app.handle_frame(make("reply-end", source="brain", turn_id=t, ok=True, text=body, epoch=i))
                app.chat.turns.pop(t, None)
                n = (i + 1) * 2
                if n in (100, 200, MESSAGES, MESSAGES_PLATEAU):
                    await pilot.pause()
                    gc.collect()
                    marks[n] = _rss_mb()
            figures["ui_mem_mb_100_msgs"] = round(marks[100], 1)
            figures["ui_mem_mb_200_msgs"] = round(marks[200], 1)
            figures["ui_mem_mb_500_msgs"] = round(marks[500], 1)
            figures["ui_mem_growth_mb_200_to_500"] = round(marks[500] - marks[200], 1)
            figures["ui_mem_mb_1000_msgs"] = round(marks[MESSAGES_PLATEAU], 1)
            figures["ui_mem_growth_mb_500_to_1000"] = round(marks[MESSAGES_PLATEAU] - marks[MESSAGES], 1)
            figures["ui_chat_widgets_kept"] = len(app.chat.children)
            assert all(isinstance(w, (UserMessage, LunaMessage)) for w in app.chat.children)
    finally:
        proc.terminate()
        proc.join(5)
    return figures


def main() -> dict[str, float]:
    run_dir = tempfile.mkdtemp(prefix="luna-bench-ui-")
    os.environ["LUNA_RUN_DIR"] = run_dir
    os.environ.setdefault("LUNA_LOG_DIR", os.path.join(run_dir, "logs"))
    figures = asyncio.run(_run(run_dir))
    print(f"key-to-screen latency during a {TOKENS}-token stream: p50 {figures['ui_key_latency_p50_ms']} ms, "
          f"p95 {figures['ui_key_latency_p95_ms']} ms (target < 50 ms), max {figures['ui_key_latency_max_ms']} ms,"
          f" {figures['ui_keys_measured']} keys")
    print(f"frames per second while streaming: {figures['ui_fps_during_stream']} "
          f"({figures['ui_stream_tokens_per_s']} tokens/s arrived, {figures['ui_stream_seconds']} s)")
    if SKIP_MEMORY:
        return figures
    print(f"memory (RSS): {figures['ui_mem_mb_100_msgs']} MB at 100 messages, {figures['ui_mem_mb_200_msgs']} MB "
          f"at 200 (the chat keeps the last 200 widgets), {figures['ui_mem_mb_500_msgs']} MB at {MESSAGES}: "
          f"growth 200->500 {figures['ui_mem_growth_mb_200_to_500']} MB; "
          f"{figures['ui_mem_mb_1000_msgs']} MB at {MESSAGES_PLATEAU} (growth 500->1000 "
          f"{figures['ui_mem_growth_mb_500_to_1000']} MB); {figures['ui_chat_widgets_kept']} message widgets kept")
    return figures


if __name__ == "__main__":
    from bench import write_results

    write_results(main())
