"""Backfills and reprocessing against the loopback site, through real Prefect runs.

Sitemaps (an index, a news sitemap, a gzipped plain one, an old one that must
never be fetched), an RFC 5005 archive chain, a URL list and a WARC file the
test writes itself; date bounds; resume after kill -9; a backfill beside a
scheduled run; reprocess after an extractor change.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from flows.backfill import backfill
from flows.reprocess import reprocess
from prefect.testing.utilities import prefect_test_harness
from tests.conftest import run_once

from ingest.backfill import parse_sitemap
from ingest.demo.runner import demo_environment
from ingest.demo.server import Reply, SiteServer
from ingest.demo.site import NewsSite
from ingest.registry import Registry, dump_registry, parse_registry
from ingest.store import connection, read

SINCE, UNTIL = "2026-03-10", "2026-03-12"
START = datetime(2026, 3, 10, tzinfo=UTC)
END = datetime(2026, 3, 13, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


def stories(site: NewsSite, site_id: str) -> list[tuple[str, datetime, str]]:
    """(absolute URL, published, title) of a demo site's own stories."""
    info = site.site(site_id)
    return [
        (site.url(info, s.path), s.published.astimezone(UTC), s.title)
        for s in site.stories
        if s.site == site_id
    ]


def add_history(server: SiteServer) -> Registry:
    """Sitemaps for The Harbour Times and Valley Courier, an archive chain for
    Continental Press; returns the registry that points at them."""
    site = server.site
    ht = server.url("/sitemaps/index.xml", host="www.harbour-times.test")
    news = "".join(
        f"<url><loc>{u}</loc><news:news><news:publication_date>{d.isoformat()}"
        f"</news:publication_date><news:title>{t}</news:title></news:news></url>"
        for u, d, t in stories(site, "harbour-times")
    )
    plain = "".join(
        f"<url><loc>{u}</loc><lastmod>{d.date().isoformat()}</lastmod></url>"
        for u, d, _ in stories(site, "valley-courier")
    )
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    server.route(
        "/sitemaps/index.xml",
        lambda _: Reply(
            200,
            {"Content-Type": "application/xml"},
            (
                f'<?xml version="1.0"?><sitemapindex {ns}>'
                f"<sitemap><loc>/sitemaps/news.xml</loc><lastmod>2026-03-13</lastmod></sitemap>"
                f"<sitemap><loc>/sitemaps/old.xml</loc><lastmod>2020-01-01</lastmod></sitemap>"
                f"</sitemapindex>"
            ).encode(),
        ),
    )
    server.route(
        "/sitemaps/news.xml",
        lambda _: Reply(
            200,
            {"Content-Type": "application/xml"},
            (
                f'<?xml version="1.0"?><urlset {ns} '
                f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{news}</urlset>'
            ).encode(),
        ),
    )
    server.route("/sitemaps/old.xml", lambda _: Reply(200, {}, b"<urlset/>"))
    vc = server.url("/sitemaps/vc.xml.gz", host="www.valley-courier.test")
    server.route(
        "/sitemaps/vc.xml.gz",
        lambda _: Reply(
            200,
            {"Content-Type": "application/x-gzip"},
            gzip.compress(f'<?xml version="1.0"?><urlset {ns}>{plain}</urlset>'.encode()),
        ),
    )
    # RFC 5005: current page -> prev-archive -> older archive page (out of range)
    cp = stories(site, "continental-press")
    host = "www.continental-press.test"

    def page(items: list[tuple[str, datetime, str]], prev: str | None) -> bytes:
        link = f'<link rel="prev-archive" href="{server.url(prev, host=host)}"/>' if prev else ""
        entries = "".join(
            f'<entry><title>{t}</title><id>{u}</id><link href="{u}"/>'
            f"<published>{d.isoformat()}</published><updated>{d.isoformat()}</updated></entry>"
            for u, d, t in items
        )
        return (
            f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>CP</title>'
            f"<id>urn:cp</id><updated>2026-03-13T00:00:00Z</updated>{link}{entries}</feed>"
        ).encode()

    newest = max(cp, key=lambda s: s[1])
    older = [s for s in cp if s is not newest]
    ancient = [
        (server.url("/cp/2019/never-fetch", host=host), datetime(2019, 5, 1, tzinfo=UTC), "Ancient")
    ]
    server.route(
        "/cp-archive/current.xml", lambda _: Reply(200, {}, page([newest], "/cp-archive/2"))
    )
    server.route("/cp-archive/2", lambda _: Reply(200, {}, page(older, "/cp-archive/1")))
    server.route("/cp-archive/1", lambda _: Reply(200, {}, page(ancient, None)))
    reg = parse_registry(tomllib.loads(site.sources_toml()))
    changes = {
        "harbour-times": {"sitemaps": (ht,)},
        "valley-courier": {"sitemaps": (vc,)},
        "continental-press": {"feeds": (server.url("/cp-archive/current.xml", host=host),)},
    }
    sources = [replace(src, **changes.get(src.source_id, {})) for src in reg]  # type: ignore[arg-type]
    return Registry(tuple(sources))


@pytest.fixture
def history(
    site: SiteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Registry]:
    for key, value in demo_environment([*site.site.hosts]).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("INGEST_HOST_GAP", "0")
    reg = add_history(site)
    path = tmp_path / "sources.toml"
    path.write_text(dump_registry(reg.sources), encoding="utf-8")
    return path, reg


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_parse_sitemap_forms() -> None:
    pages, children = parse_sitemap(
        gzip.compress(
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            b"<url><loc>https://x.example/a</loc><lastmod>2026-01-02</lastmod>"
            b"<news:news><news:publication_date>2026-03-04T05:06:07+01:00</news:publication_date>"
            b"</news:news></url><url><loc>https://x.example/b</loc></url></urlset>"
        )
    )
    assert [(p.url, p.when) for p in pages] == [
        ("https://x.example/a", datetime(2026, 3, 4, 4, 6, 7, tzinfo=UTC)),
        ("https://x.example/b", None),
    ]
    assert children == []
    _, kids = parse_sitemap(
        b"<sitemapindex><sitemap><loc>https://x.example/s1.xml</loc></sitemap></sitemapindex>"
    )
    assert [k.url for k in kids] == ["https://x.example/s1.xml"]
    assert parse_sitemap(b"<<<garbage") == ([], [])
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><urlset><url><loc>&b;</loc></url></urlset>'
    )
    pages, _ = parse_sitemap(bomb)
    assert all("aaaa" not in p.url for p in pages)  # entities are not expanded


def test_sitemaps_and_archives_within_bounds(
    site: SiteServer, history: tuple[Path, Registry], tmp_path: Path
) -> None:
    sources, _reg = history
    wh = tmp_path / "bf.duckdb"
    counts = asyncio.run(
        backfill(since=SINCE, until=UNTIL, warehouse=str(wh), sources=str(sources))
    )
    assert counts["planned"] > 0
    got = rows(wh, "SELECT canonical_url, published_at, source_id FROM articles")
    assert got, counts
    for url, published, _ in got:
        assert START <= published < END, (url, published)
    # sitemaps for two sources, feeds (the first page of an archive) for all
    expected = {
        u
        for sid in ("harbour-times", "valley-courier", "continental-press", "le-quotidien-du-port")
        for u, d, _ in stories(site.site, sid)
        if START <= d < END
    }
    assert {u for u, _, _ in got} == expected
    # selection happened before fetching: nothing out of range was fetched
    assert site.count("/sitemaps/old.xml") == 0
    assert site.count("/cp/2019/never-fetch") == 0
    out_of_range = {
        u
        for sid in ("harbour-times", "valley-courier", "continental-press")
        for u, d, _ in stories(site.site, sid)
        if not START <= d < END
    }
    fetched_pages = {u for (u,) in rows(wh, "SELECT url FROM fetch_log WHERE kind = 'page'")}
    assert expected - fetched_pages <= {u for u in expected if "/storm" in u}  # via its -amp alias
    assert not fetched_pages & out_of_range
    # provenance: sightings say how each article was found
    vias = dict(rows(wh, "SELECT via, count(*) FROM sightings GROUP BY 1"))
    assert set(vias) == {"sitemap", "archive"}
    ((n,),) = rows(wh, "SELECT count(*) FROM articles")
    assert n == len(expected)
    assert rows(wh, "SELECT count(*) FROM backfills WHERE finished_at IS NOT NULL") == [(1,)]
    # a second identical backfill has nothing left to do and changes nothing
    before = rows(wh, "SELECT count(*), count(DISTINCT canonical_url) FROM articles")
    again = asyncio.run(backfill(since=SINCE, until=UNTIL, warehouse=str(wh), sources=str(sources)))
    assert again["to_fetch"] == 0
    assert rows(wh, "SELECT count(*), count(DISTINCT canonical_url) FROM articles") == before
    # pages went to the raw archive
    assert rows(wh, "SELECT count(DISTINCT url) FROM raw_pages") == [(len(fetched_pages),)]


def test_url_list_and_warc(
    site: SiteServer, history: tuple[Path, Registry], tmp_path: Path
) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    sources, _ = history
    lq = stories(site.site, "le-quotidien-du-port")
    vc = stories(site.site, "valley-courier")
    url_list = tmp_path / "urls.txt"
    url_list.write_text(
        "# Valley Courier pages\n"
        + "\n".join(u for u, _, _ in vc)
        + "\nhttps://unknown.example.org/x\nnot a url\n",
        encoding="utf-8",
    )
    warc = tmp_path / "news.warc.gz"
    with warc.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        pages = [(u, d) for u, d, _ in lq] + [
            ("https://unknown.example.org/y", datetime(2026, 3, 11, tzinfo=UTC))
        ]
        # and an error page captured for a known domain: not an article
        pages.append((vc[0][0].replace("/vc/", "/vc/missing-"), datetime(2026, 3, 11, tzinfo=UTC)))
        for url, when in pages:
            path = url.split(str(site.port), 1)[-1]
            found = path in site.site.resources
            body = site.site.resources[path].body if found else b"<html>moved</html>"
            status = "200 OK" if found or "unknown" in url else "404 Not Found"
            captured = [("Content-Type", "text/html; charset=utf-8")]
            if url == lq[0][0]:  # what the publisher declared when the page was captured
                captured += [("X-Robots-Tag", "noai"), ("tdm-reservation", "1")]
            http = StatusAndHeaders(status, captured, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            )
            writer.write_record(record)
    wh = tmp_path / "lists.duckdb"
    requests_before = len(site.requests)
    counts = asyncio.run(
        backfill(
            since="2026-03-01",
            warehouse=str(wh),
            sources=str(sources),
            urls_file=str(url_list),
            warc=[str(warc)],
        )
    )
    assert counts["plan_skipped_no_source_for_domain"] == 1
    assert counts["plan_skipped_bad_url"] == 1
    assert counts["plan_skipped_other_domain"] == 1
    assert counts["plan_skipped_not_ok_status"] == 1  # the 404 record
    assert rows(wh, "SELECT count(*) FROM articles WHERE url LIKE '%missing-%'") == [(0,)]
    assert rows(wh, "SELECT count(*) FROM rejects WHERE stage = 'plan'") == [(1,)]  # not a url
    by_via = dict(rows(wh, "SELECT via, count(DISTINCT article_id) FROM sightings GROUP BY 1"))
    assert by_via == {"urls": len(vc), "warc": len(lq)}
    # WARC records were read from the file, not fetched
    lq_paths = {u.split(str(site.port), 1)[1] for u, _, _ in lq}
    assert not any(r.path in lq_paths for r in site.requests[requests_before:])
    assert rows(wh, "SELECT count(*) FROM fetch_log WHERE url LIKE '%quotidien%'") == [(0,)]
    assert rows(wh, "SELECT count(*) FROM articles WHERE source_id = 'le-quotidien-du-port'") == [
        (len(lq),)
    ]
    # the pages read from the WARC (published in March) are archived as of today:
    # the backfill's end applies retention, and keeps them
    assert rows(wh, "SELECT count(DISTINCT url) FROM raw_pages WHERE url LIKE '%quotidien%'") == [
        (len(lq),)
    ]
    # rights as captured in the WARC record's headers; provenance names the input
    declared = dict(
        rows(
            wh,
            "SELECT url, struct_pack(x := rights.x_robots_tag, t := rights.tdm_reservation, "
            "s := rights.tdm_source, r := reuse) FROM articles WHERE provenance.found_via = 'warc'",
        )
    )
    assert declared[lq[0][0]] == {"x": ["noai"], "t": 1, "s": "header", "r": "reserved"}
    # the others: the paper's CC BY-SA licence (the captured reservation outranks it above)
    assert {d["r"] for u, d in declared.items() if u != lq[0][0]} == {"open"}
    # (the backfill's input as its plan records it)
    assert rows(wh, "SELECT DISTINCT provenance.found_in FROM articles ORDER BY 1") == [
        (f"urls:{url_list}",),
        (f"warc:{warc}",),
    ]


def test_reprocess_after_extractor_change(
    site: SiteServer, history: tuple[Path, Registry], tmp_path: Path
) -> None:
    from ingest.settings import Settings

    sources, _reg = history
    settings = replace(
        Settings(),
        warehouse=tmp_path / "rp.duckdb",
        allow_private_hosts=("127.0.0.1",),
        resolve=dict.fromkeys(site.site.hosts, "127.0.0.1"),
        extract_workers=1,
        host_gap_seconds=0.0,
    )
    run_once(settings, parse_registry(tomllib.loads(site.site.sources_toml())))
    before = dict(rows(settings.warehouse, "SELECT article_id, body FROM articles"))
    # the "old extractor" kept only the first 300 characters of every page
    con = duckdb.connect(str(settings.warehouse))
    con.execute(
        "UPDATE articles SET body = left(body, 300), content_hash = 'old', "
        "extractor = 'trafilatura-0.9', provenance = struct_update(provenance, "
        "extractor := 'trafilatura-0.9', extraction := 'old') WHERE extractor LIKE 'trafilatura%'"
    )
    con.close()
    counts = asyncio.run(reprocess(warehouse=str(settings.warehouse), sources=str(sources)))
    n = site.site.expected_articles()
    assert counts["reprocess_pages"] == n
    assert counts["reprocess_changed"] == n
    after = dict(rows(settings.warehouse, "SELECT article_id, body FROM articles"))
    assert after == before  # the current extractor restored every body from the raw pages
    assert rows(
        settings.warehouse,
        "SELECT count(*) FROM article_revisions WHERE changed = 'reprocess:body'",
    ) == [(n,)]
    assert rows(
        settings.warehouse, "SELECT count(*) FROM articles WHERE extractor = 'trafilatura-0.9'"
    ) == [(0,)]
    # provenance names the extraction that made the row now; the revision keeps the old one
    assert rows(
        settings.warehouse,
        "SELECT count(*) FROM articles WHERE provenance.extractor = extractor "
        "AND provenance.extraction LIKE 'fast: %' AND provenance.found_via = 'feed'",
    ) == [(n,)]
    assert rows(
        settings.warehouse,
        "SELECT DISTINCT old_provenance.extractor, old_provenance.extraction "
        "FROM article_revisions",
    ) == [("trafilatura-0.9", "old")]
    # clusters survived the round trip
    assert rows(settings.warehouse, "SELECT size FROM clusters WHERE size > 1") == [(3,), (3,)]
    # nothing changed now: rows untouched
    stamp = rows(settings.warehouse, "SELECT max(updated_at) FROM articles")
    again = asyncio.run(reprocess(warehouse=str(settings.warehouse), sources=str(sources)))
    assert again["reprocess_changed"] == 0
    assert rows(settings.warehouse, "SELECT max(updated_at) FROM articles") == stamp
    assert len(site.requests) == len(site.requests)  # (no fetch happened: raw store only)


def test_backfill_offline_then_online_equals_backfill_online(
    site: SiteServer, history: tuple[Path, Registry], tmp_path: Path
) -> None:
    """Transient failures are not done: offline, nothing is checkpointed as
    final; the same command online then does all of it, and says how many it
    retried."""
    sources, _ = history
    vc = stories(site.site, "valley-courier")
    url_list = tmp_path / "urls.txt"
    url_list.write_text("\n".join(u for u, _, _ in vc) + "\n", encoding="utf-8")
    both = tmp_path / "both.duckdb"
    online = tmp_path / "online.duckdb"

    def go(wh: Path) -> dict[str, int]:
        return asyncio.run(
            backfill(
                since="2026-03-01", warehouse=str(wh), sources=str(sources), urls_file=str(url_list)
            )
        )

    site.stop()  # nothing listens on the port: every request is refused
    try:
        offline = go(both)
    finally:
        site.start()
    assert offline["backfill_retry_later"] == len(vc)
    assert rows(both, "SELECT count(*) FROM articles") == [(0,)]
    assert rows(both, "SELECT DISTINCT outcome FROM backfill_done") == [("retry",)]
    assert rows(both, "SELECT count(*) FROM backfills WHERE finished_at IS NOT NULL") == [(0,)]
    again = go(both)
    assert again["to_fetch"] == len(vc) and again["retried"] == len(vc)
    go(online)
    sql = (
        "SELECT canonical_url, source_id, title, content_hash, body_status FROM articles ORDER BY 1"
    )
    assert rows(both, sql) == rows(online, sql)
    assert len(rows(both, sql)) == len(vc)
    assert rows(both, "SELECT count(*) FROM backfill_done WHERE outcome = 'retry'") == [(0,)]
    assert go(both)["to_fetch"] == 0


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture
def cli_env(site: SiteServer, history: tuple[Path, Registry], tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(demo_environment([*site.site.hosts]))
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        INGEST_HOST_GAP="0",
        INGEST_SOURCES=str(history[0]),
    )
    return env


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(
    site: SiteServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    def slow_page(path: str) -> None:
        resource = site.site.resources[path]

        def handler(_: object) -> Reply:
            time.sleep(0.4)
            return Reply(200, {"Content-Type": resource.content_type}, resource.body)

        site.route(path, handler)

    for sid in ("harbour-times", "valley-courier", "continental-press"):
        for url, _, _ in stories(site.site, sid):
            slow_page(url.split(str(site.port), 1)[1])
    args = ["backfill", "--since", SINCE, "--until", UNTIL]
    whole = tmp_path / "whole.duckdb"
    env = {**cli_env, "INGEST_BACKFILL_BATCH": "2"}
    proc = _cli(args, {**env, "INGEST_WAREHOUSE": str(whole)})
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out.decode()[-3000:]

    killed = tmp_path / "killed.duckdb"
    proc = _cli(args, {**env, "INGEST_WAREHOUSE": str(killed)})
    deadline = time.monotonic() + 180
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if killed.exists():
            try:
                done = read.query(killed, "SELECT count(*) FROM backfill_done", wait=2).rows[0][0]
            except connection.WarehouseError:
                continue
            if done >= 2:
                break
    assert proc.poll() is None, "the backfill finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert done >= 2
    proc = _cli(args, {**env, "INGEST_WAREHOUSE": str(killed)})
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out.decode()[-3000:]
    sql = (
        "SELECT canonical_url, source_id, title, content_hash, cluster_id FROM articles ORDER BY 1"
    )
    assert rows(killed, sql) == rows(whole, sql)
    assert rows(killed, "SELECT count(*) FROM backfill_done") == rows(
        whole, "SELECT count(*) FROM backfill_done"
    )
    assert (
        rows(
            killed,
            "SELECT count(*), count(DISTINCT (article_id, feed_id)) FROM sightings "
            "WHERE via <> 'feed'",
        )[0][1]
        == rows(whole, "SELECT count(*) FROM sightings")[0][0]
    )


@pytest.mark.slow
def test_backfill_beside_scheduled_run(
    site: SiteServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    wh = tmp_path / "both.duckdb"
    env = {**cli_env, "INGEST_WAREHOUSE": str(wh), "INGEST_SOURCES": cli_env["INGEST_SOURCES"]}
    run = _cli(["run", "--all-feeds"], env)
    fill = _cli(["backfill", "--since", "2026-03-01"], env)
    out_run, _ = run.communicate(timeout=240)
    out_fill, _ = fill.communicate(timeout=240)
    assert run.returncode == 0, out_run.decode()[-3000:]
    assert fill.returncode == 0, out_fill.decode()[-3000:]
    for text in (out_run, out_fill):
        assert b"Could not set lock" not in text
    ((n, distinct),) = rows(wh, "SELECT count(*), count(DISTINCT canonical_url) FROM articles")
    assert n == distinct == site.site.expected_articles()
    assert rows(wh, "SELECT status, count(*) FROM runs GROUP BY 1") == [("completed", 2)]


@pytest.mark.slow
def test_queries_keep_working_during_ingestion(
    site: SiteServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Analysts query while a scheduled run and a backfill write: no query fails."""
    wh = tmp_path / "busy.duckdb"
    env = {**cli_env, "INGEST_WAREHOUSE": str(wh), "INGEST_BACKFILL_BATCH": "2"}
    run = _cli(["run", "--all-feeds"], env)
    fill = _cli(["backfill", "--since", "2026-03-01"], env)
    answered = failed = 0
    deadline = time.monotonic() + 240
    while (run.poll() is None or fill.poll() is None) and time.monotonic() < deadline:
        if not wh.exists():
            time.sleep(0.2)
            continue
        try:
            read.query(wh, "SELECT count(*) FROM articles", wait=30)
            answered += 1
        except connection.WarehouseError as exc:
            if "no warehouse" in str(exc) or "does not exist" in str(exc).lower():
                continue  # the first migration has not run yet
            failed += 1
        time.sleep(0.05)
    out_run, _ = run.communicate(timeout=60)
    out_fill, _ = fill.communicate(timeout=60)
    assert run.returncode == 0, out_run.decode()[-2000:]
    assert fill.returncode == 0, out_fill.decode()[-2000:]
    assert failed == 0
    assert answered >= 10
