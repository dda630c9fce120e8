"""The ``command`` names: who acts on each, what it does, and its typed, bounded arguments.

Why declared here and not in each service: the UI, ``luna send`` and the services agree on
these names, and a receiver rejects an unknown name or argument (``unknown-command`` /
``bad-arg``) before anything acts on it; :func:`.bounds.check_command` enforces them and
``luna catalogue`` prints them.
"""

from __future__ import annotations

from shared.messages.bounds import MAX_EPOCH
from shared.messages.spec import declare_command

declare_command("cancel", "brain", "stop the reply in progress (epoch: only if it is still that reply)",
                epoch=(int, (0, MAX_EPOCH)))
declare_command("mute", "capture", "close the microphone")
declare_command("unmute", "capture", "open the microphone")
declare_command("mute-toggle", "capture", "flip the microphone")
declare_command("new-conversation", "brain", "start a new conversation (answered with conversation)")
declare_command("history-list", "brain", "list recent conversations (answered with history)", limit=(int, (1, 1000)))
declare_command("history-open", "brain", "reopen a conversation (answered with conversation)", id=(str, "id"))
declare_command("config-get", "brain", "provider/model per function (answered with config)")
declare_command("config-set", "brain", "choose a function's provider/model (answered with config)",
                function=(str, "name"), provider=(str, "name"), model=(str, "model"))
declare_command("soul-reload", "brain", "read the soul file again")
declare_command("pull", "brain", "download an Ollama model (progress in status.data.pull)", model=(str, "model"))
declare_command("listen-mode", "stt", "when Luna listens: always | name | wake | push", mode=(str, "name"))
declare_command("talk-open", "stt", "push mode: the UI's key opens the microphone")
declare_command("talk-close", "stt", "push mode: the key is released")
declare_command("talk-toggle", "stt", "push mode: flip the open microphone")
