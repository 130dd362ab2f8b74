"""The stages of the pipeline as plain functions over frozen records.

The jobs (``ingest.jobs``) wire them into runs; ``flows/`` wraps the jobs with
Prefect; tests and benchmarks call them directly. One module per part of a run,
in the order of the data flow of shared/DESIGN.md:

- ``lifecycle``: a run's start (registry synced, run recorded, due work listed)
  and end (feed states, leftovers, raw-page retention, the run's row)
- ``polling``: due feeds -> fetch -> parse -> skip known -> next poll planned
- ``pages``: chunks of links -> robots.txt -> fetch -> extract -> candidates
  (body, canonical URL, publisher, wire) -> staged
- ``loading``: staged Parquet files -> the warehouse, each exactly once
- ``backfilling``: discovery, the stored plan, batches with checkpoints
- ``reprocessing``: stored raw pages extracted again

Every stage returns new records; none changes what it was given.
"""

from __future__ import annotations

from ingest.pipeline.backfilling import (
    RETRY_LATER,
    backfill_pages,
    discover,
    discovery_rows,
    finish_backfill,
    finish_backfill_batch,
    plan_backfill,
)
from ingest.pipeline.common import new_run_id, now_utc, run_host
from ingest.pipeline.lifecycle import (
    beat,
    begin,
    close_run,
    end_run,
    open_run,
    prepare_run,
    prune_raw,
)
from ingest.pipeline.loading import load_leftovers, load_staged, load_staged_files, stage
from ingest.pipeline.pages import (
    RobotsAsked,
    RobotsCache,
    build_candidates,
    extract_batch,
    fetch_pages,
    loop_deadline,
    page_chunks,
    page_context,
    page_deadline,
    raw_pages,
    retry_policy,
    source_context,
    stage_chunks,
)
from ingest.pipeline.polling import (
    batched,
    fetch_feeds,
    listing_changed,
    offline,
    parse_feeds,
    pending_batch,
    policy_for,
    reach,
    schedule_feeds,
    skip_known,
)
from ingest.pipeline.reprocessing import apply_reextracted, reextract, stored_pages

__all__ = [
    "RETRY_LATER",
    "RobotsAsked",
    "RobotsCache",
    "apply_reextracted",
    "backfill_pages",
    "batched",
    "beat",
    "begin",
    "build_candidates",
    "close_run",
    "discover",
    "discovery_rows",
    "end_run",
    "extract_batch",
    "fetch_feeds",
    "fetch_pages",
    "finish_backfill",
    "finish_backfill_batch",
    "listing_changed",
    "load_leftovers",
    "load_staged",
    "load_staged_files",
    "loop_deadline",
    "new_run_id",
    "now_utc",
    "offline",
    "open_run",
    "page_chunks",
    "page_context",
    "page_deadline",
    "parse_feeds",
    "pending_batch",
    "plan_backfill",
    "policy_for",
    "prepare_run",
    "prune_raw",
    "raw_pages",
    "reach",
    "reextract",
    "retry_policy",
    "run_host",
    "schedule_feeds",
    "skip_known",
    "source_context",
    "stage",
    "stage_chunks",
    "stored_pages",
]
