"""Feeds: fetched, parsed, known links told apart from new ones, and each
feed's next poll planned.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import duckdb

from ingest import pending, records
from ingest.feeds import parse_feed
from ingest.fetch import Fetcher
from ingest.pipeline.common import now_utc
from ingest.records import (
    BodyStatus,
    DueFeed,
    FeedBatch,
    FeedEntry,
    FeedUpdate,
    FetchKind,
    FetchResult,
    Listing,
    LoadBatch,
    Outcome,
    PendingPage,
    Polled,
    Reject,
)
from ingest.registry import Registry
from ingest.schedule import Policy, plan
from ingest.settings import Settings
from ingest.store import connection, load
from ingest.urls import BadURL, host_of


def batched(items: Sequence[DueFeed], size: int) -> list[list[DueFeed]]:
    return [list(items[i : i + size]) for i in range(0, len(items), max(1, size))]


def batch_size(due: int, settings: Settings) -> int:
    """Feeds per fetch-feeds step of a run with ``due`` feeds: about
    ``settings.feed_batches_per_run`` batches, each at least
    ``settings.feed_batch_size`` and at most ``settings.feed_batch_max``
    feeds (see :class:`~ingest.settings.Settings`). The number of steps, each
    a Prefect task run, then stays in the tens as the registry grows, while a
    batch still bounds what a run holds in memory."""
    grown = -(-due // max(1, settings.feed_batches_per_run))
    return max(1, settings.feed_batch_size, min(grown, settings.feed_batch_max))


def spread_hosts(feeds: Sequence[DueFeed]) -> list[DueFeed]:
    """The due feeds dealt round their hosts: one feed of each host in turn
    (hosts in the order of their first feed, each host's feeds in their own
    order). A batch then asks many hosts once rather than one host several
    times, each request waiting the per-host gap behind the last, and a
    host's next feed comes a round later, when its gap has passed."""
    by_host: dict[str, list[DueFeed]] = {}
    for feed in feeds:
        try:
            host = host_of(feed.url)
        except BadURL:
            host = feed.url
        by_host.setdefault(host, []).append(feed)
    if len(by_host) == len(feeds):
        return list(feeds)
    rounds = itertools.zip_longest(*by_host.values())
    return [feed for turn in rounds for feed in turn if feed is not None]


def policy_for(settings: Settings) -> Policy:
    return Policy(
        default_interval=timedelta(minutes=settings.default_interval_minutes),
        min_interval=timedelta(minutes=settings.min_interval_minutes),
        max_interval=timedelta(minutes=settings.max_interval_minutes),
        disable_after_transient=settings.disable_after_failures,
    )


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
