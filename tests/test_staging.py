"""Staged batches: Parquet files handed to the one loader, loaded exactly once.

Every test runs on a DuckDB file and on a DuckLake (SQLite catalog), each
compared with a reference loaded into a DuckDB file the plain way."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from tests.test_pipeline import snapshot

from ingest import pipeline, records
from ingest.demo.server import SiteServer
from ingest.fetch import Fetcher
from ingest.location import Lake
from ingest.records import Staged
from ingest.registry import Registry
from ingest.settings import Settings
from ingest.store import connection, load, read, staging


def stage_run(settings: Settings, registry: Registry, run_id: str = "run-a") -> list[Staged]:
    """Every stage of one pass up to staging, without loading: chunks of pages
    first, then each feed batch's own rows, in the order the flow stages them."""
    start = pipeline.prepare_run(settings, registry, run_id, "test", all_feeds=True)
    robots = pipeline.RobotsCache(start.robots, settings)

    async def go() -> list[Staged]:
        out: list[Staged] = []
        async with Fetcher(settings) as fetcher:
            for feeds in pipeline.batched(start.feeds, settings.feed_batch_size):
                results = await pipeline.fetch_feeds(fetcher, feeds)
                batch = pipeline.parse_feeds(feeds, results, registry, settings, run_id)
                batch = pipeline.skip_known(batch, settings)
                chunks, batch = pipeline.page_chunks(batch, 8)
                for chunk in chunks:
                    fetched, pages = await pipeline.fetch_pages(fetcher, chunk, robots)
                    extracted = pipeline.extract_batch(pages, settings, registry)
                    built = pipeline.build_candidates(fetched, pages, extracted, registry, settings)
                    out.append(pipeline.stage(settings, built))
                out.append(pipeline.stage(settings, batch))
        return out

    return asyncio.run(go())


def load_all(settings: Settings, staged: list[Staged], by: str | None = None) -> None:
    for s in staged:
        pipeline.load_staged(settings, s, loaded_by=by)


pytestmark = pytest.mark.parametrize("backend", ["file", "lake"], indirect=True)


def rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    return read.query(settings.warehouse, sql).rows


@pytest.fixture
def reference(settings: Settings, registry: Registry, tmp_path: Path) -> Path:
    """A warehouse that loaded one pass once, the plain way."""
    ref = replace(settings, warehouse=tmp_path / "ref.duckdb", staging_dir=tmp_path / "ref-stg")
    load_all(ref, stage_run(ref, registry))
    return ref.warehouse


def same_content(a: Path | Lake, b: Path | Lake) -> bool:
    """The same articles, stories, URLs and sightings (run ids and times aside)."""
    sa, sb = snapshot(a), snapshot(b)
    for table in ("articles", "sightings", "feeds"):  # carry run ids and fetch times
        sa.pop(table)
        sb.pop(table)
    articles = (
        "SELECT article_id, canonical_url, source_id, content_hash, cluster_id, wire_service, "
        "title, body FROM articles ORDER BY article_id"
    )
    sightings = "SELECT article_id, feed_id, url, via FROM sightings ORDER BY ALL"
    for where, snap in ((a, sa), (b, sb)):
        snap["articles"] = read.query(where, articles).rows
        snap["sightings"] = read.query(where, sightings).rows
    assert sa["articles"], "nothing loaded"
    return sa == sb


def content_counts(where: Path | Lake) -> tuple[int, ...]:
    tables = ("articles", "sightings", "article_urls", "clusters", "fetch_log", "rejects")
    counts = ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
    return tuple(int(v) for v in read.query(where, f"SELECT {counts}").rows[0])  # type: ignore[call-overload]


def test_real_batch_round_trips_through_parquet(
    settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    start = pipeline.prepare_run(settings, registry, "rt", "test", all_feeds=True)

    async def one_batch() -> records.FeedBatch:
        async with Fetcher(settings) as fetcher:
            results = await pipeline.fetch_feeds(fetcher, start.feeds)
            batch = pipeline.parse_feeds(start.feeds, results, registry, settings, "rt")
            batch = pipeline.skip_known(batch, settings)
            batch, pages = await pipeline.fetch_pages(fetcher, batch, None)
        extracted = pipeline.extract_batch(pages, settings, registry)
        return pipeline.build_candidates(batch, pages, extracted, registry, settings)

    batch = asyncio.run(one_batch())
    load = batch.load
    assert load.candidates and load.fetches and load.feed_updates and load.raw_pages
    written = staging.write(batch.load, tmp_path / "stg")
    batch_id, back = staging.read(Path(written.path))
    assert batch_id == written.batch_id
    assert back == batch.load  # every record, nested ones included
    assert all(c.fingerprint and c.fingerprint.shingles for c in back.candidates)
    # plain Parquet that DuckDB reads as is
    with duckdb.connect() as con:
        (n,) = con.execute(f"SELECT len(candidates) FROM '{written.path}'").fetchall()[0]
    assert n == len(batch.load.candidates)


def test_staged_run_loads_like_a_direct_one(
    settings: Settings, registry: Registry, reference: Path, site: SiteServer
) -> None:
    staged = stage_run(settings, registry)
    assert [Path(s.path).exists() for s in staged] == [True] * len(staged)
    # file names sort in staging order: chunks before their feed batch's rows
    assert staging.pending(settings.staging_path) == [Path(s.path) for s in staged]
    assert rows(settings, "SELECT count(*) FROM articles") == [(0,)]
    load_all(settings, staged)
    assert staging.pending(settings.staging_path) == []
    assert rows(settings, "SELECT count(*) FROM articles") == [(site.site.expected_articles(),)]
    assert rows(settings, "SELECT count(*) FROM staged_batches") == [(len(staged),)]
    assert same_content(settings.warehouse, reference)


def test_crash_after_commit_does_not_load_twice(
    settings: Settings, registry: Registry, reference: Path
) -> None:
    staged = stage_run(settings, registry)
    copies = settings.staging_path.parent / "copies"
    shutil.copytree(settings.staging_path, copies)
    load_all(settings, staged)
    before = content_counts(settings.warehouse)
    # the loader died after each commit, before deleting the file: the files are back
    for f in copies.iterdir():
        shutil.copy(f, settings.staging_path / f.name)
    for s in staged:
        assert pipeline.load_staged(settings, s) == {}
    assert content_counts(settings.warehouse) == before
    assert staging.pending(settings.staging_path) == []
    assert same_content(settings.warehouse, reference)


def test_crash_before_commit_loads_again(
    settings: Settings, registry: Registry, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = stage_run(settings, registry)
    real = load._write_rows

    def dies_after_writing(con: duckdb.DuckDBPyConnection, batch: records.LoadBatch) -> object:
        real(con, batch)
        raise RuntimeError("killed mid-load")

    monkeypatch.setattr(load, "_write_rows", dies_after_writing)
    with pytest.raises(RuntimeError):
        pipeline.load_staged(settings, staged[0])
    monkeypatch.undo()
    assert rows(settings, "SELECT count(*) FROM articles") == [(0,)]  # rolled back
    assert Path(staged[0].path).exists()  # still there to load
    load_all(settings, staged)
    assert same_content(settings.warehouse, reference)


def _load_in_process(settings: Settings, staged: list[Staged], barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    for s in staged:
        pipeline.load_staged(settings, s)


def test_two_loaders_racing_for_the_same_files(
    settings: Settings, registry: Registry, reference: Path
) -> None:
    staged = stage_run(settings, registry)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(target=_load_in_process, args=(settings, staged, barrier)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert staging.pending(settings.staging_path) == []
    assert rows(settings, "SELECT count(*) FROM staged_batches") == [(len(staged),)]
    assert same_content(settings.warehouse, reference)


def test_leftovers_of_ended_or_dead_runs_are_loaded_by_the_next_run(
    settings: Settings, registry: Registry, reference: Path
) -> None:
    staged = stage_run(settings, registry, run_id="crashed")
    # the run that staged them is still 'running' with a fresh heartbeat: left alone
    assert pipeline.load_leftovers(settings, "next") == {}
    assert len(staging.pending(settings.staging_path)) == len(staged)
    # its heartbeat stopped long ago (killed without recording its end): every
    # file of it is a leftover, loaded oldest first
    with connection.writer(settings.warehouse) as con:
        con.execute(
            "UPDATE runs SET heartbeat_at = now() - INTERVAL 10 MINUTE, "
            "started_at = now() - INTERVAL 20 MINUTE WHERE run_id = 'crashed'"
        )
    counts = pipeline.load_leftovers(settings, "next")
    assert counts["staged_leftovers_loaded"] == len(staged)
    assert staging.pending(settings.staging_path) == []
    assert rows(settings, "SELECT DISTINCT run_id, loaded_by FROM staged_batches") == [
        ("crashed", "next")
    ]
    assert same_content(settings.warehouse, reference)


def test_a_broken_staged_file_is_set_aside_with_the_rest_of_its_run(
    settings: Settings, registry: Registry
) -> None:
    staged = stage_run(settings, registry, run_id="gone")
    assert len(staged) >= 3
    pipeline.close_run(settings, "gone", "failed", Counter())
    broken = Path(staged[1].path)
    broken.write_bytes(broken.read_bytes()[:100])  # truncated
    part = settings.staging_path / ".half-written.parquet.part"
    part.write_bytes(b"PAR1")
    fresh_part = settings.staging_path / ".being-written.parquet.part"
    fresh_part.write_bytes(b"PAR1")
    old = time.time() - 2 * 3600
    os.utime(part, (old, old))  # a half-written file of a dead writer
    counts = pipeline.load_leftovers(settings, "sweeper")
    # the file before it loads; it and every later file of its run are set
    # aside, so the run's feed states (staged last) never pass unloaded pages
    assert counts["staged_leftovers_loaded"] == 1
    assert counts["staged_failed"] == len(staged) - 1
    failed = settings.staging_path / staging.FAILED_DIR
    assert sorted(p.name for p in failed.iterdir()) == [Path(s.path).name for s in staged[1:]]
    reasons = dict(rows(settings, "SELECT url, reason FROM rejects WHERE stage = 'load'"))
    assert reasons[str(failed / broken.name)].startswith(
        "staged batch not loaded: cannot read staged batch"
    )
    later = str(failed / Path(staged[-1].path).name)
    assert "an earlier batch of run gone was set aside" in reasons[later]
    assert rows(settings, "SELECT count(*) FROM feeds WHERE etag IS NOT NULL") == [(0,)]
    assert not part.exists()  # a writer that died long ago
    assert fresh_part.exists()  # a writer still at work
    assert staging.pending(settings.staging_path) == []


def test_a_file_from_another_version_is_set_aside_not_half_read(
    settings: Settings, registry: Registry
) -> None:
    staged = stage_run(settings, registry, run_id="older")
    pipeline.close_run(settings, "older", "failed", Counter())
    path = Path(staged[0].path)
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["raw_pages"]), path)  # written before raw_pages existed
    with pytest.raises(staging.StagingError, match="lacks raw_pages"):
        staging.read(path)
    counts = pipeline.load_leftovers(settings, "sweeper")
    assert counts["staged_failed"] == len(staged)
    assert rows(settings, "SELECT count(*) FROM articles") == [(0,)]


def test_a_leftover_that_fails_to_write_stays_for_the_next_run(
    settings: Settings, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = stage_run(settings, registry, run_id="crashed")
    pipeline.close_run(settings, "crashed", "failed", Counter())

    def disk_full(*_args: object, **_kw: object) -> None:
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(load, "write_staged", disk_full)
    counts = pipeline.load_leftovers(settings, "next")
    assert counts["staged_leftovers_held"] == 1  # the first one; the rest wait behind it
    assert counts["staged_failed"] == 0
    assert len(staging.pending(settings.staging_path)) == len(staged)
    monkeypatch.undo()
    again = pipeline.load_leftovers(settings, "later")
    assert again["staged_leftovers_loaded"] == len(staged)


def test_a_late_leftover_does_not_roll_feed_state_back(
    settings: Settings, registry: Registry
) -> None:
    late = stage_run(settings, registry, run_id="slow")
    # the staging dir now holds run "slow"; a newer run polls and loads first
    newer = replace(settings, staging_dir=settings.staging_path.parent / "newer-staging")
    load_all(newer, stage_run(newer, registry, run_id="fast"))
    before = rows(settings, "SELECT feed_id, last_fetched_at, etag FROM feeds ORDER BY 1")
    pipeline.close_run(settings, "slow", "failed", Counter())
    assert pipeline.load_leftovers(settings, "sweeper")["staged_leftovers_loaded"] == len(late)
    assert rows(settings, "SELECT feed_id, last_fetched_at, etag FROM feeds ORDER BY 1") == before


def test_a_lost_file_is_an_error_unless_it_was_loaded(
    settings: Settings, registry: Registry
) -> None:
    staged = stage_run(settings, registry)
    pipeline.load_staged(settings, staged[0])
    assert pipeline.load_staged(settings, staged[0]) == {}  # loaded, then deleted: fine
    Path(staged[1].path).unlink()
    with pytest.raises(staging.StagingError, match="vanished before it was loaded"):
        pipeline.load_staged(settings, staged[1])


def test_one_row_per_file_with_named_parts(settings: Settings, registry: Registry) -> None:
    staged = stage_run(settings, registry)
    table = pq.read_table(staged[0].path)
    assert table.num_rows == 1
    assert {"batch_id", "run_id", "candidates", "listings", "fetches", "done"} <= set(
        table.column_names
    )
    assert staging.run_of(Path(staged[0].path)) == "run-a"


def test_the_next_run_ends_by_loading_leftovers(
    settings: Settings, registry: Registry, reference: Path
) -> None:
    staged = stage_run(settings, registry, run_id="crashed")
    pipeline.close_run(settings, "crashed", "failed", Counter())
    pipeline.prepare_run(settings, registry, "next", "test")
    counts = pipeline.end_run(settings, "next", "completed", Counter()).counts
    assert counts["staged_leftovers_loaded"] == len(staged)
    assert counts["raw_pages_expired"] == 0
    assert rows(
        settings,
        "SELECT status, counts->>'staged_leftovers_loaded' FROM runs WHERE run_id = 'next'",
    ) == [("completed", str(len(staged)))]
    assert same_content(settings.warehouse, reference)


def test_files_of_one_run_share_a_transaction_and_skip_what_is_in(
    settings: Settings, registry: Registry, reference: Path
) -> None:
    staged = stage_run(settings, registry)
    assert len(staged) >= 3
    # another loader wrote the second file on its own and died before deleting it
    survivor = Path(staged[1].path).read_bytes()
    pipeline.load_staged(settings, staged[1])
    Path(staged[1].path).write_bytes(survivor)
    counts = pipeline.load_staged_files(settings, staged)
    assert counts["articles_new"] > 0
    ids = rows(settings, "SELECT batch_id, load_id FROM staged_batches ORDER BY batch_id")
    assert [i for i, _ in ids] == sorted(s.batch_id for s in staged)
    assert rows(
        settings, f"SELECT load_id FROM staged_batches WHERE batch_id = '{staged[1].batch_id}'"
    ) == [(staged[1].batch_id,)]
    per_load = rows(settings, "SELECT load_id, count(*) FROM staged_batches GROUP BY ALL")
    assert max(n for _, n in per_load) <= settings.load_merge_files
    assert len(per_load) == 1 + -(-(len(staged) - 1) // settings.load_merge_files)
    assert staging.pending(settings.staging_path) == []
    # out of order, so which copy of a duplicate came first may differ from the
    # reference; but every publication and sighting is there once
    assert content_counts(settings.warehouse)[:3] == content_counts(reference)[:3]


def test_files_of_two_runs_never_share_a_transaction(
    settings: Settings, registry: Registry, site: SiteServer
) -> None:
    first = stage_run(settings, registry, run_id="one")
    second = stage_run(settings, registry, run_id="two")  # nothing is known yet: all again
    pipeline.load_staged_files(settings, [*first, *second])
    loads = rows(settings, "SELECT load_id, list(DISTINCT run_id) FROM staged_batches GROUP BY ALL")
    assert all(len(runs) == 1 for _, runs in loads)
    assert {r for _, runs in loads for r in runs} == {"one", "two"}
    assert rows(settings, "SELECT count(*) FROM articles") == [(site.site.expected_articles(),)]
