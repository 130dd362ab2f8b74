"""Runs and backfills: their rows, heartbeats and checkpoints."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import duckdb

from ingest.records import LoadBatch, PlanItem
from ingest.store.connection import transaction
from ingest.store.load import fetch_row, reject_row
from ingest.store.schema import insert, values


def backfill_plan(con: duckdb.DuckDBPyConnection, backfill_id: str) -> list[PlanItem] | None:
    """The stored plan of a backfill (in processing order), or None if never
    planned, or planned while some sitemap or archive could not be read."""
    found = con.execute(
        "SELECT coalesce(complete, true) FROM backfills WHERE backfill_id = ?", [backfill_id]
    ).fetchone()
    if not found or not found[0]:
        return None
    rows = con.execute(
        "SELECT url, source_id, input, via, published_at, title, warc_offset FROM backfill_plan "
        "WHERE backfill_id = ? ORDER BY position",
        [backfill_id],
    ).fetchall()
    return [PlanItem(*row) for row in rows]


def store_backfill_plan(
    con: duckdb.DuckDBPyConnection,
    backfill_id: str,
    params: Mapping[str, object],
    plan: Sequence[PlanItem],
    log: LoadBatch,
    *,
    complete: bool = True,
) -> None:
    """Store (or replace) a backfill's plan. An incomplete one (a sitemap or
    archive could not be read) is found again by nobody: the same command
    discovers again and replaces it."""
    rows = [
        {**item.__dict__, "backfill_id": backfill_id, "position": i} for i, item in enumerate(plan)
    ]
    with transaction(con):
        con.execute("DELETE FROM backfill_plan WHERE backfill_id = ?", [backfill_id])
        insert(con, "backfill_plan", rows, "keep")
        insert(
            con,
            "fetch_log",
            [fetch_row(log.run_id, f, feed_id) for f, feed_id in log.fetches],
        )
        insert(
            con,
            "rejects",
            [reject_row(log.run_id, r) for r in log.rejects],
        )
        con.execute("DELETE FROM backfills WHERE backfill_id = ?", [backfill_id])
        con.execute(
            "INSERT INTO backfills (backfill_id, params, created_at, planned, "
            "finished_at, complete) VALUES (?, ?, ?, ?, NULL, ?)",
            [backfill_id, json.dumps(params), datetime.now(UTC), len(plan), complete],
        )


def backfill_done_urls(con: duckdb.DuckDBPyConnection, backfill_id: str) -> set[str]:
    """Items of a backfill with a final outcome ('retry' checkpoints are not)."""
    rows = con.execute(
        "SELECT url FROM backfill_done WHERE backfill_id = ? AND outcome <> 'retry'",
        [backfill_id],
    )
    return {u for (u,) in rows.fetchall()}


def backfill_retries(con: duckdb.DuckDBPyConnection, backfill_id: str) -> int:
    """Items of a backfill that failed transiently and are to be tried again."""
    row = con.execute(
        "SELECT count(*) FROM backfill_done WHERE backfill_id = ? AND outcome = 'retry'",
        [backfill_id],
    ).fetchone()
    return int(row[0]) if row else 0


def finish_backfill(con: duckdb.DuckDBPyConnection, backfill_id: str, at: datetime) -> None:
    con.execute("UPDATE backfills SET finished_at = ? WHERE backfill_id = ?", [at, backfill_id])


# A running run writes its heartbeat this often; one silent for STALE_AFTER
# is taken for dead (killed, or its machine lost) and marked 'abandoned'.
HEARTBEAT_EVERY = timedelta(seconds=30)


STALE_AFTER = timedelta(minutes=5)


def running_runs(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> set[str]:
    """Runs that have not recorded their end and are alive (heartbeat fresh)."""
    at = now or datetime.now(UTC)
    rows = con.execute(
        "SELECT run_id FROM runs WHERE finished_at IS NULL "
        "AND coalesce(heartbeat_at, started_at) >= ?",
        [at - STALE_AFTER],
    ).fetchall()
    return {r[0] for r in rows}


def abandon_stale_runs(con: duckdb.DuckDBPyConnection, now: datetime) -> list[str]:
    """Mark runs whose heartbeat stopped long ago as 'abandoned' (their
    process died without recording its end); returns their ids. A run on
    another machine that is alive keeps its heartbeat fresh and is left alone."""
    stale = [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM runs "
            "WHERE finished_at IS NULL AND coalesce(heartbeat_at, started_at) < ?",
            [now - STALE_AFTER],
        ).fetchall()
    ]
    if stale:
        with values(con, "stale", run_id=stale):
            con.execute(
                """
            UPDATE runs SET status = 'abandoned',
                   finished_at = coalesce(heartbeat_at, started_at),
                   reason = 'no heartbeat since ' ||
                            strftime(coalesce(heartbeat_at, started_at), '%Y-%m-%d %H:%M:%S') ||
                            ' UTC (the process died or was killed)'
            WHERE run_id IN (SELECT run_id FROM stale)
            """
            )
    return stale


def heartbeat(con: duckdb.DuckDBPyConnection, run_id: str, at: datetime) -> None:
    with transaction(con, f"heartbeat: {run_id}", run_id):
        con.execute(
            "UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND finished_at IS NULL",
            [at, run_id],
        )


def record_start(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    flow: str,
    started_at: datetime,
    host: str | None = None,
) -> list[str]:
    """Record a run as running (its first heartbeat now); returns the runs
    this marked abandoned."""
    with transaction(con, f"start: {run_id} ({flow})", run_id):
        abandoned = abandon_stale_runs(con, started_at)
        con.execute(
            "INSERT INTO runs (run_id, flow, started_at, status, heartbeat_at, host) "
            "SELECT ?, ?, ?, 'running', ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM runs WHERE run_id = ?)",
            [run_id, flow, started_at, started_at, host, run_id],
        )
    return abandoned


def record_end(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    status: str,
    counts: Mapping[str, int],
    finished_at: datetime,
    *,
    reason: str | None = None,
) -> None:
    summary = json.dumps(dict(sorted(counts.items())))
    with transaction(con, f"end: {run_id} ({status})", run_id):
        con.execute(
            "UPDATE runs SET status = ?, counts = ?, finished_at = ?, heartbeat_at = ?, "
            "reason = ? WHERE run_id = ?",
            [status, summary, finished_at, finished_at, reason, run_id],
        )
