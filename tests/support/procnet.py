"""Which inet sockets a process holds, read from /proc (for the offline and bus-privacy tests)."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path


def _addr(h: str) -> str:
    raw = bytes.fromhex(h)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))


def sockets_of(pid: int) -> list[dict[str, str]]:
    """Every inet socket ``pid`` holds: proto, local and remote address (ports included)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    out = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]:
                c = line.split()
                if c[9] in inodes:
                    (la, lp), (ra, rp) = c[1].split(":"), c[2].split(":")
                    out.append({"proto": proto, "local": f"{_addr(la)}:{int(lp, 16)}",
                                "remote": f"{_addr(ra)}:{int(rp, 16)}", "state": c[3]})
    return out


def listening_tcp(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every LISTEN tcp socket held by ``pid`` (its netns's /proc tables)."""
    out = []
    for s in sockets_of(pid):
        if s["proto"].startswith("tcp") and s["state"] == "0A":  # 0A = LISTEN
            host, port = s["local"].rsplit(":", 1)
            out.append((host, int(port)))
    return out
