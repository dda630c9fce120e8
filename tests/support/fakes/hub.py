"""A fake Hugging Face model hub on 127.0.0.1: the protocol huggingface_hub's client and ``luna.fetch`` speak.

Two origins, like the real thing: the hub (``/{repo}/resolve/{rev}/{file}``, the
``/api/models/...`` calls ``snapshot_download`` makes) and a CDN on another port
that LFS files redirect to. Headers as huggingface_hub reads them in
``file_download.get_hf_file_metadata``: ``X-Repo-Commit``; ``ETag`` (the git blob
sha1 of a small file); for LFS files a 302 whose ``X-Linked-Etag`` is the sha256
and ``X-Linked-Size`` the size. Both origins answer ``Range`` with 206.

Faults a test can ask for: ``cut_once`` (the first GET of that file stops halfway
and the connection closes), ``corrupt`` (one byte flipped, headers unchanged),
``unsized`` (a small file sent chunked with no length, as the hub does for
gzip-able text), ``slow`` (a pause after each MB, so a test can interrupt).
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse


@dataclass
class HubFile:
    data: bytes | Path
    lfs: bool

    @property
    def size(self) -> int:
        return self.data.stat().st_size if isinstance(self.data, Path) else len(self.data)

    def read(self, start: int, end: int) -> bytes:
        if isinstance(self.data, bytes):
            return self.data[start:end]
        with self.data.open("rb") as f:
            f.seek(start)
            return f.read(end - start)


def _digests(f: HubFile) -> tuple[str, str]:
    sha256, sha1 = hashlib.sha256(), hashlib.sha1()
    sha1.update(b"blob %d\0" % f.size)
    pos = 0
    while pos < f.size:
        chunk = f.read(pos, pos + (1 << 22))
        sha256.update(chunk)
        sha1.update(chunk)
        pos += len(chunk)
    return sha256.hexdigest(), sha1.hexdigest()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a cut, a closed keep-alive) is normal here: no traceback on stderr."""


class FakeHub:
    """``add()`` files, ``start()``, point ``HF_ENDPOINT`` at ``url``; ``requests`` lists (origin, method, path, range)."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, HubFile]] = {}
        self.commits: dict[str, str] = {}
        self.sums: dict[tuple[str, str], tuple[str, str]] = {}
        self.cut_once: set[str] = set()
        self.corrupt: set[str] = set()
        self.unsized: set[str] = set()
        self.slow: dict[str, float] = {}  # file -> seconds to wait after each MB sent (a slow line)
        self.requests: list[tuple[str, str, str, str]] = []
        self.cuts = 0
        self.hub = self._server("hub")
        self.cdn = self._server("cdn")
        self.url = f"http://127.0.0.1:{self.hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self.cdn.server_address[1]}"
        self._threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
                         for s in (self.hub, self.cdn)]

    def add(self, repo: str, path: str, data: bytes | Path, lfs: bool | None = None) -> HubFile:
        f = HubFile(data, lfs if lfs is not None else (isinstance(data, Path) or len(data) > 100_000))
        self.repos.setdefault(repo, {})[path] = f
        self.commits.setdefault(repo, hashlib.sha1(repo.encode()).hexdigest())
        self.sums[(repo, path)] = _digests(f)
        return f

    def sha256(self, repo: str, path: str) -> str:
        return self.sums[(repo, path)][0]

    def start(self) -> FakeHub:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        for s in (self.hub, self.cdn):
            s.shutdown()
            s.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *a: Any) -> None:
        self.stop()

    def gets(self, path_end: str) -> list[tuple[str, str, str, str]]:
        """The GET requests whose path ends with ``path_end`` (either origin)."""
        return [r for r in self.requests if r[1] == "GET" and urlparse(r[2]).path.endswith(path_end)]

    # -- the servers ----------------------------------------------------------------------
    def _server(self, origin: str) -> ThreadingHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                fake._serve(self, origin, "HEAD")

            def do_GET(self) -> None:  # noqa: N802
                fake._serve(self, origin, "GET")

        s = _Server(("127.0.0.1", 0), Handler)
        s.daemon_threads = True
        return s

    def _serve(self, h: BaseHTTPRequestHandler, origin: str, method: str) -> None:
        self.requests.append((origin, method, h.path, h.headers.get("Range", "")))
        try:
            if origin == "cdn":
                self._cdn(h, method)
            else:
                self._hub(h, method)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _error(h: BaseHTTPRequestHandler, status: int, code: str, method: str, commit: str = "") -> None:
        body = json.dumps({"error": code}).encode()
        h.send_response(status)
        h.send_header("X-Error-Code", code)
        if commit:
            h.send_header("X-Repo-Commit", commit)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method == "GET":
            h.wfile.write(body)

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, obj: Any) -> None:
        body = json.dumps(obj).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _resolve(self, repo: str, rev: str) -> str | None:
        commit = self.commits.get(repo)
        return commit if commit and rev in ("main", commit, "v1.0.0") else None

    def _hub(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = urlparse(h.path).path
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            return self._api(h, method, "/".join(parts[2:4]), parts[4], parts[5], "/".join(parts[6:]))
        if len(parts) < 5 or parts[2] != "resolve":
            return self._error(h, 404, "NotFound", method)
        repo, rev, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if repo not in self.repos:
            return self._error(h, 401, "RepoNotFound", method)  # the hub answers 401 for unknown repos
        commit = self._resolve(repo, rev)
        if commit is None:
            return self._error(h, 404, "RevisionNotFound", method)
        f = self.repos[repo].get(filename)
        if f is None:
            return self._error(h, 404, "EntryNotFound", method, commit)
        sha256, sha1 = self.sums[(repo, filename)]
        if f.lfs:
            loc = f"{self.cdn_url}/repos/{sha256[:2]}/{sha256[2:4]}/{repo.replace('/', '--')}/{sha256}"
            body = f"Found. Redirecting to {loc}".encode()
            h.send_response(302)
            h.send_header("Location", f"{loc}?response-content-disposition=attachment%3B+filename%3D{filename}")
            h.send_header("X-Repo-Commit", commit)
            h.send_header("X-Linked-Etag", f'"{sha256}"')
            h.send_header("X-Linked-Size", str(f.size))
            h.send_header("ETag", f'"{hashlib.sha1(sha256.encode()).hexdigest()}"')  # the pointer file's oid
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if method == "GET":
                h.wfile.write(body)
            return None
        return self._bytes(h, method, f"{repo}/{filename}", f, f'"{sha1}"', {"X-Repo-Commit": commit})

    def _api(self, h: BaseHTTPRequestHandler, method: str, repo: str, what: str, rev: str, sub: str) -> None:
        if repo not in self.repos:
            return self._error(h, 401, "RepoNotFound", method)
        commit = self._resolve(repo, rev)
        if commit is None:
            return self._error(h, 404, "RevisionNotFound", method)
        files = self.repos[repo]
        if what == "revision":
            return self._json(h, {"_id": commit[:24], "id": repo, "modelId": repo, "sha": commit, "private": False,
                                  "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
                                  "siblings": [{"rfilename": p} for p in files]})
        if what == "tree":
            out: list[dict[str, Any]] = []
            dirs: set[str] = set()
            for p, f in files.items():
                if sub and not p.startswith(sub.rstrip("/") + "/"):
                    continue
                d = p.rsplit("/", 1)[0] if "/" in p else ""
                while d and d not in dirs:
                    dirs.add(d)
                    out.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0,
                                "path": d})
                    d = d.rsplit("/", 1)[0] if "/" in d else ""
                sha256, sha1 = self.sums[(repo, p)]
                e: dict[str, Any] = {"type": "file", "oid": sha1, "size": f.size, "path": p}
                if f.lfs:
                    e["lfs"] = {"oid": sha256, "size": f.size, "pointerSize": 134}
                out.append(e)
            return self._json(h, out)
        return self._error(h, 404, "NotFound", method)

    def _cdn(self, h: BaseHTTPRequestHandler, method: str) -> None:
        sha = urlparse(h.path).path.rsplit("/", 1)[-1]
        for (repo, path), (sha256, _) in self.sums.items():
            if sha256 == sha:
                return self._bytes(h, method, f"{repo}/{path}", self.repos[repo][path], f'"{sha256}"', {})
        return self._error(h, 404, "NoSuchKey", method)

    def _bytes(self, h: BaseHTTPRequestHandler, method: str, key: str, f: HubFile, etag: str,
               extra: dict[str, str]) -> None:
        size = f.size
        start, end = 0, size
        rng = h.headers.get("Range", "")
        status = 200
        if rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a or 0)
            end = int(b) + 1 if b else size
            if start >= size:
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{size}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            status = 206
        unsized = any(key.endswith(u) for u in self.unsized)
        h.send_response(status)
        for k, v in extra.items():
            h.send_header(k, v)
        h.send_header("ETag", etag)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        if unsized:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(end - start))
        h.end_headers()
        if method == "HEAD":
            return
        cut = next((c for c in self.cut_once if key.endswith(c)), None)
        stop = end
        if cut is not None and method == "GET":
            self.cut_once.discard(cut)
            self.cuts += 1
            stop = start + (end - start) // 2
        corrupt = any(key.endswith(c) for c in self.corrupt)
        delay = next((v for k, v in self.slow.items() if key.endswith(k)), 0.0)
        pos = start
        while pos < stop:
            chunk = f.read(pos, min(stop, pos + (1 << 20)))
            if corrupt and pos <= size // 2 < pos + len(chunk):
                i = size // 2 - pos
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1:]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if unsized else chunk)
            pos += len(chunk)
            if delay:
                h.wfile.flush()
                time.sleep(delay)
        if unsized and stop == end:
            h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()
        if stop < end:  # the cut: the peer sees the connection close before Content-Length bytes came
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
