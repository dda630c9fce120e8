"""What the brain does while llama.cpp is still compiling: say so, keep what the user said, answer it when ready.

Why: on a fresh machine ``make up`` opens the UI before llama.cpp has compiled (minutes
on 2 cores, shared/llama_build.py), and with no Ollama and no paid key the embedded model
is the only one that could answer. A reply then would be an error about a missing
package, and the question lost. Instead the turn is held: the user's line is already in
the history (``BrainService.keep_user_line``), the UI shows one line saying the local
model is being prepared and at which step (``reply-wait``, in the reply's own bubble, so
the UI does not call the brain dead), and once the build has installed, the turn is
answered. A provider that can answer (Ollama up, a paid key) is never held back.

The decisions are pure functions over plain values (the registry's view and the build's
state), tested without processes (tests/unit/brain/test_preparing.py); :class:`Preparing`
applies them to the brain, as :mod:`.speculation` does for the gated early reply.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from services.brain import fallback
from shared import llama_build
from shared.llama_build import BUILDING, Build

#: While a build runs the brain looks at it this often (the Ollama check stays at its own pace).
POLL_S = 2.0


@dataclass(frozen=True)
class Held:
    """One turn kept until the local model is ready."""

    text: str
    intent: str
    turn_id: str
    image: str
    spoken: bool


def can_answer_now(chain: list[fallback.Choice], ollama_up: bool, has_key) -> bool:
    """Some provider of ``chain`` could answer now: Ollama when up, a paid one with its key, the embedded one."""
    for c in chain:
        if c.provider in ("ollama", "local") and ollama_up:
            return True
        if c.provider in fallback.PAID and has_key(c.provider):
            return True
        if c.provider == "embedded":
            return True
    return False


def should_hold(build: Build, intent: str, chain: list[fallback.Choice], ollama_up: bool, has_key) -> bool:
    """Hold this turn: the build runs, the turn is one the embedded model would answer, and nothing else can."""
    return build.state == BUILDING and intent in ("chat", "code") and not can_answer_now(chain, ollama_up, has_key)


class Waiting:
    """The one turn held while the build runs. A newer message cancels it, as it would cut off a reply
    in progress; its line stays in the history, so the answer to the newer one has it in context."""

    def __init__(self) -> None:
        self.held: Held | None = None
        self.step = ""  # ninja's last step, as the status shows it

    def hold(self, turn: Held) -> None:
        self.held = turn

    def take(self) -> Held | None:
        """The held turn (to answer, or to cancel), and the slot is free again."""
        held, self.held = self.held, None
        return held

    def drop(self, turn_id: str) -> None:
        """A held turn taken back (stt continued it): it is neither answered nor cancelled."""
        if self.held is not None and self.held.turn_id == turn_id:
            self.held = None


class Preparing:
    """The brain's side of the build: which turn waits, what the user is told, and the turn answered after."""

    def __init__(self, host: Any) -> None:
        self.host = host  # the BrainService
        self.slot = Waiting()

    @property
    def held(self) -> Held | None:
        return self.slot.held

    def watching(self) -> bool:
        """Look at the build this round (it runs, or a turn still waits for its end)."""
        return self.slot.held is not None or llama_build.state().building

    def status(self) -> dict[str, Any]:
        """The status's ``preparing`` ({} when nothing is: the heartbeat's info is updated key by key,
        so a key left out would keep its last value)."""
        if self.slot.step or self.slot.held is not None or llama_build.state().building:
            return {"step": self.slot.step, "held": int(self.slot.held is not None)}
        return {}

    def must_wait(self, intent: str) -> Build | None:
        """The running build, when a turn of ``intent`` has to wait for it."""
        build = llama_build.state()
        r = self.host.registry
        return build if should_hold(build, intent, r.chain(intent), r.ollama_up, r.has_key) else None

    def hold(self, held: Held, build: Build) -> None:
        """Keep ``held`` until llama.cpp is in; say so in its reply's place, and aloud when it was spoken."""
        h = self.host
        self.slot.hold(held)
        self.slot.step = build.step
        h.publish("reply-wait", turn_id=held.turn_id,
                  text=h.say("brain.preparing", step=f" {build.step}" if build.step else ""))
        if held.spoken:
            h.epoch += 1
            h.bus.push("sentence", "sentence", turn_id=held.turn_id, text=h.say("brain.preparing-short"),
                       epoch=h.epoch, index=0, final=True)
        h.publish_status()

    def cancel(self) -> bool:
        """A newer message (or Esc) while a turn waits: it ends as a reply cancelled before it ran."""
        held = self.slot.take()
        if held is None:
            return False
        h = self.host
        h.epoch += 1
        if h.history is not None:
            with contextlib.suppress(Exception):
                h.history.mark_cancelled(held.turn_id)
        h.publish("reply-start", turn_id=held.turn_id, intent=held.intent, provider="", model="", epoch=h.epoch)
        h.publish("reply-end", turn_id=held.turn_id, ok=False, cancelled=True, text="", epoch=h.epoch)
        return True

    def drop(self, turn_id: str) -> None:
        self.slot.drop(turn_id)

    async def watch(self) -> None:
        """Follow the build: its step on the status line; once it is over the embedded model joins the
        chains and the held turn is answered (by it, or with the usual error when the build failed)."""
        h = self.host
        b = llama_build.state()
        if b.building:
            if b.step != self.slot.step:
                self.slot.step = b.step
                h.publish_status()
            return
        self.slot.step = ""
        held = None if h.busy_turn() else self.slot.take()
        was = h.registry.embedded_ok
        h.registry.refresh_embedded()
        if h.registry.embedded_ok and not was:
            h.notice("info", h.say("brain.prepared", model=h.registry.embedded_model), "preparing")
            asyncio.get_running_loop().create_task(h.preload_embedded())
        elif b.state == llama_build.FAILED and held is not None:
            h.notice("error", h.say("brain.prepare-failed", log=b.log), "preparing")
        h.publish_status()
        if held is not None:
            h.start_turn(held.text, held.intent, held.turn_id, held.image, held.spoken, 0.0)
