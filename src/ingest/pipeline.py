"""The stages of one ingestion pass as plain functions over typed records.

``flows/`` wraps these with Prefect; tests and benchmarks call them directly.
Reading top to bottom follows the data flow of shared/DESIGN.md:
due feeds -> fetch -> parse -> skip known -> fetch pages -> extract ->
dedup + attribute -> load.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from ingest import metadata, pending, records
from ingest.attribute import WireMatcher, publisher_for
from ingest.backfill import (
    MAX_ARCHIVE_PAGES,
    MAX_SITEMAP_DEPTH,
    Discovery,
    Params,
    order_plan,
    parse_archive_page,
    parse_sitemap,
    read_url_list,
    read_warc_record,
    scan_warc,
)
from ingest.extract import choose_body, extract_pages
from ingest.feeds import parse_feed
from ingest.fetch import Fetcher, origin_of
from ingest.near import fingerprint
from ingest.pending import RetryPolicy
from ingest.rawstore import RawStore
from ingest.records import (
    BackfillStart,
    BodyStatus,
    Candidate,
    DueFeed,
    Extracted,
    FeedBatch,
    FeedEntry,
    FeedUpdate,
    FetchKind,
    FetchResult,
    Listing,
    LoadBatch,
    Outcome,
    Page,
    PendingPage,
    PlanItem,
    Polled,
    RawPage,
    Reject,
    RobotsRecord,
    RunEnd,
    RunStart,
    Staged,
)
from ingest.registry import Registry
from ingest.robots import RobotsPolicy, as_logged, record_from_fetch, robots_url
from ingest.schedule import Failure, Policy, classify, plan
from ingest.settings import Settings, default_sources_path
from ingest.store import connection, load, pages, revisions, runs, staging
from ingest.store import feeds as store_feeds
from ingest.store.staging import StagingError
from ingest.text import content_hash as dedup_hash
from ingest.text import word_count
from ingest.urls import BadURL, canonicalize, host_of, registered_domain

log = logging.getLogger(__name__)


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_run_id() -> str:
    return uuid.uuid4().hex


def run_host() -> str:
    """Which machine and process runs this (``runs.host``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(settings: Settings, run_id: str) -> bool:
    """Record that the run is alive; False when the warehouse was busy
    (the next beat tries again: a busy warehouse is a loading run)."""
    try:
        with connection.writer(settings.warehouse, wait=5.0) as con:
            runs.heartbeat(con, run_id, now_utc())
    except connection.WarehouseBusy:
        return False
    return True


def batched(items: Sequence[DueFeed], size: int) -> list[list[DueFeed]]:
    return [list(items[i : i + size]) for i in range(0, len(items), max(1, size))]


# --------------------------------------------------------------------------- start


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
        due = load.due_pending(con, now, source_ids, settings.pending_per_run)
        waiting = pending_batch(con, due, run_id, settings, now) if due else None
    return RunStart(tuple(feeds), tuple(robots), waiting, tuple(abandoned))


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


def policy_for(settings: Settings) -> Policy:
    return Policy(
        default_interval=timedelta(minutes=settings.default_interval_minutes),
        min_interval=timedelta(minutes=settings.min_interval_minutes),
        max_interval=timedelta(minutes=settings.max_interval_minutes),
        disable_after_transient=settings.disable_after_failures,
    )


# --------------------------------------------------------------------------- feeds


def reach(hosts: dict[str, bool], res: FetchResult) -> None:
    """Note in ``hosts`` (the caller's own tally) whether ``res``'s host
    answered (any HTTP answer counts)."""
    if res.outcome is Outcome.DEFERRED:
        return
    try:
        host = host_of(res.url)
    except BadURL:
        return
    hosts[host] = hosts.get(host, False) or not res.unreachable


def offline(hosts: Mapping[str, bool]) -> str | None:
    """Why the run could not reach the network, or None: no host that was
    tried could be resolved or connected to."""
    if hosts and not any(hosts.values()):
        return f"no network: {len(hosts)} of {len(hosts)} hosts unreachable"
    return None


async def fetch_feeds(fetcher: Fetcher, feeds: Sequence[DueFeed]) -> list[FetchResult]:
    return list(
        await asyncio.gather(
            *(
                fetcher.get(f.url, FetchKind.FEED, etag=f.etag, last_modified=f.last_modified)
                for f in feeds
            )
        )
    )


def parse_feeds(
    feeds: Sequence[DueFeed],
    results: Sequence[FetchResult],
    registry: Registry,
    settings: Settings,
    run_id: str,
) -> FeedBatch:
    """Parse fetched feeds; every problem is a row with its reason."""
    counts: Counter[str] = Counter()
    hosts: dict[str, bool] = {}
    fetches: list[tuple[FetchResult, str | None]] = []
    rejects: list[Reject] = []
    polls: list[Polled] = []
    entries: dict[str, FeedEntry] = {}
    for feed, res in zip(feeds, results, strict=True):
        if res.outcome is Outcome.DEFERRED:
            # never requested (the run is stopping): the feed stays due as it was
            counts["feed_deferred"] += 1
            continue
        reach(hosts, res)
        # the feed's body is parsed here and not kept: the batch lives until
        # all of its pages are loaded, and its fetch rows are staged to disk
        fetches.append((res.without_body(), feed.feed_id))
        counts[f"feed_{res.outcome}"] += 1
        if not res.ok:
            polls.append(Polled(feed, res.without_body()))
            continue
        source = registry.get(feed.source_id)
        parsed = parse_feed(
            res.body,
            res.headers,
            feed_id=feed.feed_id,
            source_id=feed.source_id,
            base_url=res.final_url or feed.url,
            max_items=settings.max_items_per_feed,
            now=res.fetched_at,
            default_language=source.language if source else None,
        )
        polls.append(Polled(feed, res.without_body(), parsed))
        counts.update({f"parse_{k}": v for k, v in parsed.counts.items()})
        if parsed.problem:
            counts["feed_bozo" if parsed.is_feed else "feed_not_a_feed"] += 1
            rejects.append(
                Reject("parse", parsed.problem[:500], res.fetched_at, feed.url, feed.feed_id)
            )
        for link, why in parsed.bad_links:
            rejects.append(Reject("parse", why, res.fetched_at, link, feed.feed_id))
        if reused := parsed.counts.get("entry_guid_reused"):
            rejects.append(
                Reject(
                    "parse",
                    f"feed gives {reused} item(s) the GUID of another item with a different "
                    "link; each link was taken as its own article",
                    res.fetched_at,
                    feed.url,
                    feed.feed_id,
                )
            )
        if parsed.counts.get("items_over_cap"):
            rejects.append(
                Reject(
                    "parse",
                    f"feed lists {parsed.counts['items_over_cap'] + len(parsed.entries)} items; "
                    f"took the newest {settings.max_items_per_feed} (INGEST_MAX_ITEMS_PER_FEED)",
                    res.fetched_at,
                    feed.url,
                    feed.feed_id,
                )
            )
        for entry in parsed.entries:
            entries.setdefault(f"{entry.feed_id} {entry.url}", entry)
    return FeedBatch(
        run_id=run_id,
        new_entries=tuple(entries.values()),
        polled=tuple(polls),
        load=LoadBatch(
            run_id,
            cluster_window_days=settings.cluster_window_days,
            fetches=tuple(fetches),
            rejects=tuple(rejects),
        ),
        counts=counts,
        hosts=hosts,
    )


def skip_known(batch: FeedBatch, settings: Settings) -> FeedBatch:
    """Entries whose URL is already an article become sightings, not fetches;
    entries whose link already waits in ``pending_pages`` join the queue
    rather than being fetched twice; then each feed's next poll is planned
    from how many entries were new. Returns the batch with only the links
    to fetch, its polls planned (and dropped)."""
    counts: Counter[str] = Counter()
    listings: list[Listing] = []
    queued: list[PendingPage] = []
    fresh: list[FeedEntry] = list(batch.new_entries)
    if batch.new_entries:
        urls = [e.url for e in batch.new_entries]
        with connection.writer(settings.warehouse) as con:
            known = load.known_listings(con, urls)
            waiting = load.pending_keys(con, urls)
        queued_urls = {u for u, _ in waiting}
        fresh = []
        now = now_utc()
        for entry in batch.new_entries:
            seen = known.get(entry.url)
            if seen is None and entry.url in queued_urls:
                if (entry.url, entry.feed_id) not in waiting:
                    queued.append(pending.queued(entry, now, "link already queued"))
                counts["entries_pending"] += 1
            elif seen is None:
                fresh.append(entry)
            elif listing_changed(entry, seen):
                # The feed retitled or updated a known article: fetch it again
                # to store a revision if its text or title changed.
                fresh.append(entry)
                counts["entries_changed"] += 1
            else:
                listings.append(Listing(entry, seen.article_id, now))
                counts["entries_known"] += 1
        counts["entries_new"] += len(fresh) - counts["entries_changed"]
    new_by_feed = Counter(e.feed_id for e in fresh)
    polled = [replace(p, new_entries=new_by_feed[p.feed.feed_id]) for p in batch.polled]
    updates, schedule_counts = schedule_feeds(polled, settings)
    counts.update(schedule_counts)
    # Planned: the parsed feeds (every entry, known ones included) are not
    # needed any more, and a batch lives until all of its pages are loaded.
    rows = batch.load.empty()
    rows = replace(
        rows, listings=tuple(listings), pending=tuple(queued), feed_updates=tuple(updates)
    )
    return replace(batch.plus(rows, counts), new_entries=tuple(fresh), polled=())


def pending_batch(
    con: duckdb.DuckDBPyConnection,
    due: Sequence[PendingPage],
    run_id: str,
    settings: Settings,
    now: datetime,
) -> FeedBatch:
    """The links of ``pending_pages`` whose next attempt has come, as a batch
    fetched before any feed's: a retry, or a queued link still unknown, is
    fetched; a queued link that became a known article meanwhile (another
    feed listed it) is only a sighting."""
    known = load.known_listings(con, (p.entry.url for p in due))
    fetch: list[FeedEntry] = []
    listings: list[Listing] = []
    for p in due:
        seen = known.get(p.entry.url)
        retry_page = seen is not None and seen.body_status == BodyStatus.PROVISIONAL
        if seen is None or (retry_page and p.kind == pending.RETRY):
            fetch.append(p.entry)
        else:
            listings.append(Listing(p.entry, seen.article_id, now))
    return FeedBatch(
        run_id=run_id,
        new_entries=tuple(fetch),
        load=LoadBatch(
            run_id,
            cluster_window_days=settings.cluster_window_days,
            listings=tuple(listings),
            pending_done=tuple((x.entry.url, x.entry.feed_id) for x in listings),
        ),
        counts={"pending_due": len(due), "pending_fetched": len(fetch)},
    )


def listing_changed(entry: FeedEntry, seen: records.KnownListing) -> bool:
    """Whether a feed's listing of a known article says the article changed."""
    if seen.entry_title and entry.title and entry.title != seen.entry_title:
        return True
    return bool(
        entry.updated_at and seen.entry_updated_at and entry.updated_at > seen.entry_updated_at
    )


def schedule_feeds(
    polls: Sequence[Polled], settings: Settings
) -> tuple[list[FeedUpdate], Counter[str]]:
    """A state update per polled feed: validators, next poll, failures, moves."""
    policy = policy_for(settings)
    counts: Counter[str] = Counter()
    updates: list[FeedUpdate] = []
    for polled in polls:
        feed, res, parsed = polled.feed, polled.result, polled.parsed
        is_feed = parsed.is_feed if parsed is not None else None
        step = plan(
            feed.history,
            res,
            is_feed=is_feed,
            new_entries=polled.new_entries,
            ttl_minutes=parsed.ttl_minutes if parsed else None,
            policy=policy,
        )
        usable = step.failure is None and res.ok
        if step.failure is not None:
            counts[f"feed_failure_{step.failure}"] += 1
        if step.disable_reason:
            counts["feeds_disabled"] += 1
        moved_to = None
        if res.moved_to and res.moved_to != feed.url and step.failure is None:
            moved_to = res.moved_to
            counts["feeds_moved"] += 1
        error = res.error or (parsed.problem if parsed else None)
        updates.append(
            FeedUpdate(
                feed_id=feed.feed_id,
                fetched_at=res.fetched_at,
                outcome=str(res.outcome) if step.failure is None or not res.ok else "error",
                status=res.status,
                error=error,
                next_fetch_at=step.next_fetch_at,
                consecutive_failures=step.consecutive_failures,
                # A feed that did not parse keeps its old validators: the next
                # poll must fetch it whole again.
                etag=res.headers.get("etag") if usable else None,
                last_modified=res.headers.get("last-modified") if usable else None,
                title=parsed.title if parsed else None,
                entries=len(parsed.entries) if parsed else None,
                ttl_minutes=parsed.ttl_minutes if parsed else None,
                interval_minutes=step.interval_minutes,
                new_per_hour=step.new_per_hour,
                new_entries=polled.new_entries if usable else None,
                failure_kind=str(step.failure) if step.failure else None,
                disabled_reason=step.disable_reason,
                moved_to=moved_to,
                old_url=feed.url,
            )
        )
    return updates, counts


# --------------------------------------------------------------------------- pages


def page_chunks(batch: FeedBatch, size: int) -> tuple[list[FeedBatch], FeedBatch]:
    """Split a feed batch's new entries into chunks of pages, each its own
    load unit, so that fetching the next chunk overlaps extracting this one.

    Entries are interleaved by host first: a chunk then spans many hosts and
    is not held back by one host's politeness gap. The feed-level parts of the
    batch (feed states, listings, fetch rows) stay in ``batch`` and must be
    loaded after every chunk, so that a feed's new validators are stored only
    once all of its entries are. Returns the chunks and that rest (the batch
    without its links).
    """
    by_host: dict[str, list[FeedEntry]] = {}
    for entry in batch.new_entries:
        by_host.setdefault(origin_of(entry.url), []).append(entry)
    queues = list(by_host.values())
    ordered: list[FeedEntry] = []
    for i in range(max((len(q) for q in queues), default=0)):
        ordered += [q[i] for q in queues if i < len(q)]
    chunks = [
        FeedBatch(
            run_id=batch.run_id,
            new_entries=tuple(ordered[i : i + size]),
            load=batch.load.empty(),
        )
        for i in range(0, len(ordered), max(1, size))
    ]
    return chunks, replace(batch, new_entries=())


@dataclass(frozen=True)
class RobotsAsked:
    """A robots.txt answer, and the rows of its fetch when one was made."""

    policy: RobotsPolicy | None
    fetch: FetchResult | None = None
    record: RobotsRecord | None = None  # the answer to cache in the warehouse


class RobotsCache:
    """robots.txt answers for a run: cached rows first, one fetch per origin."""

    def __init__(self, records: Sequence[RobotsRecord], settings: Settings) -> None:
        self.settings = settings
        self._policies = {r.origin: RobotsPolicy(r, settings.user_agent) for r in records}
        self._pending: dict[str, asyncio.Future[RobotsAsked]] = {}

    async def policy(
        self, fetcher: Fetcher, origin: str, wait_until: float | None = None
    ) -> RobotsAsked:
        """The origin's robots.txt answer (None when it could not be asked
        before ``wait_until``: the page then waits too), with the fetch's
        rows for the one caller whose request asked it."""
        if origin in self._policies:
            return RobotsAsked(self._policies[origin])
        mine = origin not in self._pending
        if mine:
            self._pending[origin] = asyncio.ensure_future(self._fetch(fetcher, origin, wait_until))
        found = await asyncio.shield(self._pending[origin])
        if found.policy is None and self._pending.get(origin) is not None:
            self._pending.pop(origin, None)  # the next caller asks again
        return found if mine else RobotsAsked(found.policy)

    async def _fetch(self, fetcher: Fetcher, origin: str, wait_until: float | None) -> RobotsAsked:
        res = await fetcher.get(robots_url(origin), FetchKind.ROBOTS, wait_until=wait_until)
        if res.outcome is Outcome.DEFERRED:
            return RobotsAsked(None)
        record = record_from_fetch(origin, res, timedelta(hours=self.settings.robots_ttl_hours))
        policy = RobotsPolicy(record, self.settings.user_agent)
        if (delay := policy.crawl_delay()) is not None:
            fetcher.set_crawl_delay(origin, delay)
        self._policies[origin] = policy
        # an origin that could not be reached at all (offline, say) is not
        # remembered as "disallow all" for an hour: the next run asks again
        kept = None if res.unreachable else record
        return RobotsAsked(policy, as_logged(res.without_body()), kept)

    def apply_delays(self, fetcher: Fetcher) -> None:
        for origin, policy in self._policies.items():
            if (delay := policy.crawl_delay()) is not None:
                fetcher.set_crawl_delay(origin, delay)


def loop_deadline(deadline: float | None) -> float | None:
    """A wall-clock deadline (``time.time()``) as a time of the running loop."""
    if deadline is None:
        return None
    return asyncio.get_running_loop().time() + (deadline - time.time())


async def fetch_pages(
    fetcher: Fetcher,
    batch: FeedBatch,
    robots: RobotsCache | None = None,
    deadline: float | None = None,
) -> tuple[FeedBatch, list[Page]]:
    """Fetch every new entry's page once (two feeds may list the same link),
    after asking the site's robots.txt; a disallowed page is ``skipped``.
    Returns the batch with the robots.txt fetches it made, and the pages.

    ``deadline`` (wall clock) is the run's page budget: a page whose origin's
    turn would come later is not requested (outcome ``deferred``)."""
    wait_until = loop_deadline(deadline)
    asked: list[RobotsAsked] = []

    async def one(entry: FeedEntry) -> FetchResult:
        if robots is not None:
            answer = await robots.policy(fetcher, origin_of(entry.url), wait_until)
            if answer.fetch is not None:
                asked.append(answer)
            policy = answer.policy
            if policy is None:
                return FetchResult(
                    entry.url,
                    FetchKind.PAGE,
                    Outcome.DEFERRED,
                    now_utc(),
                    error="robots.txt not asked before the run's page budget ran out",
                )
            allowed, reason = policy.allowed(entry.url)
            if not allowed:
                # An unreachable robots.txt means "disallow all" for now: a
                # failure that may pass, retried like a page that failed.
                outcome = (
                    Outcome.BLOCKED
                    if policy.blocked
                    else Outcome.ERROR
                    if policy.unreachable
                    else Outcome.SKIPPED
                )
                return FetchResult(entry.url, FetchKind.PAGE, outcome, now_utc(), error=reason)
        return await fetcher.get(entry.url, FetchKind.PAGE, wait_until=wait_until)

    unique: dict[str, asyncio.Task[FetchResult]] = {}
    async with asyncio.TaskGroup() as tg:
        for e in batch.new_entries:
            if e.url not in unique:
                unique[e.url] = tg.create_task(one(e))
    pages = [Page(e, unique[e.url].result()) for e in batch.new_entries]
    rows = replace(
        batch.load.empty(),
        fetches=tuple((a.fetch, None) for a in asked if a.fetch is not None),
        robots=tuple(a.record for a in asked if a.record is not None),
    )
    counts = Counter(f"robots_{a.fetch.outcome}" for a in asked if a.fetch is not None)
    return batch.plus(rows, counts), pages


def source_context(registry: Registry | None, source_id: str, url: str) -> metadata.Context:
    """What the metadata step knows of a page from its source alone."""
    source = registry.get(source_id) if registry is not None else None
    return metadata.Context(
        url=url,
        source_name=source.name if source else None,
        country=source.country if source else None,
        timezone=source.timezone if source else None,
        language=source.language if source else None,
        not_people=_not_people(registry),
    )


def page_context(
    entry: FeedEntry, registry: Registry | None, url: str | None = None
) -> metadata.Context:
    """What the metadata step knows of a page besides the page: its listing
    (title, author, date in the feed's own offset, language) and its source
    (name, country, time zone, language), and which names are never people."""
    published = entry.published_at
    if published is not None and entry.published_offset is not None:
        published = published.astimezone(timezone(timedelta(minutes=entry.published_offset)))
    return replace(
        source_context(registry, entry.source_id, url or entry.url),
        entry_title=entry.title,
        entry_author=entry.author,
        entry_published=published if entry.published_offset is not None else None,
        entry_language=entry.language,
    )


def _not_people(registry: Registry | None) -> tuple[str, ...]:
    if registry is None:
        return ()
    return tuple(n for s in registry.wires() for n in (s.name, *s.credits))


def extract_batch(
    pages: Sequence[Page], settings: Settings, registry: Registry | None = None
) -> list[Extracted | None]:
    """Extract every fetched page in the process pool, which also keeps each
    in the raw archive; None where no page was fetched."""
    todo: dict[str, tuple[bytes, str, metadata.Context]] = {}
    for p in pages:
        if p.fetch.ok and p.fetch.body and p.entry.url not in todo:
            final = p.fetch.final_url or p.entry.url
            todo[p.entry.url] = (p.fetch.body, final, page_context(p.entry, registry, final))
    keys = list(todo)
    extracted = extract_pages([todo[k] for k in keys], settings.extract_workers, settings.raw_path)
    results = dict(zip(keys, extracted, strict=True))
    return [results.get(p.entry.url) for p in pages]


def raw_pages(pages: Sequence[Page], extracted: Sequence[Extracted | None]) -> tuple[RawPage, ...]:
    """The raw archive's rows for the pages the extraction archived (once per URL)."""
    rows: dict[str, RawPage] = {}
    for page, ex in zip(pages, extracted, strict=True):
        res = page.fetch
        if ex is None or not ex.raw_sha256 or page.entry.url in rows:
            continue
        rows[page.entry.url] = RawPage(
            url=page.entry.url,
            final_url=res.final_url,
            # a page read from a WARC file is archived now: its retention
            # counts from today, not from its crawl date
            fetched_at=now_utc() if res.offline else res.fetched_at,
            sha256=ex.raw_sha256,
            bytes=len(res.body),
            status=res.status,
            content_type=res.headers.get("content-type"),
        )
    return tuple(rows.values())


def _sane_canonical(page_canonical: str | None, final_url: str, registry: Registry) -> str | None:
    """A page's rel=canonical, when it is an http(s) URL on the page's own site
    (or on a registered source's domain). Anything else is ignored: a
    canonical pointing at a homepage, another site or garbage is a CMS bug."""
    if not page_canonical:
        return None
    try:
        url = canonicalize(page_canonical, base=final_url)
    except BadURL:
        return None
    parts, final = urlsplit(url), urlsplit(final_url)
    host, final_host = parts.hostname or "", final.hostname or ""
    if parts.path in ("", "/") and final.path not in ("", "/"):
        return None
    if registered_domain(host) == registered_domain(final_host) or registry.owner_of(host):
        return url
    return None


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base=timedelta(minutes=settings.page_retry_minutes),
        window=timedelta(hours=settings.page_retry_hours),
    )


def build_candidates(
    batch: FeedBatch,
    pages: Sequence[Page],
    extracted: Sequence[Extracted | None],
    registry: Registry,
    settings: Settings,
    *,
    queue: bool = True,
) -> FeedBatch:
    """Choose each body (page or feed text, and its status), canonical URL,
    publisher and wire; hold back the links whose page is still to come.

    Without ``queue`` (backfills) nothing goes to ``pending_pages``: a page
    that was not requested or failed transiently is left out, and the same
    backfill command tries it again."""
    matcher = WireMatcher(registry)
    policy = retry_policy(settings)
    counts: Counter[str] = Counter()
    fetches: list[tuple[FetchResult, str | None]] = []
    held: list[PendingPage] = []
    left: list[tuple[str, str]] = []
    rejects: list[Reject] = []
    candidates: list[Candidate] = []
    for page, ex in zip(pages, extracted, strict=True):
        entry, res = page.entry, page.fetch
        if res.outcome is Outcome.DEFERRED:
            # never requested: no fetch row, no article; the next run fetches it
            if queue:
                held.append(pending.queued(entry, res.fetched_at, res.error))
            counts["pages_deferred"] += 1
            continue
        fetches.append((res.without_body(), entry.feed_id))
        counts[f"page_{res.outcome}"] += 1
        transient = pending.page_failure(res) is Failure.TRANSIENT
        hold = transient and not pending.gave_up(entry, res.fetched_at, policy)
        if hold and not queue:
            counts["pages_retry_later"] += 1
            continue
        if hold:
            held.append(pending.retry(entry, res.fetched_at, res.error, policy))
            counts["pages_retry_later"] += 1
        elif entry.queued_at is not None:
            left.append((entry.url, entry.feed_id))
        chosen = choose_body(ex, entry, settings.min_body_chars)
        if chosen is not None and not chosen.authors and chosen.author:
            # a body from the feed's text: its author line, people only
            names = [
                *_not_people(registry),
                *(s.name for s in registry if s.source_id == entry.source_id),
            ]
            found = tuple(metadata.people(chosen.author, names))
            chosen = replace(chosen, authors=found, author="; ".join(found) or None)
        if chosen is None:
            if hold:
                continue  # no text yet: the article comes with its page
            reason = res.error or (ex.problem if ex else None) or "no text on page or in feed"
            rejects.append(
                Reject("extract", reason[:500], res.fetched_at, entry.url, entry.feed_id)
            )
            counts["articles_rejected"] += 1
            continue
        if ex is not None and chosen.extractor == ex.extractor:
            status, why = BodyStatus.PAGE, None
        elif hold:
            status, why = BodyStatus.PROVISIONAL, f"page to be retried: {res.error}"
        elif transient:
            status = BodyStatus.FEED_FINAL
            why = f"page still failing after {entry.attempts + 1} attempts: {res.error}"
        else:
            status = BodyStatus.FEED_FINAL
            why = res.error or chosen.problem or (ex.problem if ex else None) or "no page text"
        counts[f"body_{chosen.extractor.split('-')[0]}"] += 1
        counts[f"body_status_{status}"] += 1
        final = entry.url
        if res.ok and res.final_url:
            try:
                final = canonicalize(res.final_url)
            except BadURL:
                final = entry.url
        canonical = _sane_canonical(ex.page_canonical if ex else None, final, registry) or final
        urls = tuple(dict.fromkeys((canonical, final, entry.url)))
        listing_source = registry.get(entry.source_id)
        source_id = entry.source_id
        if listing_source is not None:
            source_id = publisher_for(listing_source, canonical, registry).source_id
        wire = matcher.match(chosen.body, chosen.author or entry.author)
        if wire == source_id:
            wire = None  # a wire's own copy is not "credited to" itself
        candidates.append(
            Candidate(
                fingerprint=chosen.fingerprint or fingerprint(chosen.body),
                entry=entry,
                canonical_url=canonical,
                urls=urls,
                extracted=chosen,
                source_id=source_id,
                wire_service=wire,
                seen_at=res.fetched_at,
                body_status=status,
                body_reason=why[:500] if why else None,
            )
        )
    rows = replace(
        batch.load.empty(),
        candidates=tuple(candidates),
        fetches=tuple(fetches),
        rejects=tuple(rejects),
        raw_pages=raw_pages(pages, extracted),
        pending=tuple(held),
        pending_done=tuple(left),
    )
    return replace(batch.plus(rows, counts), new_entries=())


# --------------------------------------------------------------------------- load


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
        with connection.writer(settings.warehouse) as con:
            missing = [s.batch_id for s, b in group if b is None]
            if missing:
                recorded = load.staged_recorded(con, missing)
                lost = [m for m in missing if m not in recorded]
                if lost:
                    raise StagingError(f"staged batch {lost[0]} vanished before it was loaded")
            items = [(s.batch_id, b) for s, b in group if b is not None]
            written = load.write_staged(con, items, loaded_by) if items else None
        for s, _b in group:
            Path(s.path).unlink(missing_ok=True)
        counts.update(written or {})
    return counts


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


async def stage_chunks(
    fetcher: Fetcher,
    chunks: Sequence[FeedBatch],
    robots: RobotsCache | None,
    registry: Registry,
    settings: Settings,
    *,
    slots: asyncio.Semaphore | None = None,
    deadline: float | None = None,
) -> list[Staged]:
    """Fetch, extract and attribute chunks of pages and stage each chunk as it
    is done. ``slots`` bounds the chunks in flight (shared by every caller in
    the process): the next chunks download while the process pool extracts,
    and at most that many chunks of pages are in memory. ``deadline`` (wall
    clock): the run's page budget."""
    gate = slots or asyncio.Semaphore(settings.page_chunks_in_flight)

    async def one(chunk: FeedBatch) -> Staged:
        async with gate:
            fetched, pages = await fetch_pages(fetcher, chunk, robots, deadline)

            def work() -> Staged:
                extracted = extract_batch(pages, settings, registry)
                return stage(
                    settings, build_candidates(fetched, pages, extracted, registry, settings)
                )

            return await asyncio.to_thread(work)

    return list(await asyncio.gather(*(one(c) for c in chunks)))


def page_deadline(settings: Settings, started: float | None = None) -> float | None:
    """The wall-clock time a scheduled run stops sending page requests."""
    if settings.page_budget_seconds is None:
        return None
    return (started if started is not None else time.time()) + settings.page_budget_seconds


# --------------------------------------------------------------------------- backfill


async def discover(fetcher: Fetcher, registry: Registry, params: Params) -> Discovery:
    """Select the backfill's items before fetching any page.

    ``--urls`` / ``--warc`` inputs are used as given; otherwise every chosen
    source's sitemaps and archived/paged feeds are walked, keeping entries in
    the date range (undated sitemap entries only with ``include_undated``).
    """
    found = Discovery()
    chosen = [s for s in registry if not params.source_ids or s.source_id in params.source_ids]
    if params.urls_file:
        found.merge(read_url_list(Path(params.urls_file), registry, params.source_ids))
    for warc in params.warc:
        found.merge(await asyncio.to_thread(scan_warc, Path(warc), registry, params))
    if params.urls_file or params.warc:
        return found
    for source in chosen:
        for sitemap in source.sitemaps:
            await _walk_sitemap(
                fetcher, source_id=source.source_id, root=sitemap, params=params, found=found
            )
        for feed in source.feeds:
            await _walk_archive(
                fetcher, source_id=source.source_id, feed=feed, params=params, found=found
            )
    return found


def discovery_rows(found: Discovery, run_id: str) -> LoadBatch:
    """What a discovery leaves in the warehouse: its fetches, and a reject
    per URL it refused."""
    now = now_utc()
    return LoadBatch(
        run_id,
        fetches=tuple((f, None) for f in found.fetches),
        rejects=tuple(Reject("plan", reason, now, url) for url, reason in found.bad_urls),
    )


def _unreadable(found: Discovery, res: FetchResult, skip: str) -> None:
    """A sitemap or archive page that could not be read; a failure that may
    pass leaves the plan incomplete, so the same command discovers again."""
    found.skip(skip)
    if res.outcome is Outcome.DEFERRED or classify(res, is_feed=True) is Failure.TRANSIENT:
        found.incomplete = True


async def _walk_sitemap(
    fetcher: Fetcher, *, source_id: str, root: str, params: Params, found: Discovery
) -> None:
    queue: list[tuple[str, int]] = [(root, 0)]
    seen: set[str] = set()
    while queue:
        url, depth = queue.pop(0)
        if url in seen or depth > MAX_SITEMAP_DEPTH:
            continue
        seen.add(url)
        res = await fetcher.get(url, FetchKind.SITEMAP)
        found.fetches.append(res.without_body())
        if not res.ok:
            _unreadable(found, res, "sitemap_fetch_failed")
            continue
        pages, children = parse_sitemap(res.body)
        for child in children:
            # An index entry last modified before the range holds nothing in it.
            if child.when is not None and child.when < params.start:
                found.skip("sitemap_older_than_range")
                continue
            try:
                queue.append((canonicalize(child.url, base=url), depth + 1))
            except BadURL as exc:
                found.bad_url(child.url, exc)
        for page in pages:
            if page.when is None and not params.include_undated:
                found.skip("sitemap_undated")
                continue
            if not params.in_range(page.when):
                found.skip("outside_range")
                continue
            try:
                link = canonicalize(page.url, base=url)
            except BadURL as exc:
                found.bad_url(page.url, exc)
                continue
            found.items.append(PlanItem(link, source_id, url, "sitemap", page.when, page.title))


async def _walk_archive(
    fetcher: Fetcher, *, source_id: str, feed: str, params: Params, found: Discovery
) -> None:
    """Follow RFC 5005 prev-archive / next links while pages reach into the range."""
    url: str | None = feed
    seen: set[str] = set()
    pages = 0
    while url and url not in seen and pages < MAX_ARCHIVE_PAGES:
        seen.add(url)
        pages += 1
        res = await fetcher.get(url, FetchKind.FEED)
        found.fetches.append(res.without_body())
        if not res.ok:
            _unreadable(found, res, "archive_fetch_failed")
            return
        page = parse_archive_page(res.body, dict(res.headers), res.final_url or url)
        dates = [when for _, when, _ in page.entries if when is not None]
        for link, when, title in page.entries:
            if when is None and not params.include_undated:
                found.skip("feed_entry_undated")
                continue
            if not params.in_range(when):
                found.skip("outside_range")
                continue
            try:
                found.items.append(
                    PlanItem(canonicalize(link, base=url), source_id, feed, "archive", when, title)
                )
            except BadURL as exc:
                found.bad_url(link, exc)
        # Archives go back in time: stop once a whole page is older than the range.
        if dates and max(dates) < params.start:
            return
        following: str | None = None
        for onward in page.next_urls:
            try:
                following = canonicalize(onward, base=url)
                break
            except BadURL as exc:
                found.bad_url(onward, exc)
        url = following


# A backfill checkpoint that is not done: the page failed transiently (or was
# not requested) and the same command tries it again.
RETRY_LATER = "retry"


async def plan_backfill(
    settings: Settings,
    registry: Registry,
    params: Params,
    run_id: str,
    fetcher: Fetcher,
    *,
    accept_registry_change: bool = False,
) -> BackfillStart:
    """Find or make the plan of this backfill; list what is not done yet."""
    backfill_id = params.backfill_id()
    now = now_utc()
    with connection.writer(settings.warehouse) as con:
        begin(con, registry, run_id, "backfill", now, accept_change=accept_registry_change)
        plan = runs.backfill_plan(con, backfill_id)
        robots = store_feeds.robots_records(con, now)
    skipped: dict[str, int] = {}
    if plan is None:
        found = await discover(fetcher, registry, params)
        plan = order_plan(found.items, params)
        skipped = found.skipped
        rows = discovery_rows(found, run_id)
        with connection.writer(settings.warehouse) as con:
            runs.store_backfill_plan(
                con, backfill_id, params.describe(), plan, rows, complete=not found.incomplete
            )
    with connection.writer(settings.warehouse) as con:
        done = runs.backfill_done_urls(con, backfill_id)
        retries = runs.backfill_retries(con, backfill_id)
    todo = tuple(item for item in plan if item.url not in done)
    return BackfillStart(backfill_id, todo, len(plan), tuple(robots), skipped, retries)


def _entry(item: PlanItem, registry: Registry) -> FeedEntry:
    source = registry.get(item.source_id)
    return FeedEntry(
        feed_id=f"{item.via}:{item.input}"[:300],
        source_id=item.source_id,
        url=item.url,
        link=item.url,
        guid=None,
        title=item.title,
        summary=None,
        content=None,
        author=None,
        published_at=item.published_at,
        language=source.language if source else None,
        via=item.via,
    )


async def backfill_pages(
    fetcher: Fetcher,
    *,
    robots: RobotsCache | None,
    items: Sequence[PlanItem],
    registry: Registry,
    settings: Settings,
    run_id: str,
    backfill_id: str,
) -> tuple[FeedBatch, list[Page]]:
    """Known URLs become sightings; the rest are fetched (or read from their WARC)."""
    by_url = {item.url: item for item in items}
    batch = FeedBatch(
        run_id=run_id,
        new_entries=tuple(_entry(item, registry) for item in items),
        load=LoadBatch(
            run_id, cluster_window_days=settings.cluster_window_days, backfill_id=backfill_id
        ),
    )
    batch = await asyncio.to_thread(skip_known, batch, settings)
    known = replace(batch.load.empty(), done={x.entry.url: "known" for x in batch.load.listings})
    batch = batch.plus(known)
    offline = [e for e in batch.new_entries if by_url[e.url].via == "warc"]
    online = tuple(e for e in batch.new_entries if by_url[e.url].via != "warc")
    batch, pages = await fetch_pages(fetcher, replace(batch, new_entries=online), robots)
    for entry in offline:
        item = by_url[entry.url]
        body, ctype = await asyncio.to_thread(
            read_warc_record, Path(item.input.removeprefix("warc:")), item.warc_offset or 0
        )
        pages.append(
            Page(
                entry,
                FetchResult(
                    entry.url,
                    FetchKind.PAGE,
                    Outcome.OK if body else Outcome.ERROR,
                    item.published_at or now_utc(),
                    status=200,
                    final_url=entry.url,
                    body=body,
                    headers={"content-type": ctype or "text/html"},
                    offline=True,
                    error=None if body else "empty WARC record",
                ),
            )
        )
    return replace(batch, new_entries=tuple(p.entry for p in pages)), pages


def finish_backfill_batch(
    batch: FeedBatch,
    *,
    pages: Sequence[Page],
    extracted: Sequence[Extracted | None],
    registry: Registry,
    settings: Settings,
    params: Params,
) -> FeedBatch:
    """Candidates within the date range; every item of the batch with a final
    outcome checkpointed. A page that was not requested or failed for a
    reason that may pass is checkpointed as ``retry``, which is not done:
    the same command fetches it again."""
    batch = build_candidates(batch, pages, extracted, registry, settings, queue=False)
    counts: Counter[str] = Counter()
    done = dict(batch.load.done)
    kept: list[Candidate] = []
    rejects: list[Reject] = []
    for cand in batch.load.candidates:
        when = cand.entry.published_at or cand.extracted.published_at
        if params.in_range(when):
            kept.append(cand)
            done[cand.entry.url] = "article"
        else:
            rejects.append(
                Reject(
                    "backfill",
                    f"published {when:%Y-%m-%d %H:%M}, outside the backfill range",
                    cand.seen_at,
                    cand.entry.url,
                    cand.entry.feed_id,
                )
            )
            done[cand.entry.url] = "outside_range"
            counts["backfill_outside_range"] += 1
    for p in pages:
        if p.entry.url in done:
            continue
        if p.fetch.outcome is Outcome.DEFERRED or (
            pending.page_failure(p.fetch) is Failure.TRANSIENT
        ):
            done[p.entry.url] = RETRY_LATER
            counts["backfill_retry_later"] += 1
        else:
            done[p.entry.url] = "rejected"
    load = replace(
        batch.load, candidates=tuple(kept), rejects=(*batch.load.rejects, *rejects), done=done
    )
    return replace(batch, load=load).plus(counts=counts)


def finish_backfill(settings: Settings, backfill_id: str) -> None:
    with connection.writer(settings.warehouse) as con:
        runs.finish_backfill(con, backfill_id, now_utc())


# --------------------------------------------------------------------------- reprocess


def stored_pages(
    settings: Settings, since: datetime | None, source_ids: Sequence[str]
) -> list[records.StoredPage]:
    with connection.writer(settings.warehouse) as con:
        return revisions.stored_pages(con, since, source_ids)


def reextract(
    pages: Sequence[records.StoredPage], registry: Registry, settings: Settings
) -> tuple[list[records.Reextracted], Counter[str]]:
    """Extract stored raw pages again with the current code (no network)."""
    counts: Counter[str] = Counter()
    store = RawStore(settings.raw_path)
    todo: list[tuple[records.StoredPage, bytes]] = []
    for page in pages:
        if store.exists(page.sha256):
            todo.append((page, store.get(page.sha256)))
        else:
            counts["reprocess_raw_missing"] += 1
    results = extract_pages(
        [
            (
                body,
                p.final_url or p.url,
                source_context(registry, p.source_id, p.final_url or p.url),
            )
            for p, body in todo
        ],
        settings.extract_workers,
    )
    matcher = WireMatcher(registry)
    out: list[records.Reextracted] = []
    for (page, _), ex in zip(todo, results, strict=True):
        if len(ex.body) < settings.min_body_chars:
            counts["reprocess_too_short_kept"] += 1  # the stored body stays
            continue
        author = ex.author or page.author
        wire = matcher.match(ex.body, author)
        out.append(
            records.Reextracted(
                page=page,
                title=ex.title or page.title,
                body=ex.body,
                content_hash=dedup_hash(ex.body),
                word_count=word_count(ex.body),
                author=author,
                language=ex.language or page.language,
                wire_service=None if wire == page.source_id else wire,
                extractor=ex.extractor,
                fingerprint=fingerprint(ex.body),
                metadata=ex,
            )
        )
    counts["reprocess_pages"] += len(pages)
    return out, counts


def apply_reextracted(
    settings: Settings, updates: Sequence[records.Reextracted], run_id: str
) -> dict[str, int]:
    with connection.writer(settings.warehouse) as con:
        changed = revisions.apply_reprocess(con, updates, run_id, settings.cluster_window_days)
    return {"reprocess_changed": changed, "reprocess_unchanged": len(updates) - changed}


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
