"""Where the bus lives: a private runtime directory (ipc) or loopback TCP.

The bus carries the microphone, so nothing here will ever hand out an address that
listens beyond this user: ipc sockets go in a 0700 directory that we own and check,
and TCP binds to 127.0.0.1 unless the user explicitly sets ``LUNA_BUS_HOST`` *and*
``LUNA_BUS_ALLOW_REMOTE=1``. Every TCP socket is also CURVE-authenticated and
encrypted (:mod:`shared.curve`), so even a loopback port admits only Luna's keys.

Satellites: capture and playback (the microphone and the speaker) may run on a
second host. The main host names it with ``LUNA_SATELLITE_HOST``; the satellite
names the main host with ``LUNA_SATELLITE_OF``; both bind on their own
``LUNA_BUS_HOST`` and trust the other's public key (``LUNA_PEER_KEY``). A socket
is *bound* on the host of the service that owns it and *connected to* there, so
the same code runs on either side.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from pathlib import Path

#: Every process that may publish events. Subscribers connect to all of them
#: (ZeroMQ connects lazily and reconnects, so a missing publisher costs nothing).
#: Command-line tools (``luna send``, ``replay``) each take one of these slots, held by a lock
#: for their life: a fixed identity made parallel sends unlink each other's socket (issue 13, 7).
CTL_SLOTS = ("ctl",) + tuple(f"ctl-{i}" for i in range(1, 8))
PUBLISHERS = ("capture", "stt", "brain", "tts", "playback", "ui", "ctl", "watchdog") + CTL_SLOTS[1:]
#: Streams and the service that binds (consumes) each one.
STREAM_OWNER = {"audio": "stt", "sentence": "tts", "pcm": "playback", "reference": "capture"}
#: Services run under supervisord (the UI runs in the user's terminal).
SUPERVISED = ("capture", "stt", "brain", "tts", "playback")
SERVICES = SUPERVISED + ("ui",)

#: Services that run on the satellite host when there is one: the microphone and the speaker.
SATELLITE_SERVICES = ("capture", "playback")

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


_DOTENV: dict[str, dict[str, str | None]] = {}


def setting(name: str, default: str = "") -> str:
    """A bus setting from the environment, else from ``.env`` (read once), else ``default``.

    Why not only the environment: a satellite is configured in ``.env`` like
    everything else, and services do not export ``.env`` into their environment.
    """
    if name in os.environ:
        return os.environ[name]
    path = os.environ.get("LUNA_ENV_FILE", ".env")
    if path not in _DOTENV:
        try:
            from dotenv import dotenv_values

            _DOTENV[path] = dict(dotenv_values(path)) if os.path.isfile(path) else {}
        except (OSError, ImportError, ValueError):
            _DOTENV[path] = {}
    return _DOTENV[path].get(name) or default


def claim_ctl() -> tuple[str, int]:
    """A free command-line identity and the open lock file that holds it (keep it open; closing frees it).

    ``flock`` is released by the kernel when the process dies, so a kill -9 never leaves a
    slot taken; the lock files live in the private runtime directory.
    """
    import fcntl

    run = runtime_dir()
    for slot in CTL_SLOTS:
        fd = os.open(run / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return slot, fd
    raise EndpointError(f"{len(CTL_SLOTS)} luna commands are already talking to the bus; wait for one to end")


def _transport() -> str:
    t = setting("LUNA_BUS", "ipc").strip().lower()
    if t not in ("ipc", "tcp"):
        raise EndpointError(f"LUNA_BUS must be 'ipc' or 'tcp', got {t!r}")
    return t


def transport() -> str:
    """``ipc`` (the default, one host) or ``tcp`` (CURVE on every socket)."""
    return _transport()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _tcp_host() -> str:
    host = setting("LUNA_BUS_HOST", "127.0.0.1").strip() or "127.0.0.1"
    if not _is_loopback(host) and not remote_allowed():
        raise EndpointError(
            f"LUNA_BUS_HOST={host} is not loopback; the bus carries the microphone. "
            "Set LUNA_BUS_ALLOW_REMOTE=1 as well if you really mean it")
    return host


def remote_allowed() -> bool:
    return setting("LUNA_BUS_ALLOW_REMOTE") == "1"


def role() -> str:
    """``single`` (one host), ``main`` (a satellite elsewhere) or ``satellite``."""
    if setting("LUNA_SATELLITE_OF").strip():
        return "satellite"
    if setting("LUNA_SATELLITE_HOST").strip():
        return "main"
    return "single"


def peer_host() -> str | None:
    """The other host's address in a satellite pair, else None."""
    r = role()
    if r == "single":
        return None
    host = setting("LUNA_SATELLITE_OF" if r == "satellite" else "LUNA_SATELLITE_HOST").strip()
    if _transport() != "tcp":
        raise EndpointError(f"a satellite pair needs LUNA_BUS=tcp (the peer is {host})")
    if not remote_allowed():
        raise EndpointError(f"the satellite peer {host} is not loopback; set LUNA_BUS_ALLOW_REMOTE=1 as well")
    return host


def runs_elsewhere(service: str) -> str | None:
    """The other host's address when ``service`` belongs there in a satellite pair (else None).

    Why: both hosts run the same supervisord.conf; the main host's capture and
    playback (and the satellite's stt, brain and tts) must stay idle, never open the
    local microphone or speaker.
    """
    r = role()
    if r == "single" or service not in SUPERVISED:
        return None
    if (service in SATELLITE_SERVICES) == (r == "satellite"):
        return None
    return peer_host()


def _owner(name: str) -> str:
    kind, _, what = name.partition("-")
    return STREAM_OWNER[what] if kind == "st" else what


def _host_of(name: str) -> str:
    """Where the socket ``name`` is bound: here, or on the satellite pair's other host."""
    peer = peer_host()
    if peer is None:
        return _tcp_host()
    owner = _owner(name)
    if owner in CTL_SLOTS:  # a command-line tool talks to the services of its own host
        return _tcp_host()
    on_satellite = owner in SATELLITE_SERVICES
    here = on_satellite == (role() == "satellite")
    return _tcp_host() if here else peer


def _address(name: str, bind: bool = False) -> str:
    if _transport() == "ipc":
        if role() != "single":
            peer_host()  # raises: a satellite set up on the ipc bus would silently stay on one host
        return f"ipc://{runtime_dir() / (name + '.sock')}"
    base = int(setting("LUNA_BUS_PORT", "47100") or 47100)
    host = _tcp_host() if bind else _host_of(name)
    return f"tcp://{host}:{base + _TCP_OFFSETS[name]}"


def event_endpoint(publisher: str, bind: bool = False) -> str:
    """Address of ``publisher``'s PUB socket (to connect to, or with ``bind`` to bind here)."""
    if publisher not in PUBLISHERS:
        raise EndpointError(f"unknown publisher {publisher!r}")
    return _address(f"ev-{publisher}", bind)


def stream_endpoint(stream: str, bind: bool = False) -> str:
    """Address of the PULL socket that consumes ``stream`` (to connect to, or with ``bind`` to bind here)."""
    if stream not in STREAM_OWNER:
        raise EndpointError(f"unknown stream {stream!r}")
    return _address(f"st-{stream}", bind)


def is_peer_address(addr: str) -> bool:
    """True when ``addr`` lives on the satellite pair's other host (its server key is the peer's)."""
    peer = peer_host() if addr.startswith("tcp://") else None
    return peer is not None and addr[6:].rsplit(":", 1)[0].strip("[]") == peer


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
        if ok or remote_allowed():
            return
        raise EndpointError(f"refusing to bind {addr}: not loopback")
    raise EndpointError(f"refusing to bind {addr}: unsupported transport")
