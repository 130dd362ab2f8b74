"""A backfill's stages: discovery (sitemaps, archived feeds, URL lists, WARC),
the stored plan, and each batch of the plan with its checkpoints.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ingest import pending
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
from ingest.fetch import Fetcher
from ingest.pipeline.common import now_utc
from ingest.pipeline.lifecycle import begin
from ingest.pipeline.pages import RobotsCache, build_candidates, fetch_pages
from ingest.pipeline.polling import skip_known
from ingest.records import (
    BackfillStart,
    Candidate,
    Extracted,
    FeedBatch,
    FeedEntry,
    FetchKind,
    FetchResult,
    LoadBatch,
    Outcome,
    Page,
    PlanItem,
    Reject,
)
from ingest.registry import Registry
from ingest.schedule import Failure, classify
from ingest.settings import Settings
from ingest.store import connection, runs
from ingest.store import feeds as store_feeds
from ingest.urls import BadURL, canonicalize


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
        tdmrep = store_feeds.robots_records(con, now, "tdmrep")
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
    return BackfillStart(
        backfill_id, todo, len(plan), tuple(robots), skipped, retries, tuple(tdmrep)
    )


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
        body, headers = await asyncio.to_thread(
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
                    headers={"content-type": "text/html", **headers},
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
