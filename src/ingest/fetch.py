"""HTTP fetching: the one module that talks to the network.

Everything a hostile server can do ends as a :class:`FetchResult` with an
outcome and a reason: timeouts, oversized or compressed-bomb bodies, redirect
loops, blocked addresses. Parsers never see a URL, only bytes and headers.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
import time
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime
from functools import cache
from types import TracebackType
from typing import Protocol, cast
from urllib.parse import urlsplit

import brotli
import certifi
import httpx

from ingest import stopping
from ingest.guard import AddressGuard, BlockedAddress, PerOriginTransport, guarded_transport
from ingest.records import FetchKind, FetchResult, Outcome
from ingest.settings import Settings
from ingest.urls import BadURL, checked

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
ACCEPT = {
    FetchKind.FEED: "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5",
    FetchKind.PAGE: "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
    FetchKind.ROBOTS: "text/plain, */*;q=0.5",
    FetchKind.SITEMAP: "application/xml, text/xml;q=0.9, */*;q=0.5",
    FetchKind.TDMREP: "application/json, */*;q=0.5",
}
# Headers worth keeping with a fetched body (for the parser and the scheduler).
KEPT_HEADERS = (
    "content-type",
    "etag",
    "last-modified",
    "cache-control",
    "expires",
    "retry-after",
    "content-language",
    "location",
    "date",
    "age",
    # what the publisher declares about the page's use (ingest.rights)
    "x-robots-tag",
    "tdm-reservation",
    "tdm-policy",
    "link",
)


log = logging.getLogger(__name__)


class TooLarge(Exception):
    pass


class Deferred(Exception):
    """A request that was never sent: its origin's turn would come after the
    caller's ``wait_until``, or the fetcher is stopping."""


class _Inflater:
    """Streaming Content-Encoding decoder that never produces more than ``limit`` bytes.

    httpx's own decoders inflate a whole network chunk at once; a 64 KiB
    chunk of a deflate bomb becomes 64 MiB before any cap could look at it.
    Here every call asks zlib/brotli for at most what the cap still allows.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.total = 0
        self._zlib: zlib._Decompress | None = None
        self._brotli: brotli.Decompressor | None = None
        self._deflate_probe = encoding == "deflate"
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding not in ("", "identity"):
            raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def _room(self) -> int:
        return self.limit - self.total + 1

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.limit:
            raise TooLarge(f"decoded body over {self.limit} bytes")
        return data

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is not None:
            out = bytearray()
            try:
                piece = self._zlib.decompress(chunk, self._room())
            except zlib.error:
                if not self._deflate_probe:
                    raise
                # Some servers send raw deflate without the zlib header.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                self._deflate_probe = False
                piece = self._zlib.decompress(chunk, self._room())
            self._deflate_probe = False
            out += self._count(piece)
            while self._zlib.unconsumed_tail:
                out += self._count(self._zlib.decompress(self._zlib.unconsumed_tail, self._room()))
            return bytes(out)
        if self._brotli is not None:
            out = bytearray(
                self._count(self._brotli.process(chunk, output_buffer_limit=self._room()))
            )
            while not self._brotli.can_accept_more_data():
                out += self._count(self._brotli.process(b"", output_buffer_limit=self._room()))
            return bytes(out)
        return self._count(chunk)


# Crawl-delay is honoured up to this many seconds: a site asking for an hour
# between requests would stall a whole run; we fetch it slowly, not never.
MAX_CRAWL_DELAY = 10.0


class _HostGate:
    def __init__(self, slots: int, gap: float) -> None:
        self.slots = asyncio.Semaphore(slots)
        self.lock = asyncio.Lock()
        self.gap = gap
        self.next_at = 0.0


def _max_open_origins(per_origin: int) -> int:
    """How many origins may keep idle connections open: as many as the open
    file limit allows with room to spare, between 64 and 1024."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, min(1024, (soft - 256) // max(1, per_origin)))


def origin_of(url: str) -> str:
    """``scheme://host[:port]``: the unit of politeness and of robots.txt."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def _now() -> datetime:
    return datetime.now(UTC)


@cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every pool of every fetcher in this process:
    loading the CA bundle costs 20 ms (100 ms on a busy machine), which a
    warm pass would otherwise pay per fetcher."""
    return ssl.create_default_context(cafile=certifi.where())


class Fetcher:
    """An async HTTP client with the guard, limits and per-host politeness.

    Use as ``async with Fetcher(settings) as fetcher: await fetcher.get(...)``.
    """

    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.guard = AddressGuard(settings.allow_private_hosts, settings.resolve)
        per_origin = httpx.Limits(
            max_connections=settings.per_host_connections,
            max_keepalive_connections=settings.per_host_connections,
        )
        tls = _tls_context()
        self._transport = transport or PerOriginTransport(
            lambda: guarded_transport(self.guard, limits=per_origin, retries=0, verify=tls),
            max_pools=_max_open_origins(settings.per_host_connections),
        )
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.total_timeout,
            ),
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent},
            trust_env=False,  # never route loopback tests or private feeds through a proxy
        )
        self._gates: defaultdict[str, _HostGate] = defaultdict(
            lambda: _HostGate(settings.per_host_connections, settings.host_gap_seconds)
        )
        self._global = asyncio.Semaphore(settings.max_connections)
        self._stopping = False
        self._in_get: set[asyncio.Task[object]] = set()
        stopping.register(self)

    def set_crawl_delay(self, origin: str, seconds: float) -> None:
        """Space requests to ``origin`` at least this far apart (robots.txt)."""
        gate = self._gates[origin]
        gate.gap = max(self.settings.host_gap_seconds, min(seconds, MAX_CRAWL_DELAY))

    @asynccontextmanager
    async def _turn(self, origin: str, wait_until: float | None) -> AsyncIterator[None]:
        """At most N requests in flight per origin, starts spaced by its gap.

        Waiting for the turn is not part of a request: with ``wait_until`` (a
        loop time) a request whose turn would come later is never sent and
        :class:`Deferred` is raised instead."""
        gate = self._gates[origin]
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(wait_until) if wait_until is not None else nullcontext():
                await gate.slots.acquire()
        except TimeoutError:
            raise Deferred(f"{origin}: no free slot before the run's page budget ran out") from None
        try:
            if gate.gap > 0:
                async with gate.lock:
                    wait = gate.next_at - loop.time()
                    if wait_until is not None and loop.time() + max(wait, 0.0) > wait_until:
                        raise Deferred(
                            f"{origin}: its turn (one request every {gate.gap:g}s) would come "
                            "after the run's page budget ran out"
                        )
                    if wait > 0:
                        await asyncio.sleep(wait)
                    gate.next_at = loop.time() + gate.gap
            if self._stopping:
                raise Deferred("the run is stopping")
            yield
        finally:
            gate.slots.release()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def stop(self) -> None:
        """Stop fetching: requests waiting for their turn, and those in flight,
        end as ``deferred`` (never a failure); later calls too."""
        self._stopping = True
        for task in list(self._in_get):
            task.cancel("fetcher stopping")

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def get(
        self,
        url: str,
        kind: FetchKind,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        wait_until: float | None = None,
    ) -> FetchResult:
        """Fetch ``url`` (redirects followed). Never raises: every outcome,
        a refused URL or an internal error included, is a result.

        ``wait_until`` (a loop time, :func:`asyncio.get_running_loop().time`)
        bounds the wait for the origin's turn: a request that could not be
        sent by then ends ``deferred``, not as a failure. The total deadline
        counts only the time requests are on the wire."""
        started = time.monotonic()
        fetched_at = _now()
        hops: list[str] = []
        state: dict[str, object] = {}

        def result(outcome: Outcome, error: str | None = None, **kw: object) -> FetchResult:
            return FetchResult(
                url=url,
                kind=kind,
                outcome=outcome,
                fetched_at=fetched_at,
                error=error,
                elapsed_ms=int((time.monotonic() - started) * 1000),
                redirects=tuple(hops),
                final_url=str(state.get("final", hops[-1] if hops else url)),
                moved_to=cast(str | None, state.get("moved_to")),
                **kw,  # type: ignore[arg-type]
            )

        task = asyncio.current_task()
        if self._stopping:
            return result(Outcome.DEFERRED, "the run is stopping")
        if task is not None:
            self._in_get.add(task)
        try:
            return await self._get(
                url,
                kind=kind,
                etag=etag,
                last_modified=last_modified,
                hops=hops,
                state=state,
                result=result,
                wait_until=wait_until,
            )
        except Deferred as exc:
            return result(Outcome.DEFERRED, str(exc))
        except asyncio.CancelledError:
            if self._stopping and task is not None and task.cancelling():
                task.uncancel()
                return result(Outcome.DEFERRED, "the run stopped before the answer came")
            raise
        except Exception as exc:  # a bug or a library's surprise: a row, not a crash
            log.exception("fetch of %s failed unexpectedly", url)
            return result(Outcome.ERROR, f"internal error: {exc.__class__.__name__}: {exc}"[:500])
        finally:
            if task is not None:
                self._in_get.discard(task)

    async def _get(
        self,
        url: str,
        *,
        kind: FetchKind,
        etag: str | None,
        last_modified: str | None,
        hops: list[str],
        state: dict[str, object],
        result: _ResultFn,
        wait_until: float | None,
    ) -> FetchResult:
        current = url
        seen = {url}
        # The total deadline counts the time on the wire, not the waits for
        # an origin's turn (queued is not failed).
        budget = self.settings.total_timeout
        for hop in range(self.settings.max_redirects + 1):
            try:
                current = checked(current)
            except BadURL as exc:
                return result(
                    Outcome.BLOCKED if hop else Outcome.SKIPPED, f"refused URL {current!r}: {exc}"
                )
            headers = {"Accept": ACCEPT[kind], "Accept-Encoding": "gzip, deflate, br"}
            if hop == 0 and etag:
                headers["If-None-Match"] = etag
            if hop == 0 and last_modified:
                headers["If-Modified-Since"] = last_modified
            state["final"] = current
            try:
                # The host turn first: a request waiting for its host must not
                # hold one of the global slots meanwhile.
                turn = self._turn(origin_of(current), wait_until if hop == 0 else None)
                async with turn, self._global:
                    sent = time.monotonic()
                    try:
                        async with asyncio.timeout(budget):
                            outcome = await self._request(current, headers, state, result)
                    except TimeoutError:
                        return result(
                            Outcome.ERROR,
                            f"total deadline of {self.settings.total_timeout:g}s exceeded",
                            status=state.get("status"),
                        )
                    budget -= time.monotonic() - sent
            except BlockedAddress as exc:
                return result(Outcome.BLOCKED, str(exc))
            if isinstance(outcome, FetchResult):
                return outcome
            status, location = outcome
            try:
                nxt = checked(location, base=current)
            except BadURL as exc:
                hops.append(location[:500])
                return result(
                    Outcome.BLOCKED,
                    f"refused redirect to {location[:200]!r}: {exc}",
                    status=status,
                )
            hops.append(nxt)
            # A feed moves for good only along an unbroken run of 301/308 from
            # the start; a 302 anywhere before stops the move there.
            if status in PERMANENT_REDIRECTS and state.get("moved_to", url) == current:
                state["moved_to"] = nxt
            if nxt in seen:
                return result(Outcome.ERROR, f"redirect loop at {nxt}", status=state.get("status"))
            seen.add(nxt)
            current = nxt
        return result(
            Outcome.ERROR,
            f"more than {self.settings.max_redirects} redirects",
            status=state.get("status"),
        )

    @asynccontextmanager
    async def _send(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[httpx.Response]:
        """One GET straight through the transport: no redirect handling, no
        cookies, no hooks. (The client's own redirect handling parses every
        Location before we see the response, and fails on the malformed ones
        a browser would still follow; we read them ourselves.)"""
        request = self._client.build_request("GET", url, headers=headers)
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            yield response
        finally:
            await response.aclose()

    async def _request(
        self, url: str, headers: Mapping[str, str], state: dict[str, object], result: _ResultFn
    ) -> FetchResult | tuple[int, str]:
        """One HTTP request: a final result, or a redirect's status and Location."""
        limit = self.settings.max_body_bytes
        try:
            async with self._send(url, headers) as response:
                status = response.status_code
                state["status"] = status
                kept = {k: v for k in KEPT_HEADERS if (v := response.headers.get(k)) is not None}
                if status in REDIRECT_STATUSES and response.headers.get("location"):
                    return status, response.headers["location"]
                if status == 304:
                    return result(Outcome.NOT_MODIFIED, status=status, headers=kept)
                if status >= 300 or status < 200:
                    return result(Outcome.ERROR, f"HTTP {status}", status=status, headers=kept)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    return result(
                        Outcome.ERROR,
                        f"body too large: Content-Length {declared} > {limit}",
                        status=status,
                        headers=kept,
                    )
                encoding = response.headers.get("content-encoding", "").strip().lower()
                try:
                    inflater = _Inflater(encoding, limit)
                except ValueError as exc:
                    return result(Outcome.ERROR, str(exc), status=status, headers=kept)
                body = bytearray()
                raw = 0
                async for chunk in response.aiter_raw():
                    raw += len(chunk)
                    if raw > limit:
                        raise TooLarge(f"body over {limit} bytes")
                    body += inflater.feed(chunk)
                return result(Outcome.OK, status=status, headers=kept, body=bytes(body))
        except TooLarge as exc:
            return result(Outcome.ERROR, f"body too large: {exc}", status=state.get("status"))
        except (zlib.error, brotli.error) as exc:
            return result(
                Outcome.ERROR,
                f"bad {exc.__class__.__name__} compressed body: {exc}",
                status=state.get("status"),
            )
        except httpx.ConnectError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, BlockedAddress):
                raise cause from None
            return result(Outcome.ERROR, f"connect error: {exc}", unreachable=True)
        except httpx.ConnectTimeout as exc:
            return result(Outcome.ERROR, f"ConnectTimeout: {exc or 'timed out'}", unreachable=True)
        except httpx.TimeoutException as exc:
            return result(
                Outcome.ERROR,
                f"{exc.__class__.__name__}: {exc or 'timed out'}",
                status=state.get("status"),
            )
        except httpx.HTTPError as exc:
            return result(
                Outcome.ERROR, f"{exc.__class__.__name__}: {exc}", status=state.get("status")
            )
        except httpx.InvalidURL as exc:
            return result(Outcome.BLOCKED, f"refused URL {url!r}: {exc}")


class _ResultFn(Protocol):
    def __call__(self, outcome: Outcome, error: str | None = None, **kw: object) -> FetchResult: ...
