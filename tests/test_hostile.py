"""Fault injection: every hostile server behaviour ends as a recorded outcome
with a reason, and the good feeds of the same run load completely.

One ingestion pass runs over the sample site plus one feed per hostile case
(module fixture); each test then checks its case's rows.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.conftest import run_once
from tests.hostile import BIG, ITEMS_10K, HostileServer, build_cases

from ingest.demo.server import SiteServer
from ingest.registry import parse_registry
from ingest.settings import Settings

CASES = [
    "drip",
    "reset",
    "http-500",
    "http-502",
    "http-503",
    "http-429",
    "gone-410",
    "redirect-loop",
    "chain-0",
    "redirect-blocked",
    "ip-literals",
    "schemes",
    "too-big",
    "gzip-bomb",
    "deflate-bomb",
    "br-bomb",
    "billion-laughs",
    "xxe",
    "cp1252-nocharset",
    "utf16-bom",
    "html-not-feed",
    "many-items",
    "duplicate-guids",
    "poison-urls",
    "empty-200",
    "moved-301",
    "moved-302",
    "robots",
]


@dataclass
class World:
    con: duckdb.DuckDBPyConnection
    hostile: HostileServer
    demo: SiteServer
    counts: dict[str, int]

    def feed(self, case: str) -> dict[str, Any]:
        url = self.feed_url(case)
        cur = self.con.execute("SELECT * FROM feeds WHERE registry_url = ?", [url])
        cols = [d[0] for d in cur.description or []]
        row = cur.fetchone()
        assert row is not None, case
        return dict(zip(cols, row, strict=True))

    def feed_url(self, case: str) -> str:
        if case == "connect-timeout":
            return f"http://127.0.0.1:{self.hostile.silent_port}/feed.xml"
        return self.hostile.url(f"/h/{case}/feed.xml")

    def log(self, url: str) -> tuple[str, str | None, int | None]:
        row = self.con.execute(
            "SELECT outcome, error, status FROM fetch_log WHERE url = ?", [url]
        ).fetchone()
        assert row is not None, url
        return row  # type: ignore[return-value]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    hostile = HostileServer().start()
    hostile.cases.update(build_cases(hostile))
    with SiteServer() as demo:
        feeds = [f"http://127.0.0.1:{hostile.silent_port}/feed.xml"] + [
            hostile.url(f"/h/{c}/feed.xml") for c in CASES
        ]
        text = demo.site.sources_toml() + (
            '\n[[sources]]\nid = "hostile"\nname = "Hostile"\nkind = "publisher"\n'
            f'homepage = "{hostile.base}/"\ndomains = ["127.0.0.1"]\n'
            f"feeds = {json.dumps(feeds)}\n"
        )
        registry = parse_registry(tomllib.loads(text))
        settings = replace(
            Settings(),
            warehouse=Path(tmp_path_factory.mktemp("hostile")) / "wh.duckdb",
            allow_private_hosts=("127.0.0.1",),
            resolve={**dict.fromkeys(demo.site.hosts, "127.0.0.1"), "robots.test": "127.0.0.1"},
            extract_workers=1,
            host_gap_seconds=0.0,
            per_host_connections=16,
            connect_timeout=1.0,
            read_timeout=2.0,
            total_timeout=3.0,
            max_body_bytes=BIG,
            max_items_per_feed=50,
        )
        counts = run_once(settings, registry)
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        try:
            yield World(con, hostile, demo, dict(counts))
        finally:
            con.close()
            hostile.stop()


def test_good_feeds_load_completely(world: World) -> None:
    n = world.con.execute("SELECT count(*) FROM articles WHERE source_id <> 'hostile'").fetchone()
    assert n == (world.demo.site.expected_articles(),)
    ((status,),) = world.con.execute("SELECT status FROM runs").fetchall()
    assert status == "completed"


def test_every_case_has_a_feed_row(world: World) -> None:
    for case in ["connect-timeout", *CASES]:
        feed = world.feed(case)
        assert feed["last_fetched_at"] is not None, case
        assert feed["next_fetch_at"] is not None, case


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("connect-timeout", r"(?i)timeout|deadline"),
        ("drip", "deadline"),
        ("reset", r"(?i)protocol|read|closed|incomplete|peer"),
        ("http-500", "HTTP 500"),
        ("http-502", "HTTP 502"),
        ("redirect-loop", "redirect loop"),
        ("chain-0", "more than 5 redirects"),
        ("too-big", "too large"),
        ("gzip-bomb", "too large"),
        ("deflate-bomb", "too large"),
        ("br-bomb", "too large"),
    ],
)
def test_transport_failures(world: World, case: str, error: str) -> None:
    import re

    outcome, message, _ = world.log(world.feed_url(case))
    assert outcome == "error"
    assert message and re.search(error, message), message
    feed = world.feed(case)
    assert feed["consecutive_failures"] == 1
    assert re.search(error, feed["last_error"] or "")
    assert not feed["disabled"]


@pytest.mark.parametrize("case", ["reset", "http-500", "drip", "connect-timeout"])
def test_transient_failures_back_off(world: World, case: str) -> None:
    feed = world.feed(case)
    assert feed["failure_kind"] == "transient"
    assert feed["next_fetch_at"] > feed["last_fetched_at"] + timedelta(minutes=10)


@pytest.mark.parametrize(("case", "hours"), [("http-503", 2), ("http-429", 1)])
def test_retry_after_honoured(world: World, case: str, hours: int) -> None:
    feed = world.feed(case)
    assert feed["last_status"] in (429, 503)
    assert feed["next_fetch_at"] >= feed["last_fetched_at"] + timedelta(hours=hours) - timedelta(
        seconds=5
    )


def test_gone_disables_at_once(world: World) -> None:
    feed = world.feed("gone-410")
    assert feed["disabled"]
    assert "410" in feed["disabled_reason"]


def test_redirect_to_blocked_address(world: World) -> None:
    outcome, message, _ = world.log(world.feed_url("redirect-blocked"))
    assert outcome == "blocked"
    assert "127.0.0.2" in (message or "")
    assert world.feed("redirect-blocked")["failure_kind"] == "permanent"


def test_ip_literal_links_blocked(world: World) -> None:
    rows = world.con.execute(
        "SELECT url, outcome FROM fetch_log WHERE kind = 'page' AND "
        "((url LIKE '%127.0.0.2%' OR url LIKE '%::ffff%') AND regexp_matches(url, '/[1-4]$') "
        "OR url LIKE '%169.254%')"
    ).fetchall()
    assert len(rows) == 5
    assert {o for _, o in rows} == {"blocked"}
    # the hostile server is the only thing on the port; nothing arrived for those links
    assert not any(
        p in ("/h/article/1", "/h/article/2", "/h/article/3", "/h/article/4") and h != "127.0.0.1"
        for h, p in world.hostile.requests
    )


def test_non_http_links_never_fetched(world: World) -> None:
    assert world.counts["parse_entry_bad_link"] >= 4
    urls = [u for (u,) in world.con.execute("SELECT url FROM fetch_log").fetchall()]
    assert not any(u.startswith(("file:", "ftp:", "javascript:", "data:")) for u in urls)


@pytest.mark.parametrize("case", ["billion-laughs", "xxe"])
def test_entity_attacks_refused(world: World, case: str) -> None:
    feed = world.feed(case)
    assert feed["failure_kind"] == "permanent"
    assert "ENTITY" in feed["last_error"]
    (reason,) = world.con.execute(
        "SELECT reason FROM rejects WHERE url = ?", [world.feed_url(case)]
    ).fetchone()  # type: ignore[misc]
    assert "refused" in reason


@pytest.mark.parametrize(
    ("case", "title"),
    [("cp1252-nocharset", "Café owners welcome the plan"), ("utf16-bom", "Über die Brücke")],
)
def test_charsets(world: World, case: str, title: str) -> None:
    rows = world.con.execute(
        "SELECT title, extractor FROM articles WHERE title = ?", [title]
    ).fetchall()
    assert rows == [(title, "feed-summary")]
    assert world.feed(case)["consecutive_failures"] == 0


@pytest.mark.parametrize(("case", "error"), [("html-not-feed", None), ("empty-200", "empty body")])
def test_not_a_feed(world: World, case: str, error: str | None) -> None:
    feed = world.feed(case)
    assert feed["failure_kind"] == "permanent"
    assert feed["last_outcome"] == "error"
    assert feed["etag"] is None
    if error:
        assert error in feed["last_error"]


def test_many_items_capped_and_said(world: World) -> None:
    assert world.counts["parse_items_over_cap"] == ITEMS_10K - 50
    (reason,) = world.con.execute(
        "SELECT reason FROM rejects WHERE url = ?", [world.feed_url("many-items")]
    ).fetchone()  # type: ignore[misc]
    assert f"{ITEMS_10K} items" in reason and "newest 50" in reason
    assert world.feed("many-items")["last_entries"] == 50


def test_same_guid_different_links_are_different_articles(world: World) -> None:
    # three items share one GUID with three links (one link listed twice):
    # three articles, and the feed's broken GUIDs noted once
    assert world.counts["parse_entry_guid_reused"] == 2
    assert world.counts["parse_entry_duplicate_in_feed"] >= 1
    urls = {world.hostile.url(f"/h/article/{n}") for n in (10, 11, 13)}
    rows = world.con.execute(
        "SELECT url FROM articles WHERE list_contains(?::VARCHAR[], url)", [sorted(urls)]
    ).fetchall()
    assert {u for (u,) in rows} == urls
    notes = world.con.execute(
        "SELECT reason FROM rejects WHERE url = ?", [world.feed_url("duplicate-guids")]
    ).fetchall()
    assert len(notes) == 1 and "GUID" in notes[0][0]


def test_poison_urls_are_rows_not_failures(world: World) -> None:
    """Octal, zero-padded and IDNA-digit IPv4 hosts, a tab-prefixed link, a
    redirect to another scheme and one with backslashes: each is a recorded
    outcome, the rest of the feed loads, and the run completes."""
    feed = world.feed("poison-urls")
    assert feed["last_outcome"] == "ok" and feed["consecutive_failures"] == 0
    p = world.hostile.port
    blocked = {
        f"http://127.0.0.2:{p}/h/article/{n}" for n in (20, 21, 22, 23)
    }  # every spelling read as the address it is, then refused by the guard
    rows = dict(
        world.con.execute(
            "SELECT url, outcome FROM fetch_log WHERE list_contains(?::VARCHAR[], url)",
            [sorted(blocked)],
        ).fetchall()
    )
    assert rows == dict.fromkeys(blocked, "blocked")
    jar = world.con.execute(
        "SELECT outcome, error FROM fetch_log WHERE url = ?",
        [world.hostile.url("/h/poison/redirect-jar")],
    ).fetchone()
    assert jar is not None and jar[0] == "blocked" and "jar" in jar[1]
    backslash = world.con.execute(
        "SELECT outcome, error FROM fetch_log WHERE url = ?",
        [world.hostile.url("/h/poison/redirect-backslash")],
    ).fetchone()
    assert backslash is not None and backslash[0] == "blocked" and "127.0.0.2" in backslash[1]
    # the good link of the same feed became an article from its page
    good = world.con.execute(
        "SELECT body_status FROM articles WHERE url = ?", [world.hostile.url("/h/article/24")]
    ).fetchone()
    assert good == ("page",)
    # and the refused ones became articles from the feed's text, for good
    final = world.con.execute(
        "SELECT count(*) FROM articles WHERE body_status = 'feed-final' AND "
        "list_contains(?::VARCHAR[], url)",
        [sorted(blocked)],
    ).fetchone()
    assert final == (4,)


def test_permanent_redirect_moves_feed(world: World) -> None:
    moved = world.feed("moved-301")
    assert moved["url"] == world.hostile.url("/h/good-moved/feed.xml")
    assert moved["registry_url"] == world.feed_url("moved-301")
    history = world.con.execute(
        "SELECT old_url, new_url, status FROM feed_url_history WHERE feed_id = ?",
        [moved["feed_id"]],
    ).fetchall()
    assert history == [(world.feed_url("moved-301"), moved["url"], 200)]
    temporary = world.feed("moved-302")
    assert temporary["url"] == world.feed_url("moved-302")


def test_robots_disallowed_page_is_skipped(world: World) -> None:
    page = world.hostile.url("/h/private/12", host="robots.test")
    outcome, message, _ = world.log(page)
    assert outcome == "skipped"
    assert "robots.txt" in (message or "")
    assert ("robots.test", "/h/private/12") not in world.hostile.requests
    ((extractor,),) = world.con.execute(
        "SELECT extractor FROM articles WHERE url = ?", [page]
    ).fetchall()
    assert extractor == "feed-summary"
