"""A tiny HTTP server on 127.0.0.1 for tests: files from one folder, with byte ranges, counting bytes sent.

Python's SimpleHTTPRequestHandler ignores ``Range``, which GDAL's /vsicurl/ relies on to read a window
without fetching the whole file; this handler honours ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n``.
``drop_after`` makes every response on a path send that many body bytes and then close the connection
(a server dying midway). Never binds any address but 127.0.0.1.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator


class RangeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = Path(root)
        self.bytes_sent: dict[str, int] = {}  # path → body bytes sent
        self.drop_after: dict[str, int] = {}  # path → body bytes to send before dropping the connection
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: RangeServer

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _file(self) -> Path | None:
        path = (self.server.root / self.path.split("?", 1)[0].lstrip("/")).resolve()
        if self.server.root.resolve() not in path.parents or not path.is_file():
            self.send_error(404)
            return None
        return path

    def do_HEAD(self) -> None:  # noqa: N802
        path = self._file()
        if path is not None:
            self.send_response(200)
            self.send_header("Content-Length", str(path.stat().st_size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        path = self._file()
        if path is None:
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match:
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:
                start = max(0, size - int(last))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with path.open("rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        key = "/" + str(path.relative_to(self.server.root.resolve()))
        drop = self.server.drop_after.get(key)
        if drop is not None:
            body = body[:drop]
        self.wfile.write(body)
        self.wfile.flush()
        with self.server.lock:
            self.server.bytes_sent[key] = self.server.bytes_sent.get(key, 0) + len(body)
        if drop is not None:
            self.close_connection = True
            self.connection.shutdown(2)  # the promised length never arrives


@contextmanager
def serve(root: Path) -> Iterator[RangeServer]:
    server = RangeServer(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a dead server): bind a port, then free it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


__all__ = ["RangeServer", "closed_port_url", "serve"]
