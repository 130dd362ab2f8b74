"""The demo site (:class:`NewsSite`) on the loopback server (:mod:`ingest.demo.loopback`).

One port serves every virtual host of the demo site; the Host header picks
the site only for "/" and for paths given without the site's prefix. Tests
can replace resources between runs (:meth:`SiteServer.set_resource`), add
custom responders for broken feeds or slow pages (:meth:`SiteServer.route`)
and inspect every request received (:attr:`SiteServer.requests`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType

from ingest.demo.loopback import (
    LOOPBACK,
    Headers,
    LoopbackServer,
    Reply,
    RequestInfo,
    not_modified,
)
from ingest.demo.site import NewsSite, Resource

__all__ = ["LOOPBACK", "Reply", "RequestInfo", "SiteServer", "etag_of", "http_date"]
NOT_FOUND_HTML = (
    b'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    b"<title>404 Not Found</title></head>\n<body><h1>Not Found</h1>"
    b"<p>The requested page does not exist on this demo site.</p></body></html>\n"
)


def etag_of(body: bytes) -> str:
    """The ETag the server sends for a static resource: a quoted SHA-1 of the body."""
    return '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _resource_reply(resource: Resource, headers: Headers) -> Reply:
    etag = etag_of(resource.body)
    common = {
        "ETag": etag,
        "Last-Modified": http_date(resource.last_modified),
        "Cache-Control": "public, max-age=60",
    }
    if not_modified(headers, etag, resource.last_modified):
        return Reply(304, common, b"")
    common["Content-Type"] = resource.content_type
    return Reply(200, common, resource.body)


class SiteServer:
    """The demo site on the loopback server; context manager."""

    def __init__(self, port: int = 0, site_factory: Callable[[int], NewsSite] = NewsSite) -> None:
        self._factory = site_factory
        self._server = LoopbackServer(self._respond, port, name="demo-site")
        self._site: NewsSite | None = None
        self._lock = threading.Lock()
        self._routes: dict[str, Callable[[RequestInfo], Reply]] = {}
        self.requests: list[RequestInfo] = []

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> SiteServer:
        if self._server.running:
            return self

        # After a stop, the server comes back on the port it had, and keeps the
        # site (and so its replaced resources); the site is built before the
        # first request is answered.
        def build(port: int) -> None:
            if self._site is None or self._site.port != port:
                self._site = self._factory(port)

        self._server.start(build)
        return self

    def stop(self) -> None:
        self._server.stop()

    def serve_forever(self) -> None:
        """Block until interrupted (for ``python -m ingest.demo``)."""
        self.start()
        self._server.wait()

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
        return self._server.port

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
        return self._server.running

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

    # -- answering ----------------------------------------------------------------

    def _respond(self, info: RequestInfo) -> Reply:
        self._record(info)
        handler = self._route_for(info.path)
        if handler is not None:
            return handler(info)
        if info.method not in ("GET", "HEAD"):
            return Reply(405, {"Allow": "GET, HEAD", "Content-Type": "text/plain"}, b"")
        key, resource = self._lookup(info.path, info.host)
        if resource is None:
            if key is not None:  # a directory-like path without its slash
                return Reply(301, {"Location": key}, b"")
            return Reply(404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_HTML)
        return _resource_reply(resource, Headers(info.headers))

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
