"""A run's start and end in the warehouse: the registry synced, the run recorded,
its heartbeat, and its end (feed states, leftovers of crashed runs, raw-page
retention, the run's row).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import duckdb

from ingest.pipeline.common import now_utc, run_host
from ingest.pipeline.loading import load_leftovers, load_staged_files
from ingest.pipeline.polling import pending_batch
from ingest.rawstore import RawStore
from ingest.records import (
    RunEnd,
    RunStart,
    Staged,
)
from ingest.registry import Registry
from ingest.settings import Settings, default_sources_path
from ingest.store import connection, load, pages, runs
from ingest.store import feeds as store_feeds

log = logging.getLogger(__name__)


def beat(settings: Settings, run_id: str) -> bool:
    """Record that the run is alive; False when the warehouse was busy
    (the next beat tries again: a busy warehouse is a loading run)."""
    try:
        with connection.writer(settings.warehouse, wait=5.0) as con:
            runs.heartbeat(con, run_id, now_utc())
    except connection.WarehouseBusy:
        return False
    return True


def prepare_run(
    settings: Settings,
    registry: Registry,
    run_id: str,
    flow: str,
    *,
    all_feeds: bool = False,
    source_ids: Sequence[str] = (),
    accept_registry_change: bool = False,
) -> RunStart:
    """Migrate, sync the registry, record the run; list the feeds due now,
    the pending links due now and the cached robots.txt answers."""
    now = now_utc()
    with connection.writer(settings.warehouse) as con:
        abandoned = begin(con, registry, run_id, flow, now, accept_change=accept_registry_change)
        feeds = store_feeds.due_feeds(con, now, all_feeds=all_feeds, source_ids=source_ids)
        robots = store_feeds.robots_records(con, now)
        tdmrep = store_feeds.robots_records(con, now, "tdmrep")
        due = load.due_pending(con, now, source_ids, settings.pending_per_run)
        waiting = pending_batch(con, due, run_id, settings, now) if due else None
    return RunStart(tuple(feeds), tuple(robots), waiting, tuple(abandoned), tuple(tdmrep))


def begin(
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    run_id: str,
    flow: str,
    now: datetime,
    *,
    accept_change: bool,
) -> list[str]:
    """What every run does first, in the warehouse: sync the registry (refused
    when it would drop or change what stored articles use, unless
    ``accept_change``) and record the run's start. Returns the runs found dead
    (no heartbeat for long), now marked abandoned."""
    store_feeds.sync_registry(
        con,
        registry,
        now,
        accept_change=accept_change,
        run_id=run_id,
        shipped=default_sources_path(),
    )
    return runs.record_start(con, run_id, flow, now, run_host())


def close_run(
    settings: Settings,
    run_id: str,
    status: str,
    counts: Counter[str],
    reason: str | None = None,
) -> None:
    with connection.writer(settings.warehouse) as con:
        runs.record_end(con, run_id, status, counts, now_utc(), reason=reason)


def end_run(
    settings: Settings,
    run_id: str,
    status: str,
    counts: Counter[str],
    feed_states: Sequence[Staged] = (),
    *,
    reason: str | None = None,
    keep_schedules: bool = False,
) -> RunEnd:
    """What a scheduled run does last: load its feed batches' own rows (feed
    states, listings, feed fetches; staged once each batch's pages were in),
    load what crashed runs left in the staging directory, expire raw pages
    past their retention, and record the run's end, counts and ``reason``.
    With ``keep_schedules`` (the run was offline) no feed's state moves.
    Returns the run's final status and counts (``counts`` is not changed)."""
    counts = Counter(counts)
    try:
        counts.update(load_staged_files(settings, feed_states, keep_schedules=keep_schedules))
    except connection.WarehouseBusy:
        raise
    except Exception as exc:  # the files stay: the next run loads them as leftovers
        counts["feed_states_not_loaded"] += len(feed_states)
        status = "failed"
        log.error("feed states not loaded (the next run loads them): %s", exc)
    try:
        counts.update(load_leftovers(settings, run_id))
    except Exception as exc:
        counts["staged_leftovers_error"] += 1
        log.warning("staged leftovers not loaded (the next run tries again): %s", exc)
    with connection.writer(settings.warehouse) as con:
        orphans = _expire_raw(con, settings)
        counts["raw_pages_expired"] = len(orphans)
        runs.record_end(con, run_id, status, counts, now_utc(), reason=reason)
    RawStore(settings.raw_path).remove(orphans)
    return RunEnd(status, counts)


def _expire_raw(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """Forget raw pages past their retention; the bodies nothing refers to now."""
    if settings.raw_retention_days <= 0:
        return []
    before = now_utc() - timedelta(days=settings.raw_retention_days)
    return list(pages.expire_raw_pages(con, before))


def prune_raw(settings: Settings) -> int:
    """Apply the raw store's retention: rows first, then unreferenced files."""
    if settings.raw_retention_days <= 0:
        return 0  # nothing to expire: the warehouse need not be opened
    with connection.writer(settings.warehouse) as con:
        orphans = _expire_raw(con, settings)
    return RawStore(settings.raw_path).remove(orphans)


def open_run(
    settings: Settings,
    registry: Registry,
    run_id: str,
    flow: str,
    *,
    accept_registry_change: bool = False,
) -> None:
    now = now_utc()
    with connection.writer(settings.warehouse) as con:
        begin(con, registry, run_id, flow, now, accept_change=accept_registry_change)
