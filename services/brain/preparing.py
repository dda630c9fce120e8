"""What the brain does while llama.cpp is still compiling: say so, keep what the user said, answer it when ready.

Why: on a fresh machine ``make up`` opens the UI before llama.cpp has compiled (minutes
on 2 cores, shared/llama_build.py), and with no Ollama and no paid key the embedded model
is the only one that could answer. A reply then would be an error about a missing
package, and the question lost. Instead the turn is held: the user's line is already in
the history (``BrainService.keep_user_line``), the UI shows one line saying the local
model is being prepared and at which step (``reply-wait``, in the reply's own bubble, so
the UI does not call the brain dead), and once the build has installed, the turn is
answered. A provider that can answer (Ollama up, a paid key) is never held back.

Pure decisions over plain values (the registry's view and the build's state), so each
case is tested without processes (tests/unit/brain/test_preparing.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.brain import fallback
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
