"""A big registry stays cheap: few fetch-feeds steps, hosts interleaved, the
registry indexed and loaded once per process, an unchanged registry not
merged again, and every feed's state still stored."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest import pipeline
from ingest.fetch import Fetcher
from ingest.jobs import poll
from ingest.pipeline.polling import batch_size, spread_hosts
from ingest.records import DueFeed, FeedBatch, FetchKind, FetchResult, Outcome, Source
from ingest.registry import Registry, dump_registry, load_registry
from ingest.settings import Settings
from ingest.store import connection
from ingest.store import feeds as store_feeds


def big_registry(n: int, hosts: int) -> Registry:
    """``n`` sources of one feed each, the feeds dealt round ``hosts`` hosts."""
    return Registry(
        tuple(
            Source(
                source_id=f"src-{i:05d}",
                name=f"Source {i}",
                kind="publisher",
                homepage=f"https://src-{i:05d}.example/",
                domains=(f"src-{i:05d}.example",),
                feeds=(f"https://www.hub{i % hosts:04d}.example/feeds/{i:05d}.xml",),
            )
            for i in range(n)
        ),
        "big",
        "sha-of-big",
    )


def test_batches_grow_with_the_feeds_due_and_stay_bounded() -> None:
    settings = Settings()
    assert (settings.feed_batch_size, settings.feed_batches_per_run) == (50, 20)
    assert batch_size(0, settings) == 50
    assert batch_size(120, settings) == 50  # small registries: as before
    assert batch_size(1_000, settings) == 50
    assert batch_size(10_000, settings) == 500  # 20 batches, not 200
    assert batch_size(100_000, settings) == settings.feed_batch_max == 500  # memory bound
    for due in (1, 999, 1_001, 10_000, 12_345, 40_000):
        batches = pipeline.batched(
            [DueFeed(str(i), "s", f"https://h{i}.example/", None, None) for i in range(due)],
            batch_size(due, settings),
        )
        assert sum(len(b) for b in batches) == due
        assert len(batches) <= max(settings.feed_batches_per_run, -(-due // 500))
    bigger = replace(settings, feed_batch_size=800)
    assert batch_size(10_000, bigger) == 800  # the floor wins over the cap


def test_feeds_are_dealt_round_their_hosts() -> None:
    feeds = [
        DueFeed(f"f{i}", "s", f"https://www.hub{i // 10}.example/feeds/{i}.xml", None, None)
        for i in range(100)  # 10 hosts, their feeds one after another
    ]
    spread = spread_hosts(feeds)
    assert sorted(f.feed_id for f in spread) == sorted(f.feed_id for f in feeds)
    # the first round asks every host once, in the order of their first feed
    assert [f.url.split("/")[2] for f in spread[:10]] == [f"www.hub{h}.example" for h in range(10)]
    # each host's feeds keep their order, a round apart
    hub3 = [f.feed_id for f in spread if "hub3." in f.url]
    assert hub3 == [f"f{i}" for i in range(30, 40)]
    assert [i for i, f in enumerate(spread) if "hub3." in f.url] == list(range(3, 100, 10))
    one_each = feeds[::10]
    assert spread_hosts(one_each) == one_each


def test_the_registry_is_indexed_and_loaded_once_per_content(tmp_path: Path) -> None:
    registry = big_registry(2_000, 200)
    assert registry.get("src-01999") is registry.sources[-1]
    assert registry.get("nope") is None
    assert registry.owner_of("www.src-00042.example") is registry.sources[42]
    assert registry.owner_of("SRC-00042.example.") is registry.sources[42]
    assert registry.owner_of("www.hub0001.example") is None
    nested = Registry(
        (
            Source("outer", "Outer", "publisher", "https://example.org/", ("example.org",)),
            Source("inner", "Inner", "publisher", "https://n.example.org/", ("n.example.org",)),
        )
    )
    inner = nested.owner_of("www.n.example.org")
    outer = nested.owner_of("www.example.org")
    assert inner is not None and inner.source_id == "inner"  # the longest domain wins
    assert outer is not None and outer.source_id == "outer"

    path = tmp_path / "sources.toml"
    path.write_text(dump_registry(big_registry(50, 5).sources), encoding="utf-8")
    first = load_registry(path)
    assert load_registry(path) is first  # the same bytes: parsed once
    path.write_text(dump_registry(big_registry(51, 5).sources), encoding="utf-8")
    changed = load_registry(path)
    assert changed is not first and len(changed) == 51 and changed.sha256 != first.sha256


def test_an_unchanged_registry_is_recorded_but_not_merged_again(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    registry = big_registry(300, 30)
    with connection.writer(warehouse) as con:
        store_feeds.sync_registry(con, registry, datetime.now(UTC))
        before = con.execute("SELECT * FROM sources ORDER BY source_id").fetchall()
        store_feeds.sync_registry(con, registry, datetime.now(UTC), run_id="again")
        assert con.execute("SELECT * FROM sources ORDER BY source_id").fetchall() == before
        syncs = con.execute("SELECT sha256, sources, feeds, run_id FROM registry_syncs").fetchall()
        assert syncs[-1] == ("sha-of-big", 300, 300, "again") and len(syncs) == 2
        # another registry (one more source) is merged as before
        more = replace(big_registry(301, 30), sha256="sha-of-more")
        store_feeds.sync_registry(con, more, datetime.now(UTC))
        assert con.execute("SELECT count(*) FROM feeds WHERE in_registry").fetchone() == (301,)
        # and back: the dropped feed leaves the registry again
        store_feeds.sync_registry(con, registry, datetime.now(UTC))
        assert con.execute("SELECT count(*) FROM feeds WHERE in_registry").fetchone() == (300,)


def test_a_big_registry_takes_few_steps_and_stores_every_feed(tmp_path: Path) -> None:
    """5,000 feeds over 500 hosts, every one answering 304: 20 fetch-feeds
    steps (each a Prefect task run in the flow), not 100, each asking every
    host at most once, and every feed's state, validators and next poll stored."""
    registry = big_registry(5_000, 500)
    settings = replace(Settings(), warehouse=tmp_path / "wh.duckdb", extract_workers=1)
    validators = {url: f'"v-{fid}"' for fid, _s, url in registry.feeds()}
    with connection.writer(settings.warehouse) as con:
        store_feeds.sync_registry(con, registry, datetime.now(UTC))
        con.executemany(
            "UPDATE feeds SET etag = ? WHERE url = ?", [[v, u] for u, v in validators.items()]
        )
    calls: list[list[DueFeed]] = []

    async def fetch_feeds(
        fetcher: Fetcher, feeds: list[DueFeed], reg: Registry, s: Settings, run_id: str
    ) -> FeedBatch:
        """The plain step with every answer a 304 (no network)."""
        calls.append(feeds)
        now = datetime.now(UTC)
        results = [
            FetchResult(f.url, FetchKind.FEED, Outcome.NOT_MODIFIED, now, status=304) for f in feeds
        ]
        assert all(f.etag == validators[f.url] for f in feeds)
        batch = pipeline.parse_feeds(feeds, results, reg, s, run_id)
        return await asyncio.to_thread(pipeline.skip_known, batch, s)

    outcome = asyncio.run(
        poll.run(
            settings,
            registry,
            pipeline.new_run_id(),
            all_feeds=True,
            steps=replace(poll.Steps(), fetch_feeds=fetch_feeds),
        )
    )
    assert outcome.status == "completed", outcome.reason
    assert len(calls) == settings.feed_batches_per_run == 20
    assert {len(c) for c in calls} == {250}
    for batch in calls:  # every host once at most per step
        assert max(Counter(f.url.split("/")[2] for f in batch).values()) == 1
    assert outcome.counts["feed_not_modified"] == 5_000
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        assert con.execute("""
            SELECT count(*), count(next_fetch_at), count(etag), count(*) FILTER (last_status = 304)
            FROM feeds
        """).fetchone() == (5_000, 5_000, 5_000, 5_000)
        assert con.execute("SELECT count(*) FROM fetch_log").fetchone() == (5_000,)
    finally:
        con.close()
