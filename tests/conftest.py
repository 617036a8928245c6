"""Shared fixtures: a real threaded HTTP server on loopback that serves tests/fixtures/web/ and records every request."""
from __future__ import annotations

import dataclasses
import email.utils
import gzip
import hashlib
import http.server
import os
import pathlib
import tempfile
import threading
import time
from collections.abc import Callable

import pytest

WEB_ROOT = pathlib.Path(__file__).resolve().parent / "fixtures" / "web"
LAST_MODIFIED = "Mon, 04 Mar 2024 12:00:00 GMT"
TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/xml", ".opml": "text/x-opml", ".txt": "text/plain",
         ".pdf": "application/pdf", ".gz": "application/gzip"}


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request as the server saw it."""

    at: float  # time.time() when the request line was read
    method: str
    path: str
    headers: dict  # lower-case names
    status: int


@dataclasses.dataclass
class Reply:
    status: int = 200
    headers: dict = dataclasses.field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds to stall before answering (a slow server)


class WebServer:
    """A ThreadingHTTPServer on `host`, serving WEB_ROOT with `{{BASE}}` replaced by its own base URL.

    Static files get an ETag and Last-Modified and answer conditional requests with 304.
    `route(path, fn)` overrides a path: `fn(seen_so_far_for_path: int, headers: dict) -> Reply`.
    """

    def __init__(self, host: str = "127.0.0.1"):
        self.log: list[Seen] = []
        self.routes: dict[str, Callable[[int, dict], Reply]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                at = time.time()
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = self.path.split("?", 1)[0]
                with server._lock:
                    count = sum(1 for s in server.log if s.path == path)
                reply = server.routes[path](count, headers) if path in server.routes else server.static(path, headers)
                with server._lock:
                    server.log.append(Seen(at, "GET", path, headers, reply.status))
                if reply.delay:
                    server._stop.wait(reply.delay)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if "Transfer-Encoding" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    if "Transfer-Encoding" in reply.headers:  # chunked: no Content-Length to check up front
                        for i in range(0, len(reply.body), 8192):
                            part = reply.body[i:i + 8192]
                            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (too large, timeout): that is what some tests provoke

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, fn: Callable[[int, dict], Reply]) -> None:
        self.routes[path] = fn

    def static(self, path: str, headers: dict) -> Reply:
        file = (WEB_ROOT / path.lstrip("/")).resolve()
        gz = False
        if not file.is_file() and path.endswith(".gz"):
            file, gz = file.with_suffix(""), True
        if WEB_ROOT not in file.parents or not file.is_file():
            return Reply(404, {"Content-Type": "text/html"}, b"<html><body><p>Not found</p></body></html>")
        data = file.read_bytes()
        if file.suffix in (".xml", ".opml", ".html", ".txt"):
            data = data.replace(b"{{BASE}}", self.base.encode())
        if gz:
            data = gzip.compress(data, mtime=0)
        etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
        out = {"Content-Type": TYPES.get(".gz" if gz else file.suffix, "application/octet-stream"), "ETag": etag, "Last-Modified": LAST_MODIFIED}
        if headers.get("if-none-match") == etag or (
            "if-none-match" not in headers and headers.get("if-modified-since") == LAST_MODIFIED
        ):
            return Reply(304, {"ETag": etag})
        return Reply(200, out, data)

    def seen(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.log if path is None or s.path == path]

    def close(self) -> None:
        self._stop.set()  # release stalled handlers
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def web():
    server = WebServer("127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def web2():
    """A second server on another loopback address (127.0.0.2): a 'different host' that can be blocked."""
    server = WebServer("127.0.0.2")
    yield server
    server.close()


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.fixture(scope="session", autouse=True)
def _session_tempdir(tmp_path_factory):
    """Beam's DirectRunner (TestPipeline) leaves an empty beam-temp* folder in the temp dir per pipeline: keep
    them in this session's pytest folder (pytest keeps the last three sessions') instead of the machine's /tmp."""
    d = str(tmp_path_factory.mktemp("tmp"))
    old_dir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir, os.environ["TMPDIR"] = d, d
    yield
    tempfile.tempdir = old_dir
    if old_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old_env


# Test layers: pure functions and TestPipeline composites are fast; files of end-to-end runs are marked e2e
# as a whole (a test elsewhere that runs the pipeline carries @pytest.mark.e2e itself).
E2E_FILES = {"test_e2e.py", "test_incremental.py", "test_local.py", "test_cli.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in E2E_FILES:
            item.add_marker(pytest.mark.e2e)
