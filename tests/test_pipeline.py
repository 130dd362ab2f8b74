"""End to end through the library stages against the loopback news site."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from tests.conftest import run_once

from ingest import explain
from ingest.demo.server import Reply, RequestInfo, SiteServer
from ingest.location import Lake
from ingest.registry import Registry, parse_registry
from ingest.settings import Settings
from ingest.store import connection, read

CONTENT_TABLES = {
    "sources": "source_id",
    "feeds": "feed_id",
    "articles": "article_id",
    "article_urls": "url",
    "sightings": "article_id, feed_id, run_id",
    "clusters": "cluster_id",
}


def snapshot(where: Path | Lake) -> dict[str, list[tuple[object, ...]]]:
    """The content tables of a warehouse (a file or a lake), in key order."""
    out = {}
    for table, key in CONTENT_TABLES.items():
        cols = [
            c
            for (c,) in read.query(
                where,
                "SELECT column_name FROM duckdb_columns() WHERE table_name = "
                f"'{table}' AND database_name = current_database() "
                "AND column_name NOT IN ('updated_at', 'last_fetched_at', 'next_fetch_at', "
                "'last_outcome', 'last_status', 'interval_minutes', 'new_per_hour', "
                "'last_new_entries') ORDER BY column_index",
            ).rows
        ]
        out[table] = read.query(where, f"SELECT {', '.join(cols)} FROM {table} ORDER BY {key}").rows
    return out


@pytest.mark.parametrize("backend", ["file", "lake"], indirect=True)
def test_contract_tables_filled(site: SiteServer, settings: Settings, registry: Registry) -> None:
    counts = run_once(settings, registry)
    expected = site.site.expected_articles()
    assert counts["articles_new"] == expected
    q = lambda sql: read.query(settings.warehouse, sql).rows  # noqa: E731
    # one row per distinct publication; every listing a sighting
    assert q("SELECT count(*) FROM articles") == [(expected,)]
    assert q("SELECT count(DISTINCT canonical_url) FROM articles") == [(expected,)]
    assert q("SELECT count(*) FROM sightings") == [(expected,)]
    # no article without body, hash, cluster, extractor; all timestamps in UTC
    assert q("""SELECT count(*) FROM articles WHERE body = '' OR content_hash IS NULL
                OR cluster_id IS NULL OR extractor IS NULL OR word_count < 100""") == [(0,)]
    assert q("SELECT count(*) FROM articles WHERE canonical_url LIKE '%utm_%'") == [(0,)]
    # the storm page's rel=canonical wins over the -amp link the feed gave
    assert q("SELECT count(*) FROM articles WHERE canonical_url LIKE '%storm-amp%'") == [(0,)]
    assert q("SELECT count(*) FROM article_urls WHERE url LIKE '%storm-amp%'") == [(1,)]
    # the Atom entry without a date got the page's date
    assert q("SELECT count(*) FROM articles WHERE published_at IS NULL") == [(0,)]
    # every article attributed to a registered source; wire copies credited
    assert q(
        "SELECT count(*) FROM articles WHERE source_id NOT IN (SELECT source_id FROM sources)"
    ) == [(0,)]
    assert q("SELECT count(*) FROM articles WHERE wire_service = 'continental-press'") == [(4,)]
    assert q("SELECT count(*) FROM clusters") == q(
        "SELECT count(DISTINCT cluster_id) FROM articles"
    )
    assert q("SELECT sum(size) FROM clusters") == [(expected,)]
    # every feed fetched, validators stored
    assert q(
        "SELECT count(*) FROM feeds WHERE etag IS NULL OR last_modified IS NULL "
        "OR last_status <> 200 OR next_fetch_at IS NULL"
    ) == [(0,)]
    assert q("SELECT count(*) FROM sources") == [(len(registry),)]
    # every HTTP attempt logged
    assert q("SELECT kind, outcome, count(*) FROM fetch_log GROUP BY ALL ORDER BY 1") == [
        ("feed", "ok", 4),
        ("page", "ok", expected),
        ("robots", "ok", 4),  # one per origin (four virtual hosts), cached for the next run
        ("tdmrep", "ok", 4),  # likewise /.well-known/tdmrep.json (a 404: no declaration)
    ]
    # what each publisher declared (demo: the wire reserves TDM, the port's paper
    # publishes under CC BY-SA), and how each row came to be
    assert q("SELECT DISTINCT source_id, reuse FROM articles ORDER BY ALL") == [
        ("continental-press", "reserved"),
        ("harbour-times", "unknown"),
        ("le-quotidien-du-port", "open"),
        ("valley-courier", "unknown"),
    ]
    assert q(
        "SELECT count(*) FROM articles WHERE provenance.found_via <> 'feed' "
        "OR provenance.found_in <> feed_id OR provenance.raw_sha256 IS NULL "
        "OR provenance.extraction NOT LIKE 'fast: %'"
    ) == [(0,)]
    # one demo row's whole history (on a lake too)
    ((wire_url,),) = q(
        "SELECT url FROM articles WHERE source_id = 'continental-press' ORDER BY url LIMIT 1"
    )
    told = explain.render(explain.explain(settings.warehouse, wire_url))
    for part in (
        "via feed ",
        ": ok HTTP 200",
        "archived ",
        "extractor trafilatura-",
        "metadata sources: ",
        "TDM declared in: meta",
        "revisions (0)",
    ):
        assert part in told, (part, told)
    ((status, counts_json),) = q("SELECT status, counts FROM runs")
    assert status == "completed"
    assert json.loads(counts_json)["articles_new"] == expected
    migrations = len(list((Path(__file__).parents[1] / "warehouse" / "migrations").glob("*.sql")))
    assert q("SELECT count(*) FROM schema_migrations") == [(migrations,)]
    # the two wire stories and their two republications each are one story,
    # whose origin is the wire
    assert q("SELECT size, origin_source_id FROM clusters WHERE size > 1") == [
        (3, "continental-press"),
        (3, "continental-press"),
    ]


@pytest.mark.parametrize("backend", ["file", "lake"], indirect=True)
def test_second_run_is_304_and_changes_nothing(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    run_once(settings, registry)
    before = snapshot(settings.warehouse)
    pages_before = len(site.requests)
    counts = run_once(settings, registry)
    assert counts["feed_not_modified"] == 4
    assert counts["articles_new"] == 0
    assert snapshot(settings.warehouse) == before
    # only the four feeds were asked for again, each conditionally
    again = site.requests[pages_before:]
    assert len(again) == 4
    assert all("if-none-match" in r.headers for r in again)


def test_rerun_without_validators_adds_sightings_not_articles(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    """A server that ignores conditional GET: articles stay, each listing is a sighting."""
    run_once(settings, registry)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("UPDATE feeds SET etag = NULL, last_modified = NULL")
    con.close()
    counts = run_once(settings, registry)
    assert counts["articles_new"] == 0
    assert counts["entries_known"] == site.site.expected_articles()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (
        site.site.expected_articles(),
    )
    assert con.execute("SELECT count(DISTINCT run_id) FROM sightings").fetchone() == (2,)
    # pages of known articles were not fetched again
    assert con.execute("SELECT count(*) FROM fetch_log WHERE kind = 'page'").fetchone() == (
        site.site.expected_articles(),
    )
    con.close()


@pytest.mark.parametrize("backend", ["file", "lake"], indirect=True)
def test_broken_feed_and_page_are_rows_not_crashes(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    broken_feed = "/broken/feed.xml"
    site.route(
        broken_feed,
        lambda _: Reply(
            200, {"Content-Type": "application/rss+xml"}, b"<rss><channel><item><title>x</ti"
        ),
    )
    site.route("/gone/feed.xml", lambda _: Reply(503, {}, b"down"))
    # one page of the Harbour Times feed answers 500 and its feed has full text:
    # the article still loads from the feed's content
    ht_paths = [p for p in site.site.resources if p.startswith("/ht/news/") and "storm" not in p]
    bad_page = ht_paths[0]
    site.route(bad_page, lambda _: Reply(500, {}, b"oops"))
    # a Valley Courier page answers 404 and its feed has only a summary
    vc_page = next(p for p in site.site.resources if p.startswith("/vc/20"))
    site.route(vc_page, lambda _: Reply(404, {}, b"nope"))
    text = (
        site.site.sources_toml()
        + f"""
[[sources]]
id = "broken"
name = "Broken"
kind = "publisher"
homepage = "{site.base_url}/broken/"
domains = ["broken.test"]
feeds = ["{site.base_url}/broken/feed.xml", "{site.base_url}/gone/feed.xml",
         "http://127.0.0.2:{site.port}/blocked/feed.xml"]
"""
    )
    import tomllib

    reg = parse_registry(tomllib.loads(text))
    counts = run_once(settings, reg)
    q = lambda sql: read.query(settings.warehouse, sql).rows  # noqa: E731
    # the good feeds loaded completely
    assert counts["feed_ok"] == 5
    assert q("SELECT count(*) FROM articles WHERE source_id <> 'broken'") == [
        (site.site.expected_articles(),)
    ]
    # the failures are rows with reasons
    rows = dict(
        q("SELECT url, outcome || ' ' || coalesce(error, '') FROM fetch_log WHERE outcome <> 'ok'")
    )
    assert rows[f"{site.base_url}/gone/feed.xml"] == "error HTTP 503"
    assert rows[f"http://127.0.0.2:{site.port}/blocked/feed.xml"].startswith("blocked")
    assert any(u.endswith(bad_page) and v == "error HTTP 500" for u, v in rows.items())
    ((extractor,),) = q(f"SELECT extractor FROM articles WHERE url LIKE '%{bad_page}'")
    assert extractor == "feed-content"
    ((vc_extractor,),) = q(f"SELECT extractor FROM articles WHERE url LIKE '%{vc_page}%'")
    assert vc_extractor == "feed-summary"
    feeds = {
        u: (n, e)
        for u, n, e in q(
            "SELECT url, consecutive_failures, last_error FROM feeds WHERE source_id = 'broken'"
        )
    }
    # a malformed feed that still parses is not a failure, but its problem is kept
    assert feeds[f"{site.base_url}/broken/feed.xml"][0] == 0
    assert feeds[f"{site.base_url}/broken/feed.xml"][1]
    assert feeds[f"{site.base_url}/gone/feed.xml"] == (1, "HTTP 503")
    assert feeds[f"http://127.0.0.2:{site.port}/blocked/feed.xml"][0] == 1
    assert q("SELECT stage FROM rejects WHERE url LIKE '%/broken/feed.xml'") == [("parse",)]
    assert q("SELECT status FROM runs") == [("completed",)]
    # nothing was ever requested from the blocked address
    assert not any(r.path.startswith("/blocked") for r in site.requests)


@pytest.mark.parametrize("backend", ["file", "lake"], indirect=True)
def test_query_is_read_only(site: SiteServer, settings: Settings, registry: Registry) -> None:
    run_once(settings, registry)
    result = read.query(settings.warehouse, "SELECT count(*) AS n FROM articles")
    assert result.columns == ["n"]
    for sql in (
        "DELETE FROM articles",
        "DROP TABLE articles",
        "INSERT INTO runs VALUES (1)",
        "SELECT 1; UPDATE articles SET title = 'x'",
        "ATTACH 'other.db'",
        "COPY articles TO 'x.csv'",
        "CREATE TABLE t AS SELECT 1",
    ):
        with pytest.raises(connection.ReadOnlyViolation, match="read-only"):
            read.query(settings.warehouse, sql)
    assert read.query(settings.warehouse, "SELECT count(*) FROM articles").rows == [
        (site.site.expected_articles(),)
    ]
    with pytest.raises(connection.WarehouseError, match="SQL error"):
        read.query(settings.warehouse, "SELEC nonsense")


def test_query_waits_for_writer_then_says_busy(settings: Settings, registry: Registry) -> None:
    import multiprocessing

    with connection.writer(settings.warehouse):
        pass
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_file, args=(str(settings.warehouse), ready, 30.0))
    proc.start()
    try:
        assert ready.wait(30)
        with pytest.raises(connection.WarehouseBusy, match=r"held by process \d+ \(python"):
            read.query(settings.warehouse, "SELECT 1", wait=0.5)
    finally:
        proc.terminate()
        proc.join()
    assert read.query(settings.warehouse, "SELECT 1", wait=5).rows == [(1,)]


def _hold_file(path: str, ready: object, seconds: float) -> None:
    import time

    con = duckdb.connect(path)
    ready.set()  # type: ignore[attr-defined]
    time.sleep(seconds)
    con.close()


def test_registry_change_keeps_feed_state(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    run_once(settings, registry)
    smaller = Registry(tuple(s for s in registry if s.source_id != "valley-courier"))
    run_once(replace(settings), smaller, accept_registry_change=True)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    rows = dict(con.execute("SELECT source_id, in_registry FROM feeds").fetchall())
    assert rows["valley-courier"] is False
    assert con.execute("SELECT count(*) FROM feeds WHERE etag IS NOT NULL").fetchone() == (4,)
    con.close()
    _ = RequestInfo


def test_revision_when_listing_and_text_change(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    from ingest.demo.site import Resource

    run_once(settings, registry)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    ((article_id, url, title, body),) = con.execute(
        "SELECT article_id, url, title, body FROM articles WHERE title LIKE 'Seagrass%'"
    ).fetchall()
    con.close()
    path = url.split(str(site.port), 1)[1]
    feed_path = "/ht/rss.xml"
    feed = site.site.resources[feed_path]
    page = site.site.resources[path]
    site.set_resource(
        feed_path,
        Resource(
            feed.body.replace(title.encode(), b"CORRECTED: " + title.encode()),
            feed.content_type,
            feed.last_modified,
        ),
    )
    site.set_resource(
        path,
        Resource(
            page.body.replace(title.encode(), b"CORRECTED: " + title.encode()).replace(
                b"Greywater Bay", b"Greywater Sound (an earlier version misstated the bay)"
            ),
            page.content_type,
            page.last_modified,
        ),
    )
    counts = run_once(settings, registry)
    assert counts["entries_changed"] == 1
    assert counts["articles_revised"] == 1
    assert counts["articles_new"] == 0
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    row = con.execute(
        "SELECT title, revision, body FROM articles WHERE article_id = ?", [article_id]
    ).fetchone()
    assert row is not None and row[0].startswith("CORRECTED") and row[1] == 1
    assert "misstated the bay" in row[2]
    rev = con.execute(
        "SELECT revision, changed, old_title, new_title, old_body FROM "
        "article_revisions WHERE article_id = ?",
        [article_id],
    ).fetchall()
    assert rev == [(1, "title,body", title, row[0], body)]
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (
        site.site.expected_articles(),
    )
    con.close()
    # a third run with nothing changed stores nothing new
    counts = run_once(settings, registry)
    assert counts["articles_revised"] == 0 and counts.get("entries_changed", 0) == 0


@pytest.mark.parametrize("backend", ["file", "lake"], indirect=True)
def test_story_views(site: SiteServer, settings: Settings, registry: Registry) -> None:
    run_once(settings, registry)
    stories = read.query(
        settings.warehouse,
        """
        SELECT members, source_count, sources, wire_service, origin_source_id
        FROM stories WHERE members > 1 ORDER BY title""",
    )
    assert [(r[0], r[1], r[3], r[4]) for r in stories.rows] == [
        (3, 3, "continental-press", "continental-press")
    ] * 2
    synd = read.query(
        settings.warehouse,
        """
        SELECT republisher, original_source, via, articles FROM syndication ORDER BY 1""",
    )
    assert synd.rows == [
        ("harbour-times", "continental-press", "wire credit", 2),
        ("valley-courier", "continental-press", "wire credit", 2),
    ]
