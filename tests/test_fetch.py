"""The fetcher against a real loopback server: outcomes, caps, redirects, guard."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from dataclasses import replace

import brotli
import pytest

from ingest.demo.server import Reply, RequestInfo, SiteServer
from ingest.fetch import Fetcher
from ingest.records import FetchKind, FetchResult, Outcome
from ingest.settings import Settings


def get(settings: Settings, url: str, **kw: str) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(settings) as f:
            return await f.get(url, FetchKind.PAGE, **kw)

    return asyncio.run(go())


def test_ok_then_conditional_304(site: SiteServer, settings: Settings) -> None:
    url = site.site.sources[0].feed_url
    first = get(settings, url)
    assert first.outcome is Outcome.OK and first.status == 200 and first.body
    assert first.headers["etag"] and first.headers["last-modified"]
    again = get(settings, url, etag=first.headers["etag"])
    assert again.outcome is Outcome.NOT_MODIFIED and again.status == 304 and not again.body
    by_date = get(settings, url, last_modified=first.headers["last-modified"])
    assert by_date.outcome is Outcome.NOT_MODIFIED
    ua = site.requests[-1].headers.get("user-agent") or ""
    assert ua.startswith("news-ingest/")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "br"])
def test_compressed_bodies_decoded(site: SiteServer, settings: Settings, encoding: str) -> None:
    body = b"<p>hello</p>" * 1000
    packed = {
        "gzip": gzip.compress(body),
        "deflate": zlib.compress(body),
        "raw-deflate": zlib.compress(body)[2:-4],
        "br": brotli.compress(body),
    }[encoding]
    header = "deflate" if encoding == "raw-deflate" else encoding
    site.route("/c", lambda _: Reply(200, {"Content-Encoding": header}, packed))
    res = get(settings, f"{site.base_url}/c")
    assert res.outcome is Outcome.OK
    assert res.body == body


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compression_bomb_stops_at_cap(site: SiteServer, settings: Settings, encoding: str) -> None:
    inflated = b"\0" * (64 * 1024 * 1024)  # 64 MiB of zeros, a few hundred KiB packed
    packed = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[encoding](
        inflated
    )
    assert len(packed) < 1024 * 1024
    site.route("/bomb", lambda _: Reply(200, {"Content-Encoding": encoding}, packed))
    res = get(replace(settings, max_body_bytes=1024 * 1024), f"{site.base_url}/bomb")
    assert res.outcome is Outcome.ERROR
    assert "too large" in (res.error or "")
    assert not res.body


def test_body_over_cap(site: SiteServer, settings: Settings) -> None:
    site.route("/big", lambda _: Reply(200, {}, b"x" * 300_000))
    res = get(replace(settings, max_body_bytes=100_000), f"{site.base_url}/big")
    assert res.outcome is Outcome.ERROR and "too large" in (res.error or "")


def test_redirects_followed_and_limited(site: SiteServer, settings: Settings) -> None:
    feed_path = site.site.sources[0].feed_url.split(str(site.port), 1)[1]
    site.route("/moved", lambda _: Reply(301, {"Location": feed_path}))
    res = get(settings, f"{site.base_url}/moved")
    assert res.outcome is Outcome.OK and res.final_url and res.final_url.endswith(feed_path)
    assert len(res.redirects) == 1
    site.route("/loop-a", lambda _: Reply(302, {"Location": "/loop-b"}))
    site.route("/loop-b", lambda _: Reply(302, {"Location": "/loop-a"}))
    loop = get(settings, f"{site.base_url}/loop-a")
    assert loop.outcome is Outcome.ERROR and "redirect loop" in (loop.error or "")
    for i in range(10):
        site.route(f"/chain/{i}", lambda _, i=i: Reply(302, {"Location": f"/chain/{i + 1}"}))
    chain = get(settings, f"{site.base_url}/chain/0")
    assert chain.outcome is Outcome.ERROR and "more than 5 redirects" in (chain.error or "")


def test_redirect_to_blocked_address(site: SiteServer, settings: Settings) -> None:
    for target in (
        f"http://127.0.0.2:{site.port}/x",
        f"http://2130706434:{site.port}/x",
        f"http://[::ffff:127.0.0.2]:{site.port}/x",
        f"http://0x7f000002:{site.port}/x",
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::1]:{site.port}/x",
    ):
        site.route("/evil", lambda _, t=target: Reply(302, {"Location": t}))
        res = get(settings, f"{site.base_url}/evil")
        assert res.outcome is Outcome.BLOCKED, target
        assert "blocked" in (res.error or ""), target
    assert site.count("/x") == 0


def test_redirect_to_other_scheme_refused(site: SiteServer, settings: Settings) -> None:
    site.route("/to-file", lambda _: Reply(302, {"Location": "file:///etc/passwd"}))
    res = get(settings, f"{site.base_url}/to-file")
    assert res.outcome is Outcome.BLOCKED and "not http(s)" in (res.error or "")


def test_nothing_private_without_allow_list(site: SiteServer, settings: Settings) -> None:
    res = get(replace(settings, allow_private_hosts=()), f"{site.base_url}/")
    assert res.outcome is Outcome.BLOCKED
    assert site.requests == []


def test_slow_server_hits_total_deadline(site: SiteServer, settings: Settings) -> None:
    def slow(_: RequestInfo) -> Reply:
        time.sleep(3)
        return Reply(200, {}, b"late")

    site.route("/slow", slow)
    started = time.monotonic()
    res = get(replace(settings, total_timeout=1.0, read_timeout=30.0), f"{site.base_url}/slow")
    assert time.monotonic() - started < 2.5
    assert res.outcome is Outcome.ERROR and "deadline" in (res.error or "")


def test_connection_refused_is_an_error_row(settings: Settings) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = get(settings, f"http://127.0.0.1:{port}/")
    assert res.outcome is Outcome.ERROR and "connect" in (res.error or "").lower()


def test_per_host_limit(site: SiteServer, settings: Settings) -> None:
    active = 0
    peak = 0

    def counted(_: RequestInfo) -> Reply:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        time.sleep(0.2)
        active -= 1
        return Reply(200, {}, b"ok")

    site.route("/c", counted)

    async def go() -> list[FetchResult]:
        async with Fetcher(settings) as f:
            return list(
                await asyncio.gather(
                    *(f.get(f"{site.base_url}/c?i={i}", FetchKind.PAGE) for i in range(6))
                )
            )

    assert all(r.ok for r in asyncio.run(go()))
    assert peak <= settings.per_host_connections


def test_min_gap_and_crawl_delay_per_origin(site: SiteServer, settings: Settings) -> None:
    """Request starts to one origin are spaced by the gap (raised to the
    Crawl-delay). Measured over the span of several requests with room for
    a busy machine: the server may note a request late (never early), so a
    single pair of stamps can look closer than the fetcher spaced them."""
    starts: list[float] = []

    def stamp(_: RequestInfo) -> Reply:
        starts.append(time.monotonic())
        return Reply(200, {}, b"ok")

    site.route("/g", stamp)

    async def go(gap: float, delay: float | None) -> float:
        async with Fetcher(replace(settings, host_gap_seconds=gap)) as f:
            if delay is not None:
                f.set_crawl_delay(site.base_url, delay)
            began = time.monotonic()
            await asyncio.gather(
                *(f.get(f"{site.base_url}/g?i={i}", FetchKind.PAGE) for i in range(5))
            )
            return time.monotonic() - began

    took = asyncio.run(go(0.3, None))
    # 5 starts 0.3 s apart: the last one at least 1.2 s after the first
    assert starts[-1] - starts[0] >= 4 * 0.3 * 0.9, starts
    assert took >= 4 * 0.3
    starts.clear()
    took = asyncio.run(go(0.0, 0.4))  # robots.txt Crawl-delay raises the gap
    assert starts[-1] - starts[0] >= 4 * 0.4 * 0.9, starts
    assert took >= 4 * 0.4
