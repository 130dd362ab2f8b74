"""A threaded HTTP/1.1 server on 127.0.0.1 serving a :class:`NewsSite`.

One port serves every virtual host of the demo site; the Host header picks
the site only for "/" and for paths given without the site's prefix. Tests
can replace resources between runs (:meth:`SiteServer.set_resource`), add
custom responders for broken feeds or slow pages (:meth:`SiteServer.route`)
and inspect every request received (:attr:`SiteServer.requests`).
"""

from __future__ import annotations

import hashlib
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import cast
from urllib.parse import urlsplit

from ingest.demo.site import NewsSite, Resource

LOOPBACK = "127.0.0.1"
NOT_FOUND_HTML = (
    b'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    b"<title>404 Not Found</title></head>\n<body><h1>Not Found</h1>"
    b"<p>The requested page does not exist on this demo site.</p></body></html>\n"
)


class _Headers(dict[str, str]):
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


def etag_of(body: bytes) -> str:
    """The ETag the server sends for a static resource: a quoted SHA-1 of the body."""
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    candidates = (c.strip().removeprefix("W/") for c in header.split(","))
    return etag in candidates


def _not_modified(headers: _Headers, etag: str, last_modified: datetime) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:
        return _etag_matches(inm, etag)
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


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops connections (connect
    # timeouts) as soon as a client opens more at once.
    request_queue_size = 128
    owner: SiteServer

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind: it looks up the host's FQDN (DNS).
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up mid-response are normal in tests: stay quiet.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "news-ingest-demo/1.0"
    sys_version = ""
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:
        return

    # -- dispatch -----------------------------------------------------------------

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
        owner = cast(_HTTPServer, self.server).owner
        parts = urlsplit(self.path)
        path = parts.path or "/"
        headers = _Headers((k.lower(), v) for k, v in self.headers.items())
        host = parts.netloc or headers.get("host") or ""
        host = host.strip().lower()
        host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
        info = RequestInfo(self.command, path, host, headers, parts.query)
        owner._record(info)
        length = int(headers.get("content-length") or 0)
        if length > 0:
            self.rfile.read(length)
        handler = owner._route_for(path)
        if handler is not None:
            try:
                reply = handler(info)
            except Exception:  # a broken test responder must not kill the server
                reply = Reply(500, {"Content-Type": "text/plain; charset=utf-8"}, b"error\n")
            self._send(reply)
            return
        if self.command not in ("GET", "HEAD"):
            self._send(Reply(405, {"Allow": "GET, HEAD", "Content-Type": "text/plain"}, b""))
            return
        key, resource = owner._lookup(path, host)
        if resource is None:
            if key is not None:  # a directory-like path without its slash
                self._send(Reply(301, {"Location": key}, b""))
                return
            self._send(Reply(404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_HTML))
            return
        self._send_resource(resource, headers)

    # -- responses ----------------------------------------------------------------

    def _send_resource(self, resource: Resource, headers: _Headers) -> None:
        etag = etag_of(resource.body)
        common = {
            "ETag": etag,
            "Last-Modified": http_date(resource.last_modified),
            "Cache-Control": "public, max-age=60",
        }
        if _not_modified(headers, etag, resource.last_modified):
            self._send(Reply(304, common, b""))
            return
        common["Content-Type"] = resource.content_type
        self._send(Reply(200, common, resource.body))

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


class SiteServer:
    """Threaded HTTP/1.1 server on 127.0.0.1 serving a NewsSite; context manager."""

    def __init__(self, port: int = 0, site_factory: Callable[[int], NewsSite] = NewsSite) -> None:
        self._requested_port = port
        self._port = port
        self._factory = site_factory
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._site: NewsSite | None = None
        self._lock = threading.Lock()
        self._routes: dict[str, Callable[[RequestInfo], Reply]] = {}
        self.requests: list[RequestInfo] = []

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> SiteServer:
        if self._server is not None:
            return self
        # After a stop, an ephemeral server comes back on the port it had.
        port = self._port if self._site is not None else self._requested_port
        server = _HTTPServer((LOOPBACK, port), _Handler, bind_and_activate=False)
        server.owner = self
        try:
            server.server_bind()
            server.server_activate()
            # A restart on the same port keeps the site, and so its replaced resources.
            if self._site is None or self._site.port != server.server_port:
                self._site = self._factory(server.server_port)
        except BaseException:
            server.server_close()
            raise
        self._server = server
        self._port = server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"demo-site-{server.server_port}",
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

    def serve_forever(self) -> None:
        """Block until interrupted (for ``python -m ingest.demo``)."""
        self.start()
        thread = self._thread
        if thread is not None:
            while thread.is_alive():
                thread.join(timeout=0.5)

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- facts --------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def site(self) -> NewsSite:
        if self._site is None:
            raise RuntimeError("SiteServer.start() has not been called")
        return self._site

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def url(self, path: str, host: str | None = None) -> str:
        """URL of ``path`` on this server, on a virtual host when ``host`` is given."""
        if not path.startswith("/"):
            path = "/" + path
        return f"http://{host or LOOPBACK}:{self.port}{path}"

    def count(self, path: str) -> int:
        """Requests received for ``path`` (any query, unless ``path`` has one)."""
        with self._lock:
            log = list(self.requests)
        if "?" in path:
            bare, _, query = path.partition("?")
            return sum(1 for r in log if r.path == bare and r.query == query)
        return sum(1 for r in log if r.path == path)

    # -- customisation ------------------------------------------------------------

    def route(self, path: str, handler: Callable[[RequestInfo], Reply]) -> None:
        """Answer requests for ``path`` (any method, any query) with ``handler``."""
        with self._lock:
            self._routes[path] = handler

    def set_resource(self, path: str, resource: Resource) -> None:
        """Replace or add the static resource at ``path``."""
        with self._lock:
            self.site.resources[path] = resource

    # -- used by the handler ------------------------------------------------------

    def _record(self, info: RequestInfo) -> None:
        with self._lock:
            self.requests.append(info)

    def _route_for(self, path: str) -> Callable[[RequestInfo], Reply] | None:
        with self._lock:
            return self._routes.get(path)

    def _lookup(self, path: str, host: str) -> tuple[str | None, Resource | None]:
        """(key, resource); (key, None) means "redirect to key"; (None, None) is 404."""
        with self._lock:
            site = self.site
            key = site.resolve(path, host or None)
            if key is not None:
                return key, site.resources[key]
            if not path.endswith("/") and site.resolve(path + "/", host or None) == path + "/":
                return path + "/", None
            return None, None
