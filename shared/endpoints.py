"""Where the bus lives: a private runtime directory (ipc) or loopback TCP.

The bus carries the microphone, so nothing here will ever hand out an address that
listens beyond this user: ipc sockets go in a 0700 directory that we own and check,
and TCP binds to 127.0.0.1 unless the user explicitly sets ``LUNA_BUS_HOST`` *and*
``LUNA_BUS_ALLOW_REMOTE=1``.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path

#: Every process that may publish events. Subscribers connect to all of them
#: (ZeroMQ connects lazily and reconnects, so a missing publisher costs nothing).
PUBLISHERS = ("capture", "stt", "brain", "tts", "playback", "ui", "ctl", "watchdog")
#: Streams and the service that binds (consumes) each one.
STREAM_OWNER = {"audio": "stt", "sentence": "tts", "pcm": "playback", "reference": "capture"}
#: Services run under supervisord (the UI runs in the user's terminal).
SUPERVISED = ("capture", "stt", "brain", "tts", "playback")
SERVICES = SUPERVISED + ("ui",)

_TCP_OFFSETS = {**{f"ev-{n}": i for i, n in enumerate(PUBLISHERS)},
                **{f"st-{n}": 20 + i for i, n in enumerate(STREAM_OWNER)}}


class EndpointError(RuntimeError):
    """The bus cannot be set up safely (wrong permissions, non-loopback without consent)."""


def runtime_dir() -> Path:
    """The private directory for sockets, created 0700 and checked to be ours."""
    override = os.environ.get("LUNA_RUN_DIR")
    if override:
        path = Path(override)
    else:
        base = os.environ.get("XDG_RUNTIME_DIR")
        path = Path(base) / "luna" if base else Path(f"/tmp/luna-{os.getuid()}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise EndpointError(f"{path} belongs to uid {st.st_uid}, not to you; refusing to use it for the bus")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def _transport() -> str:
    t = os.environ.get("LUNA_BUS", "ipc").strip().lower()
    if t not in ("ipc", "tcp"):
        raise EndpointError(f"LUNA_BUS must be 'ipc' or 'tcp', got {t!r}")
    return t


def _tcp_host() -> str:
    host = os.environ.get("LUNA_BUS_HOST", "127.0.0.1").strip()
    try:
        loop = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loop = host == "localhost"
    if not loop and os.environ.get("LUNA_BUS_ALLOW_REMOTE") != "1":
        raise EndpointError(
            f"LUNA_BUS_HOST={host} is not loopback; the bus carries the microphone. "
            "Set LUNA_BUS_ALLOW_REMOTE=1 as well if you really mean it")
    return host


def _address(name: str) -> str:
    if _transport() == "ipc":
        return f"ipc://{runtime_dir() / (name + '.sock')}"
    base = int(os.environ.get("LUNA_BUS_PORT", "47100"))
    return f"tcp://{_tcp_host()}:{base + _TCP_OFFSETS[name]}"


def event_endpoint(publisher: str) -> str:
    """Address of ``publisher``'s PUB socket."""
    if publisher not in PUBLISHERS:
        raise EndpointError(f"unknown publisher {publisher!r}")
    return _address(f"ev-{publisher}")


def stream_endpoint(stream: str) -> str:
    """Address of the PULL socket that consumes ``stream``."""
    if stream not in STREAM_OWNER:
        raise EndpointError(f"unknown stream {stream!r}")
    return _address(f"st-{stream}")


def all_event_endpoints() -> list[str]:
    return [event_endpoint(p) for p in PUBLISHERS]


def check_bind_address(addr: str) -> None:
    """Last line of defence: refuse to bind anything that is not loopback or ipc."""
    if addr.startswith("ipc://"):
        return
    if addr.startswith("tcp://"):
        host = addr[6:].rsplit(":", 1)[0].strip("[]")
        if host in ("*", "0.0.0.0", "::"):
            raise EndpointError(f"refusing to bind {addr}: all interfaces")
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if ok or os.environ.get("LUNA_BUS_ALLOW_REMOTE") == "1":
            return
        raise EndpointError(f"refusing to bind {addr}: not loopback")
    raise EndpointError(f"refusing to bind {addr}: unsupported transport")
