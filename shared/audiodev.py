"""Pick a sound device from config (empty, an index, or part of a name), for capture and playback.

One function for both directions so "which device did Luna pick and why not" reads
the same in both services. ``sd`` is the sounddevice module, passed in so this module
imports no audio library (the UI and tests can import it freely).
"""

from __future__ import annotations

from typing import Any

from shared import i18n


class NoDevice(RuntimeError):
    """No usable device: the service reports ``no-device`` and keeps running.

    It carries its catalogue key and fields (shared/i18n) so the service says it
    in the user's language; ``str()`` stays English for logs and tracebacks.
    """

    def __init__(self, msg_key: str, /, **fields: Any) -> None:
        self.key, self.fields = msg_key, fields
        super().__init__(i18n.say(msg_key, "en", **fields))

    def say(self, language: object) -> str:
        return i18n.say(self.key, language, **self.fields)


_KIND = {"input": ("max_input_channels", 0, "CAPTURE_DEVICE"),
         "output": ("max_output_channels", 1, "PLAYBACK_DEVICE")}


def find_device(spec: str, sd: Any, kind: str) -> tuple[int, dict[str, Any]]:
    """Resolve ``spec`` to (index, info) among devices of ``kind`` (``input`` or ``output``)."""
    channels, default_slot, key = _KIND[kind]
    try:
        devices = list(sd.query_devices())
    except Exception as exc:  # PortAudio without any host API
        raise NoDevice("dev.list", err=exc) from None
    usable = [(i, d) for i, d in enumerate(devices) if d.get(channels, 0) > 0]
    if not usable:
        raise NoDevice(f"dev.none.{kind}")
    spec = (spec or "").strip()
    if spec == "":
        try:
            idx = sd.default.device[default_slot]
        except Exception:
            idx = -1
        if idx is None or idx < 0 or idx >= len(devices) or devices[idx].get(channels, 0) <= 0:
            return usable[0]
        return idx, devices[idx]
    if spec.lstrip("-").isdigit():
        for i, d in usable:
            if i == int(spec):
                return i, d
        raise NoDevice(f"dev.index.{kind}", key=key, spec=spec)
    for i, d in usable:
        if spec.lower() in str(d.get("name", "")).lower():
            return i, d
    names = ", ".join(str(d.get("name")) for _, d in usable)
    raise NoDevice(f"dev.name.{kind}", key=key, spec=repr(spec), names=names)
