"""Code every Luna process shares: the bus, the message catalogue, config, logging, the service base.

Importing it also turns off the telemetry of the libraries Luna uses: Luna promises
to work offline and the bus carries the microphone, so no process may phone home.
onnxruntime (used by Piper and the VAD) resolves and posts to a Microsoft collector
from a background thread unless ORT_DISABLE_TELEMETRY is set (found with strace in
a loopback-only namespace; ``disable_telemetry_events()`` alone does not stop it).
"""

import os as _os

for _k in ("ORT_DISABLE_TELEMETRY", "HF_HUB_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
    _os.environ.setdefault(_k, "1")
