"""A hostile bus client, run as its own process (another user, another namespace).

``python -m tests.support.rogue '<json>'`` with keys:

* ``subscribe``: addresses to connect a SUB (every topic) to; every frame received is counted.
* ``push``: stream addresses to PUSH well-formed ``pcm`` frames into (loud noise, text ``inject_text``).
* ``inject_bind``: an address to bind a PUB on (a free publisher port, or a squatted one) and
  publish well-formed ``user-text`` / ``token`` frames carrying ``inject_text``.
* ``connect_pub``: event addresses to connect a PUB to as well (a peer that dials in).
* ``curve``: ``none`` (plain ZeroMQ, no key), ``stranger`` (a fresh CURVE keypair that is not
  authorized; ``server_key`` is the install's public key, which a stranger may know) or
  ``owner`` (the install's own keypair from ``secret_file``: the positive control).
* ``seconds``: how long to listen and send.

It prints one JSON line: frames received per address and frames sent. It touches only
the addresses it is given.
"""

from __future__ import annotations

import json
import sys
import time

import zmq
import zmq.auth


def main(cfg: dict) -> dict:
    ctx = zmq.Context()
    pub_key = sec_key = None
    if cfg.get("curve") == "stranger":
        pub_key, sec_key = zmq.curve_keypair()
    elif cfg.get("curve") == "owner":
        pub_key, sec_key = zmq.auth.load_certificate(cfg["secret_file"])

    def arm(sock: zmq.Socket) -> zmq.Socket:
        sock.setsockopt(zmq.LINGER, 0)
        if pub_key:
            sock.curve_publickey, sock.curve_secretkey = pub_key, sec_key
            sock.curve_serverkey = cfg["server_key"].encode()
        return sock

    subs = {}
    for addr in cfg.get("subscribe", []):
        if addr == cfg.get("inject_bind"):
            continue  # its own port: it would only hear itself
        s = arm(ctx.socket(zmq.SUB))
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(addr)
        subs[addr] = s
    pushes = []
    for addr in cfg.get("push", []):
        s = arm(ctx.socket(zmq.PUSH))
        s.setsockopt(zmq.SNDHWM, 10)
        s.connect(addr)
        pushes.append(s)
    pubs = []
    if cfg.get("inject_bind"):
        s = ctx.socket(zmq.XPUB)  # a server: a stranger can only be one without a key
        s.setsockopt(zmq.LINGER, 0)
        s.bind(cfg["inject_bind"])
        pubs.append(s)
    for addr in cfg.get("connect_pub", []):
        s = arm(ctx.socket(zmq.PUB))
        s.connect(addr)
        pubs.append(s)
    from shared.messages import encode_event, encode_stream, make

    text = cfg.get("inject_text", "rogue")
    turn = cfg.get("turn_id", "f" * 32)
    got = dict.fromkeys(subs, 0)
    sent = tried = 0
    poller = zmq.Poller()
    for s in subs.values():
        poller.register(s, zmq.POLLIN)
    end = time.monotonic() + float(cfg.get("seconds", 5))
    seq = 0
    noise = bytes(range(256)) * 8
    while time.monotonic() < end:
        seq += 1
        for p in pubs:
            for f in (make("user-text", source="ctl", seq=seq, turn_id=turn, text=text),
                      make("token", source="brain", seq=seq, turn_id=turn, text=text, epoch=1)):
                tried += 1
                try:
                    p.send_multipart(encode_event(f), flags=zmq.NOBLOCK)
                    sent += 1
                except (zmq.Again, Exception):
                    pass
        for p in pushes:
            f = make("pcm", source="tts", seq=seq, turn_id=turn, payload=noise, rate=22050, epoch=1,
                     text=text, first=seq == 1, index=0)
            tried += 1
            try:
                p.send_multipart(encode_stream(f), flags=zmq.NOBLOCK)
                sent += 1
            except (zmq.Again, Exception):
                pass
        for sock, _ in poller.poll(100):
            for addr, s in subs.items():
                if s is sock:
                    while True:
                        try:
                            s.recv_multipart(flags=zmq.NOBLOCK)
                            got[addr] += 1
                        except zmq.Again:
                            break
    for s in [*subs.values(), *pushes, *pubs]:
        s.close(0)
    ctx.term()
    return {"received": got, "total": sum(got.values()), "sent": sent, "tried": tried}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
