"""The one loopback HTTP server of the project: the demo site (with the tests'
broken feeds and slow pages as routes on it) and the benchmarks' generated
news web answer through it. Only ``tests/hostile.py`` has its own raw-socket
server, for answers no HTTP server would send (a body dripped a byte at a
time, a connection reset mid-body).

A threaded HTTP/1.1 server bound to 127.0.0.1 only (never another address),
answering every request with a *responder*: a function from a
:class:`RequestInfo` to a :class:`Reply`. What is served (a site's pages, a
generated web, a test's broken feed) is the responder's business; the
plumbing (binding without a DNS lookup, keep-alive, HEAD, bodyless statuses,
a responder that raises) lives here once.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import cast
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"


class Headers(dict[str, str]):
    """A dict of header fields with case-insensitive lookup (keys stored lower-case)."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class RequestInfo:
    method: str
    path: str  # without the query string
    host: str  # Host header without the port, lower-case ("" if absent)
    headers: dict[str, str]  # case-insensitive lookup; keys are lower-case
    query: str = ""  # the raw query string, without "?"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Responder = Callable[[RequestInfo], Reply]


def not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime) -> bool:
    """Whether a conditional GET (``headers``: lower-case names) may be
    answered 304 for a resource with this ETag and modification time:
    If-None-Match decides when present, else If-Modified-Since."""
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return etag in tags or "*" in tags
    ims = headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.astimezone(UTC).replace(microsecond=0) <= since


ERROR_REPLY = Reply(500, {"Content-Type": "text/plain; charset=utf-8"}, b"error\n")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops connections (connect
    # timeouts) as soon as a client opens more at once.
    request_queue_size = 128
    respond: Responder

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind: it looks up the host's FQDN (DNS).
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up mid-response are normal: stay quiet.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "news-ingest-loopback/1.0"
    sys_version = ""
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        respond = cast(_HTTPServer, self.server).respond
        parts = urlsplit(self.path)
        headers = Headers((k.lower(), v) for k, v in self.headers.items())
        host = (parts.netloc or headers.get("host") or "").strip().lower()
        host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
        length = int(headers.get("content-length") or 0)
        if length > 0:
            self.rfile.read(length)
        info = RequestInfo(self.command, parts.path or "/", host, headers, parts.query)
        try:
            reply = respond(info)
        except Exception:  # a broken responder must not kill the server
            reply = ERROR_REPLY
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        names = {name.lower() for name in reply.headers}
        for name, value in reply.headers.items():
            self.send_header(name, value)
        bodyless = reply.status in (204, 304) or reply.status < 200
        if not bodyless and "content-length" not in names:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD" and not bodyless and reply.body:
            self.wfile.write(reply.body)
        self.wfile.flush()


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 answering with ``respond``;
    a context manager. ``port`` 0 takes a free port; after a stop, a start
    comes back on the port it had."""

    def __init__(self, respond: Responder, port: int = 0, name: str = "loopback") -> None:
        self.respond = respond
        self.name = name
        self._port = port
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, bound: Callable[[int], None] | None = None) -> LoopbackServer:
        """Bind and serve; ``bound`` is called with the port once it is bound
        and before the first request is answered (to build what is served)."""
        if self._server is not None:
            return self
        server = _HTTPServer((LOOPBACK, self._port), _Handler, bind_and_activate=False)
        server.respond = self.respond
        try:
            server.server_bind()
            server.server_activate()
            if bound is not None:
                bound(server.server_port)
        except BaseException:
            server.server_close()
            raise
        self._server = server
        self._port = server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def wait(self) -> None:
        """Block while the server runs (until interrupted)."""
        thread = self._thread
        if thread is not None:
            while thread.is_alive():
                thread.join(timeout=0.5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._server is not None
