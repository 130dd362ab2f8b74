"""One settings object, read at the edge (CLI, flow entry) and passed down.

Library modules never read ``os.environ``; :func:`Settings.from_env` is the
only place that does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TypeVar

from ingest import __version__
from ingest.location import Lake, parse_warehouse
from ingest.rights import AI_CRAWLERS

DEFAULT_WAREHOUSE = Path("warehouse/news.duckdb")

# Names the project and a contact URL, as polite crawlers do, so that a site
# operator can find out who is fetching and how to opt out.
DEFAULT_USER_AGENT = (
    f"news-ingest/{__version__} (+https://github.com/news-ingest/news-ingest; news ingestion bot)"
)


def default_sources_path() -> Path:
    """The curated registry shipped with the package."""
    return Path(str(resources.files("ingest") / "data" / "sources.toml"))


def _split_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


def _parse_resolve(value: str | None) -> dict[str, str]:
    """``host=ip,host2=ip2`` (like curl's --resolve, without the port)."""
    mapping: dict[str, str] = {}
    for item in _split_list(value):
        host, sep, address = item.partition("=")
        if not sep or not host or not address:
            raise ValueError(f"INGEST_RESOLVE entry {item!r} is not host=address")
        mapping[host.strip()] = address.strip()
    return mapping


def _budget(value: str | None, default: float | None) -> float | None:
    """Seconds; ``0`` or ``none`` for no budget."""
    if value is None or not value.strip():
        return default
    if value.strip().lower() in ("0", "none", "off"):
        return None
    return _number({"INGEST_PAGE_BUDGET": value}, "INGEST_PAGE_BUDGET", 0.0, float)


N = TypeVar("N", int, float)


class SettingError(ValueError):
    """A setting that cannot be read (``INGEST_PER_HOST=abc``)."""


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off setting: 1, true, yes, on / 0, false, no, off (unset: the default)."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingError(f"{name}={raw!r} is not on or off (1/0, true/false, yes/no, on/off)")


def _more_names(base: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    """``base`` and the names of ``extra`` it lacks (compared without case)."""
    known = {name.lower() for name in base}
    return base + tuple(dict.fromkeys(n for n in extra if n.lower() not in known))


def _number(env: Mapping[str, str], name: str, default: N, kind: Callable[[str], N]) -> N:
    """A numeric setting from the environment, or its default when unset;
    a value that is not a number, or is negative, is one clear error."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingError(f"{name}={raw!r} is not {what}") from None
    if value < 0:
        raise SettingError(f"{name}={raw!r} is negative")
    return value


@dataclass(frozen=True)
class Settings:
    # A DuckDB file, or a DuckLake (INGEST_WAREHOUSE=ducklake:sqlite:PATH or
    # ducklake:postgres:CONNINFO, with INGEST_DATA_PATH): ingest.location
    warehouse: Path | Lake = DEFAULT_WAREHOUSE
    sources: Path = field(default_factory=default_sources_path)
    user_agent: str = DEFAULT_USER_AGENT
    # Hosts or IP addresses exempt from the private-address guard. Nothing by
    # default: a feed on the public internet must never make us fetch an
    # address inside the operator's network.
    allow_private_hosts: tuple[str, ...] = ()
    # Static host -> address map consulted before DNS (tests and the demo use
    # it to serve several virtual hosts from 127.0.0.1).
    resolve: Mapping[str, str] = field(default_factory=dict)

    # HTTP limits. A news page is rarely over 2 MB of HTML; 10 MB leaves room
    # for bloated templates while keeping a hostile body from eating memory.
    max_body_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # Total deadline per request, redirects included: a server dripping one
    # byte a second passes every read timeout but not this.
    total_timeout: float = 45.0
    max_redirects: int = 5
    max_connections: int = 64
    # Politeness per origin (scheme://host:port): at most 2 requests in flight
    # and request starts at least 0.2 s apart (5 a second at most), raised to
    # the site's robots.txt Crawl-delay.
    per_host_connections: int = 2
    host_gap_seconds: float = 0.2
    robots_ttl_hours: float = 24.0

    # Feed handling.
    max_items_per_feed: int = 500
    # Scheduling: a feed's first polls are an hour apart; then the interval
    # follows its publishing rate, between 10 minutes and 12 hours.
    default_interval_minutes: int = 60
    min_interval_minutes: int = 10
    max_interval_minutes: int = 720
    # Transient failures in a row before a feed is disabled (about 10 days of
    # capped backoff); permanent ones (404, not a feed) disable after 3.
    disable_after_failures: int = 10
    # Feeds per fetch-feeds step. A batch is at least ``feed_batch_size``
    # feeds, and grows with the feeds due so that a run has about
    # ``feed_batches_per_run`` of them (each a Prefect task run, some 40 ms of
    # CPU on the client and the server, and a staged file of feed states):
    # 10,000 feeds make 20 batches of 500, not 200 of 50. It never exceeds
    # ``feed_batch_max``: a batch's parsed entries (up to
    # ``max_items_per_feed`` per feed) stay in memory until its pages are
    # in, so the cap bounds what a run holds (a 100,000-feed run makes 200
    # batches of 500).
    feed_batch_size: int = 50
    feed_batches_per_run: int = 20
    feed_batch_max: int = 500

    # Story clusters: a copy joins a story first published at most this many
    # days before or after it.
    cluster_window_days: int = 30

    # Raw page archive beside the warehouse (default: <warehouse stem>-raw/),
    # and how long pages are kept there (0: forever).
    raw_dir: Path | None = None
    raw_retention_days: int = 90
    # Staging directory where fetch/extract hand finished batches (Parquet) to
    # the one warehouse loader (default: <warehouse stem>-staging/). Shared by
    # every worker and the loader when scaled out.
    staging_dir: Path | None = None
    # The search index (`ingest search`), its own DuckDB file updated by each
    # run after its loads (default: <warehouse stem>-search/index.duckdb).
    search_dir: Path | None = None
    # A DuckLake's snapshots older than this are expired by `ingest warehouse
    # maintain` (0: kept forever; `ingest query --at` reads only kept ones).
    snapshot_keep_days: float = 30.0
    # Backfill: pages per batch (one load transaction and one checkpoint each).
    backfill_batch_size: int = 50
    # Reprocess: stored pages re-extracted and stored per step.
    reprocess_batch_size: int = 200

    # How a poll moves work. Feed batches fetched at once; pages per chunk (one
    # staged file each); chunks per fetch-extract step (a Prefect task costs
    # its server and client some 40 ms of CPU, so a task handles several, and a
    # group's load overlaps the extraction of the next group); chunks in flight
    # across the run (the next ones download while the process pool extracts,
    # so both cores stay busy with extraction, the expensive step).
    feed_batches_in_flight: int = 2
    page_chunk: int = 48
    page_chunks_per_task: int = 4
    page_chunks_in_flight: int = 6
    # Pending links taken per run at most (oldest first): the page budget
    # bounds what is fetched; this bounds what is held in memory.
    pending_per_run: int = 20_000
    # Staged files of one run written per load transaction at most: a load
    # transaction has a fixed cost (lookups, the near-duplicate band join,
    # cluster refresh, a statement per table) that one chunk would pay each time.
    load_merge_files: int = 8
    # A half-written staging file (dot-name) this old belongs to a dead writer.
    leftover_age_minutes: float = 60.0

    # Pages. A scheduled run spends at most this long fetching pages (from its
    # start): links an origin cannot politely get to within it (its gap,
    # robots.txt Crawl-delay, requests in flight) wait in ``pending_pages``
    # and the next run fetches them first. Ten minutes: two thirds of the
    # 15-minute schedule, leaving time to extract and load. None: no budget
    # (backfills and reprocessing wait for every page).
    page_budget_seconds: float | None = 600.0
    # Pages that failed transiently are retried after 15 minutes, doubling,
    # for 36 hours before the feed's text is final.
    page_retry_minutes: float = 15.0
    page_retry_hours: float = 36.0

    # `ingest query`: a query is stopped after 5 minutes (a long one would
    # keep every load waiting) and may use 4 GB of memory.
    query_timeout_seconds: float = 300.0
    query_memory_limit: str = "4GB"

    # Rights signals (ingest.rights): read each origin's
    # /.well-known/tdmrep.json (cached like robots.txt); the AI and dataset
    # crawlers whose robots.txt groups are recorded (INGEST_AI_CRAWLERS adds
    # names); and whether pages that opt out of archiving (noarchive, TDM
    # rights reserved) keep their text: off by default, the signals are
    # recorded, not enforced.
    tdmrep: bool = True
    ai_crawlers: tuple[str, ...] = AI_CRAWLERS
    withhold_reserved: bool = False

    # Extraction. Bodies shorter than this are treated as a failed extraction
    # and the feed's own text is used when it is longer.
    min_body_chars: int = 200
    extract_workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))

    def with_page_budget(self, seconds: float) -> Settings:
        """These settings with a page budget of ``seconds`` (0: none)."""
        return replace(self, page_budget_seconds=seconds or None)

    def _beside(self, suffix: str) -> Path:
        """A directory beside the warehouse file, or the lake's SQLite catalog
        (its writers share one machine). A PostgreSQL-catalog lake's writers
        may run anywhere: beside its data path, the volume they all share (for
        an ``s3://`` data path, under ``warehouse/`` unless set)."""
        if isinstance(self.warehouse, Path):
            return self.warehouse.parent / f"{self.warehouse.stem}-{suffix}"
        if self.warehouse.catalog == "sqlite":
            catalog = Path(self.warehouse.target)
            return catalog.parent / f"{catalog.stem}-{suffix}"
        if "://" not in self.warehouse.data_path:
            data = Path(self.warehouse.data_path)  # a trailing slash is dropped
            return data.parent / f"{data.name}-{suffix}"
        return DEFAULT_WAREHOUSE.parent / f"lake-{suffix}"

    @property
    def raw_path(self) -> Path:
        return self.raw_dir or self._beside("raw")

    @property
    def staging_path(self) -> Path:
        return self.staging_dir or self._beside("staging")

    @property
    def search_path(self) -> Path:
        return (self.search_dir or self._beside("search")) / "index.duckdb"

    @property
    def report_path(self) -> Path:
        """The report each run that loads articles writes (``ingest report``
        writes others on demand)."""
        return self._beside("reports") / "latest.html"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        warehouse: str | Path | None = None,
        sources: Path | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        base = cls()
        return replace(
            base,
            warehouse=parse_warehouse(
                warehouse or env.get("INGEST_WAREHOUSE") or DEFAULT_WAREHOUSE,
                env.get("INGEST_DATA_PATH") or None,
            ),
            sources=sources or Path(env.get("INGEST_SOURCES") or default_sources_path()),
            user_agent=env.get("INGEST_USER_AGENT") or DEFAULT_USER_AGENT,
            allow_private_hosts=_split_list(env.get("INGEST_ALLOW_PRIVATE_HOSTS")),
            resolve=_parse_resolve(env.get("INGEST_RESOLVE")),
            max_body_bytes=_number(env, "INGEST_MAX_BODY_BYTES", base.max_body_bytes, int),
            total_timeout=_number(env, "INGEST_TOTAL_TIMEOUT", base.total_timeout, float),
            max_items_per_feed=_number(
                env, "INGEST_MAX_ITEMS_PER_FEED", base.max_items_per_feed, int
            ),
            default_interval_minutes=_number(
                env, "INGEST_FEED_INTERVAL_MINUTES", base.default_interval_minutes, int
            ),
            min_interval_minutes=_number(
                env, "INGEST_MIN_INTERVAL_MINUTES", base.min_interval_minutes, int
            ),
            max_interval_minutes=_number(
                env, "INGEST_MAX_INTERVAL_MINUTES", base.max_interval_minutes, int
            ),
            disable_after_failures=_number(
                env, "INGEST_DISABLE_AFTER_FAILURES", base.disable_after_failures, int
            ),
            extract_workers=_number(env, "INGEST_EXTRACT_WORKERS", base.extract_workers, int),
            per_host_connections=_number(env, "INGEST_PER_HOST", base.per_host_connections, int),
            raw_dir=Path(env["INGEST_RAW_DIR"]) if env.get("INGEST_RAW_DIR") else None,
            staging_dir=Path(env["INGEST_STAGING_DIR"]) if env.get("INGEST_STAGING_DIR") else None,
            search_dir=Path(env["INGEST_SEARCH_DIR"]) if env.get("INGEST_SEARCH_DIR") else None,
            raw_retention_days=_number(
                env, "INGEST_RAW_RETENTION_DAYS", base.raw_retention_days, int
            ),
            backfill_batch_size=_number(
                env, "INGEST_BACKFILL_BATCH", base.backfill_batch_size, int
            ),
            cluster_window_days=_number(
                env, "INGEST_CLUSTER_WINDOW_DAYS", base.cluster_window_days, int
            ),
            host_gap_seconds=_number(env, "INGEST_HOST_GAP", base.host_gap_seconds, float),
            max_connections=_number(env, "INGEST_MAX_CONNECTIONS", base.max_connections, int),
            page_budget_seconds=_budget(env.get("INGEST_PAGE_BUDGET"), base.page_budget_seconds),
            page_retry_minutes=_number(
                env, "INGEST_PAGE_RETRY_MINUTES", base.page_retry_minutes, float
            ),
            page_retry_hours=_number(env, "INGEST_PAGE_RETRY_HOURS", base.page_retry_hours, float),
            query_timeout_seconds=_number(
                env, "INGEST_QUERY_TIMEOUT", base.query_timeout_seconds, float
            ),
            query_memory_limit=env.get("INGEST_QUERY_MEMORY") or base.query_memory_limit,
            snapshot_keep_days=_number(
                env, "INGEST_SNAPSHOT_KEEP_DAYS", base.snapshot_keep_days, float
            ),
            tdmrep=_flag(env, "INGEST_TDMREP", base.tdmrep),
            ai_crawlers=_more_names(base.ai_crawlers, _split_list(env.get("INGEST_AI_CRAWLERS"))),
            withhold_reserved=_flag(env, "INGEST_WITHHOLD_RESERVED", base.withhold_reserved),
        )
