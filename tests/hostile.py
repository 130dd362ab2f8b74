"""A loopback server that misbehaves on purpose, one case per path.

``/h/<case>/feed.xml`` serves the feed of a case; article pages of the cases
live under ``/h/article/<n>``. Cases that need more than a response
(dripping, resets, never accepting) work at the socket level. Everything binds
127.0.0.1; the "blocked" targets are 127.0.0.2, which only 127.0.0.1 being
allowed keeps from ever being fetched.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import brotli

BIG = 4 * 1024 * 1024  # the body cap the fault tests run with (the 10k-item feed is 2.2 MB)
ITEMS_10K = 10_000


def article_html(n: int, title: str = "Harbour works resume") -> bytes:
    paras = "".join(
        f"<p>Paragraph {i} of article {n}: the harbour board said on Tuesday that dredging "
        f"would resume next week after the storm, with crews working in shifts to finish "
        f"the channel before the autumn shipping season begins in earnest.</p>"
        for i in range(8)
    )
    return (
        f"<!doctype html><html lang='en'><head><title>{title} {n}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{title} {n}</h1>{paras}</article>"
        f"<footer>Footer</footer></body></html>"
    ).encode()


def rss(items: list[tuple[str, str]], extra: str = "", encoding: str = "utf-8") -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>Summary of {t}: the harbour board said dredging would resume.</description>"
        f"</item>"
        for t, link in items
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{extra}<rss version="2.0"><channel>'
        f"<title>Hostile</title>{body}</channel></rss>"
    )


@dataclass(frozen=True)
class Response:
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


Handler = Callable[[socket.socket, str, dict[str, str]], None]


class HostileServer:
    """Threaded raw HTTP/1.1 server; ``cases`` maps a path to a response or handler."""

    def __init__(self) -> None:
        self.cases: dict[str, Response | Handler] = {}
        self.requests: list[tuple[str, str]] = []  # (host, path)
        outer = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._handle(self.request)

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self._server = _Server(("127.0.0.1", 0), _Handler)
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        # A listening socket that never accepts, its backlog filled: connecting
        # to it hangs until the client's connect timeout.
        self._silent = socket.socket()
        self._silent.bind(("127.0.0.1", 0))
        self._silent.listen(0)
        self.silent_port = self._silent.getsockname()[1]
        self._fillers = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", self.silent_port))
            self._fillers.append(s)

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for s in (self._silent, *self._fillers):
            s.close()

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or '127.0.0.1'}:{self.port}{path}"

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        request_line, *lines = head.split("\r\n")
        path = request_line.split(" ")[1].split("?", 1)[0]
        headers = {}
        for line in lines:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        host = headers.get("host", "").split(":")[0]
        self.requests.append((host, path))
        if path == "/robots.txt":
            body = b"User-agent: *\nDisallow: /h/private/\n" if host == "robots.test" else b""
            return _send(conn, Response(200 if body else 404, (), body))
        if path.startswith(("/h/article/", "/h/private/")):
            return _send(
                conn,
                Response(
                    200,
                    (("Content-Type", "text/html"),),
                    article_html(int(path.rsplit("/", 1)[1] or 0)),
                ),
            )
        case = self.cases.get(path)
        if case is None:
            return _send(conn, Response(404, (), b"not found"))
        if isinstance(case, Response):
            return _send(conn, case)
        return case(conn, path, headers)


def _send(conn: socket.socket, r: Response) -> None:
    reason = {200: "OK", 301: "Moved", 302: "Found", 404: "Not Found"}.get(r.status, "Status")
    head = f"HTTP/1.1 {r.status} {reason}\r\n"
    names = {k.lower() for k, _ in r.headers}
    headers = list(r.headers)
    if "content-length" not in names:
        headers.append(("Content-Length", str(len(r.body))))
    headers.append(("Connection", "close"))
    head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    with contextlib.suppress(OSError):
        conn.sendall(head.encode("latin-1") + r.body)


def drip(conn: socket.socket, path: str, headers: dict[str, str]) -> None:
    """Headers, then one byte a second: passes every read timeout, never finishes."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n"
    )
    for _ in range(30):
        try:
            conn.sendall(b"<")
        except OSError:
            return
        time.sleep(1)


def reset_mid_body(conn: socket.socket, path: str, headers: dict[str, str]) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
        b"Content-Length: 100000\r\n\r\n<?xml version='1.0'?><rss><channel>"
    )
    time.sleep(0.1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def build_cases(server: HostileServer) -> dict[str, Response | Handler]:
    """Every hostile case by name: ``/h/<name>/feed.xml``."""
    art = lambda n: server.url(f"/h/article/{n}")  # noqa: E731
    xml = (("Content-Type", "application/rss+xml"),)
    good_feed = rss([("One", art(1)), ("Two", art(2))]).encode()
    bomb = b"\0" * (64 * 1024 * 1024)
    p = server.port
    laughs = (
        '<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'
            for i in range(10)
        )
        + "]>"
    )
    many = rss([(f"Item {i}", art(100 + i)) for i in range(ITEMS_10K)]).encode()
    cases: dict[str, Response | Handler] = {
        "drip": drip,
        "reset": reset_mid_body,
        "http-500": Response(500, (), b"error"),
        "http-502": Response(502, (), b"bad gateway"),
        "http-503": Response(503, (("Retry-After", "7200"),), b"later"),
        "http-429": Response(429, (("Retry-After", "3600"),), b"slow down"),
        "gone-410": Response(410, (), b"gone"),
        "redirect-loop": Response(302, (("Location", "/h/redirect-loop2/feed.xml"),)),
        "redirect-loop2": Response(302, (("Location", "/h/redirect-loop/feed.xml"),)),
        "redirect-blocked": Response(302, (("Location", f"http://127.0.0.2:{p}/h/x/feed.xml"),)),
        "ip-literals": Response(
            200,
            xml,
            rss(
                [
                    ("dotted", f"http://127.0.0.2:{p}/h/article/1"),
                    ("decimal", f"http://2130706434:{p}/h/article/2"),
                    ("hex", f"http://0x7f000002:{p}/h/article/3"),
                    ("mapped", f"http://[::ffff:127.0.0.2]:{p}/h/article/4"),
                    ("metadata", "http://169.254.169.254/latest/meta-data/"),
                ]
            ).encode(),
        ),
        "schemes": Response(
            200,
            xml,
            rss(
                [
                    ("file", "file:///etc/passwd"),
                    ("ftp", "ftp://127.0.0.1/x"),
                    ("js", "javascript:alert(1)"),
                    ("data", "data:text/html,hi"),
                    ("ok", art(5)),
                ]
            ).encode(),
        ),
        "too-big": Response(200, xml, b"<rss>" + b" " * (BIG + 1000) + b"</rss>"),
        "gzip-bomb": Response(200, (*xml, ("Content-Encoding", "gzip")), gzip.compress(bomb)),
        "deflate-bomb": Response(200, (*xml, ("Content-Encoding", "deflate")), zlib.compress(bomb)),
        "br-bomb": Response(200, (*xml, ("Content-Encoding", "br")), brotli.compress(bomb)),
        "billion-laughs": Response(200, xml, rss([("&lol9;", art(6))], extra=laughs).encode()),
        "xxe": Response(
            200,
            xml,
            rss(
                [("&xxe;", art(7))],
                extra=('<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
            ).encode(),
        ),
        # these two link to missing pages, so the article is the feed's own
        # text and title, which must have been decoded right
        "cp1252-nocharset": Response(
            200,
            (("Content-Type", "application/xml"),),
            rss(
                [("Caf\u00e9 owners welcome the plan", server.url("/h/missing/8"))],
                encoding="windows-1252",
            )
            .replace('encoding="windows-1252"', "")
            .encode("cp1252"),
        ),
        "utf16-bom": Response(
            200,
            (("Content-Type", "application/rss+xml"),),
            rss(
                [("\u00dcber die Br\u00fccke", server.url("/h/missing/9"))],
                encoding="utf-16",
            ).encode("utf-16"),
        ),
        "html-not-feed": Response(200, (("Content-Type", "text/html"),), article_html(0)),
        "many-items": Response(200, xml, many),
        "duplicate-guids": Response(
            200,
            xml,
            (
                '<?xml version="1.0"?><rss version="2.0"><channel><title>d</title>'
                f"<item><title>a</title><link>{art(10)}</link><guid>same</guid></item>"
                f"<item><title>b</title><link>{art(11)}</link><guid>same</guid></item>"
                f"<item><title>c</title><link>{art(13)}</link><guid>same</guid></item>"
                f"<item><title>a again</title><link>{art(10)}</link><guid>same</guid></item>"
                "</channel></rss>"
            ).encode(),
        ),
        # Links no browser would refuse but an HTTP client might: IPv4 in
        # octal or zero-padded spelling, IDNA digits, a leading tab, and pages
        # whose redirect points at another scheme or uses backslashes. Each
        # ends as a row (blocked: they are 127.0.0.2), never a failed run.
        "poison-urls": Response(
            200,
            xml,
            rss(
                [
                    ("octal", f"http://0177.0.0.2:{p}/h/article/20"),
                    ("padded", f"http://127.000.000.002:{p}/h/article/21"),
                    ("idna-digits", f"http://\u2460\u2461\u2466.0.0.\u2461:{p}/h/article/22"),
                    ("tab", f"\thttp://127.0.0.2:{p}/h/article/23"),
                    ("redirect-jar", server.url("/h/poison/redirect-jar")),
                    ("redirect-backslash", server.url("/h/poison/redirect-backslash")),
                    ("fine", art(24)),
                ]
            ).encode(),
        ),
        "empty-200": Response(200, xml, b""),
        "moved-301": Response(301, (("Location", "/h/good-moved/feed.xml"),)),
        "moved-302": Response(302, (("Location", "/h/good-moved/feed.xml"),)),
        "good-moved": Response(200, xml, good_feed),
        "robots": Response(
            200,
            xml,
            rss(
                [
                    ("private", f"http://robots.test:{p}/h/private/12"),
                ]
            ).encode(),
        ),
    }
    for i in range(8):
        cases[f"chain-{i}"] = Response(302, (("Location", f"/h/chain-{i + 1}/feed.xml"),))
    out: dict[str, Response | Handler] = {
        f"/h/{name}/feed.xml": case for name, case in cases.items()
    }
    out["/h/poison/redirect-jar"] = Response(302, (("Location", "jar:http://example.com/!x"),))
    out["/h/poison/redirect-backslash"] = Response(
        302, (("Location", f"http:\\\\127.0.0.2:{p}\\h\\article\\25"),)
    )
    return out
