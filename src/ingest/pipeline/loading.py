"""The loader's side: batches staged as Parquet files, loaded in order, each
exactly once; what crashed runs left behind.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from ingest.pipeline.common import now_utc
from ingest.records import (
    FeedBatch,
    LoadBatch,
    Reject,
    Staged,
)
from ingest.settings import Settings
from ingest.store import connection, load, runs, staging
from ingest.store.staging import StagingError

log = logging.getLogger(__name__)


def stage(settings: Settings, batch: FeedBatch) -> Staged:
    """Hand a batch's rows to the loader: one Parquet file in the staging
    directory, and only its name goes on."""
    return staging.write(batch.load, settings.staging_path, batch.counts)


def load_staged(settings: Settings, staged: Staged, loaded_by: str | None = None) -> dict[str, int]:
    """Write one staged batch into the warehouse, exactly once, then delete
    its file. A batch another loader already wrote counts nothing here."""
    return dict(load_staged_files(settings, [staged], loaded_by))


def load_staged_files(
    settings: Settings,
    staged: Sequence[Staged],
    loaded_by: str | None = None,
    *,
    keep_schedules: bool = False,
) -> Counter[str]:
    """Load staged files in order, each exactly once, up to ``settings.load_merge_files``
    consecutive files of one run per transaction; the files are read before
    the warehouse is opened, so the writer holds it only to write. With
    ``keep_schedules`` their feed state updates are left out (an offline run
    moves no feed's schedule)."""
    counts: Counter[str] = Counter()
    pending = list(staged)
    while pending:
        group: list[tuple[Staged, LoadBatch | None]] = []
        key: tuple[object, ...] | None = None
        while pending and len(group) < settings.load_merge_files:
            try:
                batch_id, batch = staging.read(Path(pending[0].path))
            except FileNotFoundError:
                group.append((pending.pop(0), None))  # checked against the warehouse below
                continue
            this = (batch.run_id, batch.backfill_id, batch.cluster_window_days)
            if key is not None and this != key:
                break
            if keep_schedules:
                batch = replace(batch, feed_updates=())
            key = this
            group.append((replace(pending.pop(0), batch_id=batch_id), batch))
        written = connection.retrying(
            settings.warehouse, functools.partial(_write_group, group, loaded_by)
        )
        for s, _b in group:
            Path(s.path).unlink(missing_ok=True)
        counts.update(written or {})
    return counts


def _write_group(
    group: Sequence[tuple[Staged, LoadBatch | None]],
    loaded_by: str | None,
    con: duckdb.DuckDBPyConnection,
) -> dict[str, int] | None:
    """One load transaction of consecutive staged batches (``None``: a file
    gone, which some loader must have written)."""
    missing = [s.batch_id for s, b in group if b is None]
    if missing:
        recorded = load.staged_recorded(con, missing)
        lost = [m for m in missing if m not in recorded]
        if lost:
            raise StagingError(f"staged batch {lost[0]} vanished before it was loaded")
    items = [(s.batch_id, b) for s, b in group if b is not None]
    return load.write_staged(con, items, loaded_by) if items else None


def load_leftovers(settings: Settings, run_id: str) -> Counter[str]:
    """Load the staged batches of runs that ended (or died: no heartbeat for
    ``runs.STALE_AFTER``) before loading them, oldest first. A live
    run's files, on this machine or another, are left to it.

    A file that cannot be read (damaged, or from a version whose records no
    longer decode) is moved to ``failed/`` with a ``rejects`` row (stage
    ``load``), and so are the later files of the same run: its feed states
    must not move past pages that were never loaded (the next poll then
    fetches those feeds in full). A file that fails to write for any other
    reason stays for the next run."""
    counts: Counter[str] = Counter()
    directory = settings.staging_path
    now = now_utc()
    for part in staging.stale_parts(
        directory, (now - timedelta(minutes=settings.leftover_age_minutes)).timestamp()
    ):
        part.unlink(missing_ok=True)
    files = staging.pending(directory)
    if not files:
        return counts
    with connection.writer(settings.warehouse) as con:
        running = runs.running_runs(con, now)
    broken_runs: dict[str, str] = {}
    held_runs: set[str] = set()
    for path in files:
        owner = staging.run_of(path)
        try:
            if owner == run_id or owner in running:
                continue
            if owner in held_runs:
                continue  # an earlier file of this run is waiting: keep the order
            if owner in broken_runs:
                _set_aside(settings, path, run_id, now, broken_runs[owner])
                counts["staged_failed"] += 1
                continue
            staged = Staged(str(path), path.name.removesuffix(staging.SUFFIX), owner)
            written = load_staged(settings, staged, loaded_by=run_id)
        except FileNotFoundError:
            continue  # loaded (or set aside) by another loader meanwhile
        except StagingError as exc:
            broken_runs[owner] = f"an earlier batch of run {owner} was set aside ({exc})"
            _set_aside(settings, path, run_id, now, str(exc))
            counts["staged_failed"] += 1
            continue
        except connection.WarehouseBusy:
            raise
        except Exception as exc:
            held_runs.add(owner)
            counts["staged_leftovers_held"] += 1
            log.warning("staged batch %s not loaded, kept for the next run: %s", path.name, exc)
            continue
        counts["staged_leftovers_loaded"] += 1
        counts.update({k: v for k, v in written.items() if v})
    return counts


def _set_aside(settings: Settings, path: Path, run_id: str, now: datetime, why: str) -> None:
    target = staging.quarantine(path)
    reject = Reject("load", f"staged batch not loaded: {why}", now, url=str(target))
    with connection.writer(settings.warehouse) as con:
        load.write_batch(con, LoadBatch(run_id, rejects=(reject,)))
