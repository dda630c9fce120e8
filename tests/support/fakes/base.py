"""A threaded HTTP server on 127.0.0.1:random-port that a test starts and stops."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeServer:
    """Subclasses implement ``handle(h, method, path, body)``; ``requests`` records what came in."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.closed = threading.Event()  # stalls wait on this so stop() never hangs
        self.disconnects = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return raw

            def do_GET(self) -> None:  # noqa: N802
                fake._dispatch(self, "GET", None)

            def do_POST(self) -> None:  # noqa: N802
                fake._dispatch(self, "POST", self._body())

            def do_DELETE(self) -> None:  # noqa: N802
                fake._dispatch(self, "DELETE", self._body())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str, body: Any) -> None:
        self.requests.append({"method": method, "path": h.path, "body": body, "headers": dict(h.headers)})
        try:
            self.handle(h, method, h.path, body)
        except (BrokenPipeError, ConnectionResetError):
            self.disconnects += 1  # the client closed the stream (cancel)

    def handle(self, h: BaseHTTPRequestHandler, method: str, path: str, body: Any) -> None:
        raise NotImplementedError

    # -- response helpers ------------------------------------------------------------------
    @staticmethod
    def send_json(h: BaseHTTPRequestHandler, obj: Any, status: int = 200) -> None:
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def start_chunked(h: BaseHTTPRequestHandler, ctype: str) -> None:
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

    @staticmethod
    def chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
        h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        h.wfile.flush()

    @staticmethod
    def end_chunked(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.closed.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def words(text: str) -> list[str]:
    """Split a reply into streaming pieces the way models do: words with their leading space."""
    out, cur = [], ""
    for ch in text:
        if ch == " " and cur:
            out.append(cur)
            cur = ""
        cur += ch
    if cur:
        out.append(cur)
    return out
