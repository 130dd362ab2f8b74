"""Nothing lost in ordinary operation: poison URLs, queued pages, transient
failures, the warehouse's own registry, robots.txt per RFC 9309.

Each test is named after the case it protects; all of them run against the
loopback site (or no server at all) and real DuckDB files.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import tomllib
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from tests.conftest import run_once

from ingest import pending
from ingest.demo.server import Reply, RequestInfo, SiteServer
from ingest.feeds import parse_feed
from ingest.fetch import Fetcher
from ingest.guard import AddressGuard
from ingest.records import FeedEntry, FetchKind, FetchResult, Outcome
from ingest.registry import Registry, dump_registry, load_registry, parse_registry
from ingest.robots import RobotsPolicy, record_from_fetch
from ingest.settings import Settings, default_sources_path
from ingest.store import connection, read, runs
from ingest.store import feeds as store_feeds
from ingest.urls import BadURL, canonicalize, checked

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def rows(path: Path, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------- poison URLs

HOSTILE_URLS = [
    "http://0177.0.0.1/x",
    "http://127.000.000.001/x",
    "http://\u2460\u2461\u2466.0.0.1/x",
    "\thttp://127.0.0.1/x",
    "jar:http://example.com/!x",
    "http:\\\\host\\x",
    "http://[::1",
    "http://exa mple.com/",
    "http://a..b/",
    "http://256.256.256.256/",
    "http://0x100000000/",
    "http://example.com:99999/",
    "http://%zz/",
    "http://xn--/",
    "http://\u0000/",
    "http://\ufffd\ufffd/",
    "https://ex.com/\udcff",
    "http://[::ffff:127.0.0.1]/",
    "//no-scheme.example/a",
    "http:/one-slash.example/a",
]

url_text = st.one_of(
    st.sampled_from(HOSTILE_URLS),
    st.text(max_size=60),
    st.builds(
        lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
        st.sampled_from(["http", "https", "HTTP", "jar:http", "ftp", "h\ttp"]),
        st.text(max_size=20),
        st.sampled_from(["", ":80", ":0", ":65536", ":x", ":"]),
        st.text(max_size=20),
    ),
)


@given(url_text)
@example("http://0177.0.0.1/x")
@hsettings(max_examples=400, deadline=None)
def test_any_url_string_is_refused_or_becomes_a_url_the_client_accepts(raw: str) -> None:
    """One validation for every link: BadURL, or an http(s) URL that httpx
    accepts, whose canonical form is stable."""
    try:
        url = checked(raw)
    except BadURL:
        url = None
    if url is not None:
        parsed = httpx.URL(url)
        assert parsed.scheme in ("http", "https") and parsed.host
    try:
        canonical = canonicalize(raw)
    except BadURL:
        return
    assert canonicalize(canonical) == canonical
    httpx.URL(canonical)


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        ("http://0177.0.0.1/x", "127.0.0.1"),
        ("http://127.000.000.001/x", "127.0.0.1"),
        ("http://\u2460\u2461\u2466.0.0.1/x", "127.0.0.1"),
        ("\thttp://127.0.0.1/x", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
    ],
)
def test_every_spelling_of_an_address_is_read_as_that_address(raw: str, address: str) -> None:
    # the guard then sees the address that would be connected to
    assert httpx.URL(canonicalize(raw)).host == address


class _LoopbackGuard(AddressGuard):
    """Resolves every name to 127.0.0.2, which the guard refuses: nothing
    ever leaves the machine, whatever host a generated URL names."""

    async def addresses(self, host: str, port: int) -> list[str]:
        return await super().addresses("127.0.0.2", port)


@given(st.lists(url_text, min_size=1, max_size=8))
@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_fetcher_never_raises_on_hostile_urls(urls: list[str]) -> None:
    async def go() -> list[FetchResult]:
        async with Fetcher(replace(Settings(), total_timeout=2, connect_timeout=1)) as f:
            f.guard = _LoopbackGuard()  # read when the first connection pool is made
            return await asyncio.gather(*(f.get(u, FetchKind.PAGE) for u in urls))

    for res in asyncio.run(go()):
        assert res.outcome in (Outcome.BLOCKED, Outcome.SKIPPED, Outcome.ERROR)
        assert res.error


@given(st.lists(url_text, max_size=12))
@hsettings(max_examples=100, deadline=None)
def test_a_feed_of_hostile_links_parses_and_lists_every_refusal(links: list[str]) -> None:
    from xml.sax.saxutils import escape

    items = "".join(
        f"<item><title>t{i}</title><link>{escape(u)}</link></item>" for i, u in enumerate(links)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'
    )
    parsed = parse_feed(
        body.encode("utf-8", "surrogatepass"),
        {"content-type": "application/rss+xml"},
        feed_id="f",
        source_id="s",
        base_url="https://news.example.com/feed",
        max_items=500,
        now=NOW,
    )
    assert parsed.counts.get("entry_bad_link", 0) == len(parsed.bad_links)


# --------------------------------------------------------------------------- robots.txt


def _robots(body: str) -> RobotsPolicy:
    res = FetchResult(
        "https://example.com/robots.txt",
        FetchKind.ROBOTS,
        Outcome.OK,
        NOW,
        status=200,
        body=body.encode(),
    )
    return RobotsPolicy(record_from_fetch("https://example.com", res, timedelta(hours=24)), "x/1")


def _allowed(policy: RobotsPolicy, path: str, agent: str) -> bool:
    policy.token = agent
    return policy.allowed("https://example.com" + path)[0]


def test_robots_rfc9309_simple_example() -> None:
    """RFC 9309, 5.1: groups per user agent, a merged group, an empty group."""
    policy = _robots(
        "User-Agent: *\nDisallow: *.gif$\nDisallow: /example/\nAllow: /publications/\n\n"
        "User-Agent: foobot\nDisallow:/\nAllow:/example/page.html\nAllow:/example/allowed.gif\n\n"
        "User-Agent: barbot\nUser-Agent: bazbot\nDisallow: /example/page.html\n\n"
        "User-Agent: quxbot\n"
    )
    expect = {
        ("foobot", "/example/page.html"): True,
        ("foobot", "/example/allowed.gif"): True,
        ("foobot", "/example/other.html"): False,
        ("foobot", "/"): False,
        ("barbot", "/example/page.html"): False,
        ("bazbot", "/example/page.html"): False,
        ("barbot", "/example/other.html"): True,
        ("quxbot", "/example/page.html"): True,  # an empty group allows all
        ("otherbot", "/example/x.html"): False,
        ("otherbot", "/pic.gif"): False,  # *.gif$
        ("otherbot", "/pic.gif?x=1"): True,  # $ anchors the end
        ("otherbot", "/publications/a"): True,
    }
    for (agent, path), allowed in expect.items():
        assert _allowed(policy, path, agent) is allowed, (agent, path)


def test_robots_rfc9309_longest_match() -> None:
    """RFC 9309, 5.2: the most specific (longest) rule wins."""
    policy = _robots(
        "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n"
    )
    assert _allowed(policy, "/example/page/", "foobot")
    assert _allowed(policy, "/example/page/a.html", "foobot")
    assert not _allowed(policy, "/example/page/disallowed.gif", "foobot")


def test_robots_wildcards_and_order_do_not_matter() -> None:
    policy = _robots(
        "User-agent: *\nDisallow: /search*\nAllow: /news/\nDisallow: /news/private/\n"
        "Disallow: /*.pdf$\n"
    )
    assert not _allowed(policy, "/search/abc", "news-ingest")
    assert not _allowed(policy, "/news/private/a", "news-ingest")
    assert _allowed(policy, "/news/a", "news-ingest")
    assert not _allowed(policy, "/files/a.pdf", "news-ingest")
    assert _allowed(policy, "/files/a.pdf.html", "news-ingest")
    # Allow wins a tie of equal length (RFC 9309 2.2.2)
    tie = _robots("User-agent: *\nDisallow: /page\nAllow: /page\n")
    assert _allowed(tie, "/page", "news-ingest")


def test_robots_404_means_no_rules_and_is_not_an_error_row(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    site.route("/robots.txt", lambda _: Reply(404, {"Content-Type": "text/html"}, b"no"))
    run_once(settings, registry)
    got = rows(settings.warehouse, "SELECT outcome, status FROM fetch_log WHERE kind = 'robots'")
    assert got and all(row == ("ok", 404) for row in got), got
    assert (
        rows(settings.warehouse, "SELECT count(*) FROM articles WHERE body_status = 'page'")[0][0]
        == site.site.expected_articles()
    )
    assert rows(settings.warehouse, "SELECT DISTINCT outcome FROM robots") == [("missing",)]


# --------------------------------------------------------------------------- page failures


def _wire_copy(site: SiteServer) -> tuple[str, str]:
    """(path, original path) of a story one site republishes from the wire,
    on a site whose feed carries summaries only (not the full text)."""
    story = next(
        s for s in site.site.stories if s.syndicated_from is not None and s.site != "harbour-times"
    )
    original = next(s for s in site.site.stories if s.key == story.syndicated_from)
    return story.path, original.path


def test_a_page_answering_503_twice_then_200_ends_with_its_body_and_one_revision(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    path, original = _wire_copy(site)
    resource = site.site.resources[path]
    answers = itertools.chain([503, 503], itertools.repeat(200))

    def flaky(_: RequestInfo) -> Reply:
        code = next(answers)
        if code != 200:
            return Reply(code, {"Content-Type": "text/html"}, b"busy")
        return Reply(200, {"Content-Type": resource.content_type}, resource.body)

    site.route(path, flaky)
    settings = replace(settings, page_retry_minutes=0.0)  # retries due at once
    url_like = f"%{path}"
    q = (
        "SELECT a.body_status, a.word_count, a.revision, a.extractor, a.cluster_id, "
        "(SELECT cluster_id FROM articles WHERE url LIKE ?) "
        "FROM articles a WHERE a.url LIKE ?"
    )

    run_once(settings, registry)
    ((status, words, revision, extractor, cluster, wire_cluster),) = rows(
        settings.warehouse, q, [f"%{original}", url_like]
    )
    assert status == "provisional" and revision == 0 and extractor.startswith("feed-")
    assert cluster != wire_cluster  # a feed summary is no copy of the wire's text
    ((kind, attempts),) = rows(settings.warehouse, "SELECT kind, attempts FROM pending_pages")
    assert (kind, attempts) == ("retry", 1)

    run_once(settings, registry)  # 503 again: still provisional, one more attempt
    assert rows(settings.warehouse, "SELECT attempts FROM pending_pages") == [(2,)]
    assert rows(settings.warehouse, q, [f"%{original}", url_like])[0][:3] == (
        "provisional",
        words,
        0,
    )

    run_once(settings, registry)  # 200: the page's body, in place, with one revision
    ((status, words_after, revision, extractor, cluster, wire_cluster),) = rows(
        settings.warehouse, q, [f"%{original}", url_like]
    )
    assert status == "page" and revision == 1 and extractor.startswith("trafilatura")
    assert words_after > words
    assert cluster == wire_cluster  # placed in the wire story's cluster again
    assert rows(settings.warehouse, "SELECT count(*) FROM pending_pages") == [(0,)]
    ((changed, fields),) = rows(
        settings.warehouse,
        "SELECT r.changed, r.fields FROM article_revisions r JOIN articles a USING (article_id) "
        "WHERE a.url LIKE ?",
        [url_like],
    )
    assert "body" in changed and "body_status" in changed
    assert fields["body_status"] == {"old": "provisional", "new": "page"}
    # the whole site ends as a run without failures would have made it
    assert rows(settings.warehouse, "SELECT count(*) FROM articles") == [
        (site.site.expected_articles(),)
    ]


def test_permanent_page_failures_make_the_feed_text_final_at_once(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    path, _ = _wire_copy(site)
    site.route(path, lambda _: Reply(404, {"Content-Type": "text/html"}, b"gone"))
    run_once(settings, registry)
    ((status, reason),) = rows(
        settings.warehouse,
        "SELECT body_status, body_reason FROM articles WHERE url LIKE ?",
        [f"%{path}"],
    )
    assert status == "feed-final" and "404" in reason
    assert rows(settings.warehouse, "SELECT count(*) FROM pending_pages") == [(0,)]


def test_transient_failures_give_up_only_after_the_retry_window() -> None:
    policy = pending.RetryPolicy()
    entry = FeedEntry(
        "f", "s", "https://x/a", "https://x/a", None, None, None, None, None, None, None
    )
    first = pending.retry(entry, NOW, "HTTP 503", policy)
    assert first.attempts == 1 and first.next_attempt_at == NOW + timedelta(minutes=15)
    waiting = replace(entry, queued_at=NOW, attempts=5)
    assert not pending.gave_up(waiting, NOW + timedelta(hours=30), policy)
    assert pending.gave_up(waiting, NOW + timedelta(hours=37), policy)
    assert not pending.gave_up(replace(waiting, attempts=1), NOW + timedelta(hours=48), policy)
    capped = pending.retry(replace(waiting, attempts=20), NOW, "x", policy)
    assert capped.next_attempt_at - NOW == timedelta(hours=6)


def test_queued_links_are_fetched_by_the_next_runs_never_timed_out(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    """A small version of the budget case: one origin behind a Crawl-delay and
    a slow page, a budget far too small for all of its links."""
    host = "www.harbour-times.test"
    site.route("/robots.txt", lambda r: Reply(200, {}, b"User-agent: *\nCrawl-delay: 0.3\n"))
    slow_path = next(s.path for s in site.site.stories if s.site == "harbour-times")
    resource = site.site.resources[slow_path]

    def slow(_: RequestInfo) -> Reply:
        time.sleep(1.5)
        return Reply(200, {"Content-Type": resource.content_type}, resource.body)

    site.route(slow_path, slow)
    settings = replace(settings, page_budget_seconds=1.0, total_timeout=5.0)
    seen: list[Counter[str]] = []
    for _ in range(20):
        seen.append(run_once(settings, registry))
        if rows(settings.warehouse, "SELECT count(*) FROM pending_pages") == [(0,)]:
            break
    assert seen[0]["pages_deferred"] > 0  # the first run could not get to them all
    assert any(c["pending_fetched"] for c in seen[1:])
    assert rows(settings.warehouse, "SELECT count(*) FROM pending_pages") == [(0,)]
    n = site.site.expected_articles()
    assert rows(settings.warehouse, "SELECT count(*) FROM articles") == [(n,)]
    assert rows(
        settings.warehouse,
        "SELECT count(*) FROM articles WHERE body_status <> 'page' AND url LIKE ?",
        [f"%{host}%"],
    ) == [(0,)]
    assert rows(
        settings.warehouse, "SELECT count(*) FROM fetch_log WHERE error LIKE '%deadline%'"
    ) == [(0,)]
    # each page was requested once: deferring never sent a request
    paths = Counter(
        r.path for r in site.requests if r.host == host and r.path.startswith("/ht/news")
    )
    assert paths and max(paths.values()) == 1


# --------------------------------------------------------------------------- registry


def test_the_warehouse_remembers_its_registry(
    site: SiteServer, settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    own = tmp_path / "demo-sources.toml"
    own.write_text(site.site.sources_toml(), encoding="utf-8")
    run_once(settings, load_registry(own))
    before = rows(settings.warehouse, "SELECT * FROM sources ORDER BY source_id")
    credits = rows(
        settings.warehouse, "SELECT count(*) FROM articles WHERE wire_service IS NOT NULL"
    )
    # the shipped registry (another file, without the demo's sources): refused, nothing changed
    with pytest.raises(store_feeds.RegistryChangeRefused) as refused:
        run_once(settings, load_registry(default_sources_path()))
    message = str(refused.value)
    assert "last synced with" in message and "--accept-registry-change" in message
    assert "continental-press" in message  # the wire whose credits stored articles use
    assert rows(settings.warehouse, "SELECT * FROM sources ORDER BY source_id") == before
    assert rows(settings.warehouse, "SELECT count(*) FROM feeds") == [(len(before),)]
    # editing your own registry: adding a source and a feed syncs as before
    data = tomllib.loads(own.read_text(encoding="utf-8"))
    data["sources"].append(
        {
            "id": "new-outlet",
            "name": "New Outlet",
            "kind": "publisher",
            "homepage": "https://new-outlet.example.org/",
            "domains": ["new-outlet.example.org"],
            "feeds": ["https://new-outlet.example.org/rss"],
        }
    )
    own.write_text(dump_registry(parse_registry(data).sources), encoding="utf-8")
    with connection.writer(settings.warehouse) as con:
        store_feeds.sync_registry(con, load_registry(own), NOW)
    # dropping a wire's credit that stored articles carry: refused
    wire = next(s for s in data["sources"] if s["kind"] == "wire")
    wire["credits"] = wire["credits"][1:]
    own.write_text(dump_registry(parse_registry(data).sources), encoding="utf-8")
    with pytest.raises(store_feeds.RegistryChangeRefused, match="lose credit"):
        run_once(settings, load_registry(own))
    # unless it is meant; every sync is recorded with the file's hash
    run_once(settings, load_registry(own), accept_registry_change=True)
    syncs = rows(settings.warehouse, "SELECT path, sha256, accepted FROM registry_syncs")
    assert len({s for _, s, _ in syncs}) == 3 and syncs[-1][2]
    assert (
        rows(settings.warehouse, "SELECT count(*) FROM articles WHERE wire_service IS NOT NULL")
        == credits
    )


def test_no_command_clears_a_field_without_a_revision_row(
    site: SiteServer, settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    import tomllib as toml

    from flows.reprocess import reprocess
    from prefect.testing.utilities import prefect_test_harness

    own = tmp_path / "demo-sources.toml"
    own.write_text(site.site.sources_toml(), encoding="utf-8")
    run_once(settings, load_registry(own))
    credited = rows(
        settings.warehouse, "SELECT article_id FROM articles WHERE wire_service IS NOT NULL"
    )
    assert credited
    # the wire leaves the registry on purpose: reprocessing clears its credits,
    # each with a revision that keeps the old value
    data = toml.loads(own.read_text(encoding="utf-8"))
    data["sources"] = [s for s in data["sources"] if s["kind"] != "wire"]
    smaller = tmp_path / "no-wire.toml"
    smaller.write_text(dump_registry(parse_registry(data).sources), encoding="utf-8")
    with prefect_test_harness(server_startup_timeout=120):
        with pytest.raises(store_feeds.RegistryChangeRefused):
            asyncio.run(reprocess(warehouse=str(settings.warehouse), sources=str(smaller)))
        counts = asyncio.run(
            reprocess(
                warehouse=str(settings.warehouse),
                sources=str(smaller),
                accept_registry_change=True,
            )
        )
    assert counts["reprocess_changed"] >= len(credited)
    cleared = rows(
        settings.warehouse,
        "SELECT count(*) FROM article_revisions WHERE fields['wire_service'].old IS NOT NULL "
        "AND fields['wire_service'].new IS NULL",
    )
    assert cleared == [(len(credited),)]
    assert rows(
        settings.warehouse, "SELECT count(*) FROM articles WHERE wire_service IS NOT NULL"
    ) == [(0,)]


# --------------------------------------------------------------------------- runs


def test_a_run_without_heartbeat_is_marked_abandoned_by_the_next(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    run_once(settings, registry)
    with connection.writer(settings.warehouse) as con:
        runs.record_start(con, "dead", "ingest_feeds", NOW - timedelta(hours=1), "elsewhere:1")
        runs.record_start(con, "alive", "ingest_feeds", datetime.now(UTC), "elsewhere:2")
    run_once(settings, registry)
    got = dict(rows(settings.warehouse, "SELECT run_id, status FROM runs"))
    assert got["dead"] == "abandoned"
    assert got["alive"] == "running"  # another machine's live run is left alone
    (reason,) = rows(settings.warehouse, "SELECT reason FROM runs WHERE run_id = 'dead'")[0]
    assert "no heartbeat" in reason


def test_query_reads_the_warehouse_and_nothing_else(
    site: SiteServer, settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    run_once(settings, registry)
    wh = settings.warehouse
    log = tmp_path / "x.csv"
    for sql in (
        f"CALL enable_logging('QueryLog', storage='file', storage_path='{log}')",
        f"SELECT * FROM enable_logging('QueryLog', storage='file', storage_path='{log}')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SET enable_external_access = true",
        f"COPY articles TO '{tmp_path / 'out.csv'}'",
        f"ATTACH '{tmp_path / 'other.duckdb'}'",
        "INSTALL httpfs",
    ):
        with pytest.raises(connection.WarehouseError, match="refused"):
            read.query(wh, sql)
    assert not log.exists() and not (tmp_path / "out.csv").exists()
    assert read.query(wh, "SUMMARIZE articles").rows
    assert read.query(wh, "FROM stories LIMIT 1").columns
    # --allow-files: local files may be read (the staged batches, say)
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    allowed = read.ReadLimits(allow_files=True)
    assert read.query(wh, f"SELECT * FROM read_csv('{data}')", limits=allowed).rows == [(1,)]
    with pytest.raises(connection.WarehouseError, match="refused"):
        read.query(wh, f"COPY articles TO '{tmp_path / 'o.csv'}'", limits=allowed)
    # a bound on time: a long query is stopped
    with pytest.raises(read.QueryTimeout):
        read.query(
            wh,
            "SELECT count(*) FROM range(100000000000) a",
            limits=read.ReadLimits(timeout_seconds=0.5),
        )
    # and the warehouse is free again at once for a writer
    with connection.writer(wh, wait=1.0):
        pass


# --------------------------------------------------------------------------- the budget case

BULK_HOST = "www.bulk-news.test"
WORDS = [
    "harbour",
    "council",
    "budget",
    "river",
    "storm",
    "school",
    "rail",
    "bridge",
    "market",
    "festival",
    "museum",
    "court",
    "minister",
    "village",
    "farmers",
    "election",
    "hospital",
    "airport",
    "forest",
    "energy",
    "water",
    "police",
    "library",
    "stadium",
    "coast",
]


def _bulk_article(n: int) -> bytes:
    rng = random.Random(n)
    paras = "".join(
        "<p>" + " ".join(rng.choice(WORDS) for _ in range(60)) + f" ({n}.{i})</p>"
        for i in range(12)
    )
    return (
        f"<!doctype html><html lang='en'><head><title>Bulk story {n}</title></head><body>"
        f"<article><h1>Bulk story {n}</h1>{paras}</article></body></html>"
    ).encode()


@pytest.mark.slow
def test_one_origin_with_120_links_behind_crawl_delay_gets_every_page_over_runs(
    site: SiteServer, settings: Settings, tmp_path: Path
) -> None:
    """The issue's case: a big publisher's first poll, 120 new links behind
    `Crawl-delay: 1`, one slow page, and a run budget far too small. After as
    many runs as the budget needs every body is the page's, nothing waiting
    for its turn was logged as a timeout, and each run says what it carried."""
    n = 120
    base = site.url("/bulk", host=BULK_HOST)
    items = "".join(
        f"<item><title>Bulk story {i}</title><link>{base}/a/{i}</link>"
        f"<description>Short summary of bulk story {i}.</description></item>"
        for i in range(n)
    )
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Bulk</title>'
        f"{items}</channel></rss>"
    )

    def robots(req: RequestInfo) -> Reply:
        if req.host == BULK_HOST:
            return Reply(200, {}, b"User-agent: *\nCrawl-delay: 1\n")
        return Reply(404, {}, b"")

    site.route("/robots.txt", robots)
    site.route(
        "/bulk/feed.xml",
        lambda _: Reply(200, {"Content-Type": "application/rss+xml"}, feed.encode()),
    )
    for i in range(n):

        def page(_: RequestInfo, i: int = i) -> Reply:
            if i == 7:
                time.sleep(2.5)  # a slow page holds one of the origin's two slots
            return Reply(200, {"Content-Type": "text/html"}, _bulk_article(i))

        site.route(f"/bulk/a/{i}", page)
    registry = parse_registry(
        tomllib.loads(
            '[[sources]]\nid = "bulk"\nname = "Bulk News"\nkind = "publisher"\n'
            f'homepage = "{base}/"\ndomains = ["bulk-news.test"]\nfeeds = ["{base}/feed.xml"]\n'
        )
    )
    settings = replace(
        settings,
        resolve={BULK_HOST: "127.0.0.1"},
        host_gap_seconds=0.2,
        per_host_connections=2,
        page_budget_seconds=25.0,
        total_timeout=4.0,
    )
    runs: list[Counter[str]] = []
    for _ in range(12):
        runs.append(run_once(settings, registry))
        if rows(settings.warehouse, "SELECT count(*) FROM pending_pages") == [(0,)]:
            break
    assert len(runs) >= 3, "the budget should not have covered every page in one run"
    assert runs[0]["pages_deferred"] > 0
    assert all(r["pending_fetched"] > 0 for r in runs[1:])
    assert rows(settings.warehouse, "SELECT count(*), min(word_count) FROM articles")[0][0] == n
    assert rows(
        settings.warehouse, "SELECT count(*) FROM articles WHERE body_status <> 'page'"
    ) == [(0,)]
    assert rows(
        settings.warehouse,
        "SELECT count(*) FROM fetch_log WHERE kind = 'page' AND outcome <> 'ok'",
    ) == [(0,)]
    # what each run carried over is in its counts
    counts = [
        json.loads(c)
        for (c,) in rows(settings.warehouse, "SELECT counts FROM runs ORDER BY started_at")
    ]
    assert counts[0]["pages_deferred"] > 0 and counts[0]["pending_written"] > 0
    # every link the first run could not get to left the queue exactly once
    assert sum(c.get("pending_cleared", 0) for c in counts) == n - runs[0]["page_ok"]
    pages = Counter(r.path for r in site.requests if r.path.startswith("/bulk/a/"))
    assert len(pages) == n and max(pages.values()) == 1
