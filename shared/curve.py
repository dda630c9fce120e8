"""CURVE keys and the ZAP authenticator: on TCP only Luna's own keys get a frame in or out.

Why (issue 13): a loopback port is open to every local user, and a satellite's
link to anyone on the network. ZeroMQ's CURVE ("ironhouse") encrypts each TCP
connection and authenticates both ends: every bound socket is a CURVE server that
asks the in-process ZAP handler about each client key, and every connecting socket
is a CURVE client that knows the server's public key, so a squatter on a port
cannot pose as a service either.

Keys live in ``$XDG_CONFIG_HOME/luna/keys`` (``LUNA_KEYS_DIR``), 0700:
``luna.key`` / ``luna.key_secret`` (0600) is this install's (or satellite's)
keypair, made on first use; ``authorized/NAME.key`` are the public keys admitted
besides our own (a satellite's, or the main host's). ``luna keys`` shows, adds
and revokes them; the directory is read on every handshake, so a revoke applies
to the next connection without a restart.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from shared import endpoints, private

log = logging.getLogger("luna.curve")

NAME = "luna"
ZAP_DOMAIN = b"luna"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KeyError_(ValueError):
    """A key or key name that cannot be used; ``str()`` is one line for the user."""


def keys_dir() -> Path:
    override = os.environ.get("LUNA_KEYS_DIR")
    return Path(override) if override else private.config_dir() / "keys"


def authorized_dir() -> Path:
    return keys_dir() / "authorized"


def ensure_keypair() -> tuple[bytes, bytes]:
    """This install's (public, secret) z85 keys, created 0600 in 0700 directories on first use."""
    d = private.private_dir(keys_dir())
    private.private_dir(authorized_dir())
    secret_file = d / f"{NAME}.key_secret"
    if not secret_file.exists():
        old = os.umask(0o077)
        try:
            zmq.auth.create_certificates(str(d), NAME)
        finally:
            os.umask(old)
        log.info("created this install's CURVE keypair in %s", d)
    for f in (secret_file, d / f"{NAME}.key"):
        os.chmod(f, 0o600)
    public, secret = zmq.auth.load_certificate(str(secret_file))
    if secret is None:
        raise KeyError_(f"{secret_file} has no secret key")
    return public, secret


def public_key() -> bytes:
    return ensure_keypair()[0]


def parse_public(text: str) -> bytes:
    """A public key given as 40 z85 characters or as a ``.key`` file; raises KeyError_ if it is not one."""
    text = text.strip()
    if len(text) != 40 and os.path.isfile(text):
        pub, _ = zmq.auth.load_certificate(text)
        text = pub.decode()
    try:
        raw = z85.decode(text.encode())
    except (ValueError, KeyError, TypeError):
        raw = b""
    if len(text) != 40 or len(raw) != 32:
        raise KeyError_(f"not a CURVE public key (40 z85 characters): {text[:48]!r}")
    return text.encode()


def authorized() -> dict[str, bytes]:
    """Admitted public keys by name: our own plus every ``authorized/*.key``."""
    out = {NAME: public_key()}
    d = authorized_dir()
    for f in sorted(d.glob("*.key")) if d.is_dir() else ():
        try:
            pub, _ = zmq.auth.load_certificate(str(f))
        except (OSError, ValueError):
            log.warning("unreadable key file %s ignored", f)
            continue
        out[f.stem] = pub
    return out


def add(name: str, key: str) -> Path:
    if not _NAME_RE.match(name) or name == NAME:
        raise KeyError_(f"key name must be letters, digits, '.', '_' or '-' and not {NAME!r}: {name!r}")
    pub = parse_public(key)
    ensure_keypair()
    path = authorized_dir() / f"{name}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# Luna: a public key admitted to this install's bus (luna keys revoke to remove)\n"
                f"metadata\ncurve\n    public-key = \"{pub.decode()}\"\n")
    return path


def revoke(name: str) -> bool:
    path = authorized_dir() / f"{name}.key"
    if not _NAME_RE.match(name) or not path.is_file():
        return False
    path.unlink()
    return True


def peer_key() -> bytes:
    """The public key of the satellite pair's other host (``LUNA_PEER_KEY``: z85, a file, or a name)."""
    raw = endpoints.setting("LUNA_PEER_KEY").strip()
    if not raw:
        raise KeyError_("a satellite pair needs LUNA_PEER_KEY: the other host's public key (`luna keys show` there)")
    known = authorized()
    if raw in known:
        return known[raw]
    return parse_public(raw)


# -- the authenticator -----------------------------------------------------------------------------
class _Admission:
    """ZAP credentials provider: admits a client key only if it is authorized now; counts the rest."""

    def __init__(self) -> None:
        self.denied: Counter[str] = Counter()
        self.admitted = 0
        self._lock = threading.Lock()

    def callback(self, domain: str, key: bytes) -> bool:
        try:
            ok = key in authorized().values()
        except Exception:  # an unreadable key dir admits nobody rather than everybody
            log.exception("reading the authorized keys failed")
            ok = False
        with self._lock:
            if ok:
                self.admitted += 1
            else:
                self.denied[key.decode(errors="replace")] += 1
                n = sum(self.denied.values())
        if not ok and (n <= 5 or n % 1000 == 0):
            log.warning("refused a bus connection from an unknown CURVE key %s (refusals %d)",
                        key.decode(errors="replace")[:12] + "...", n)
        return ok


_AUTH: dict[int, tuple[ThreadAuthenticator, _Admission]] = {}
_AUTH_LOCK = threading.Lock()


def admission(ctx: zmq.Context) -> _Admission:
    """Start (once per context) the ZAP authenticator; every CURVE server socket of ``ctx`` asks it."""
    with _AUTH_LOCK:
        got = _AUTH.get(id(ctx))
        if got is None:
            auth = ThreadAuthenticator(ctx, log=logging.getLogger("luna.zap"))
            auth.start()
            adm = _Admission()
            auth.configure_curve_callback(domain=ZAP_DOMAIN.decode(), credentials_provider=adm)
            got = _AUTH[id(ctx)] = (auth, adm)
        return got[1]


def refused(ctx: zmq.Context) -> int:
    got = _AUTH.get(id(ctx))
    return sum(got[1].denied.values()) if got else 0


def secure_server(sock: Any, ctx: zmq.Context) -> None:
    """Make ``sock`` a CURVE server (call before bind) that admits only authorized keys."""
    admission(ctx)
    public, secret = ensure_keypair()
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.zap_domain = ZAP_DOMAIN
    sock.curve_server = True


def secure_client(sock: Any, addr: str) -> None:
    """Make ``sock`` a CURVE client for ``addr`` (call before each connect): the server must prove its key."""
    public, secret = ensure_keypair()
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = peer_key() if endpoints.is_peer_address(addr) else public
