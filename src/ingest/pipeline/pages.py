"""Pages: chunks of links fetched (robots.txt first), extracted in the process
pool, and made into candidates (body, canonical URL, publisher, wire), each
chunk staged for the loader.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, timedelta, timezone
from urllib.parse import urlsplit

from ingest import metadata, pending, rights
from ingest.attribute import WireMatcher, publisher_for
from ingest.extract import EXTRACTOR, RightsIn, choose_body, extract_pages
from ingest.fetch import Fetcher, origin_of
from ingest.near import fingerprint
from ingest.pending import RetryPolicy
from ingest.pipeline.common import now_utc
from ingest.pipeline.loading import stage
from ingest.records import (
    BodyStatus,
    Candidate,
    Extracted,
    FeedBatch,
    FeedEntry,
    FetchKind,
    FetchResult,
    OriginRights,
    Outcome,
    Page,
    PendingPage,
    Provenance,
    RawPage,
    Reject,
    RobotsRecord,
    Staged,
)
from ingest.registry import Registry
from ingest.rights import TDMREP_PATH, AiCrawlers, origin_rights
from ingest.robots import (
    MAX_TDMREP_BYTES,
    RobotsPolicy,
    as_logged,
    product_token,
    record_from_fetch,
    robots_url,
)
from ingest.schedule import Failure
from ingest.settings import Settings
from ingest.urls import BadURL, canonicalize, registered_domain


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
    """A robots.txt answer, and the rows of its fetch when one was made (with
    those of the origin's tdmrep.json, asked after it)."""

    policy: RobotsPolicy | None
    fetch: FetchResult | None = None
    record: RobotsRecord | None = None  # the answer to cache in the warehouse
    tdmrep_fetch: FetchResult | None = None
    tdmrep_record: RobotsRecord | None = None


class RobotsCache:
    """robots.txt answers for a run: cached rows first, one fetch per origin.

    It keeps the origin's ``/.well-known/tdmrep.json`` the same way (cached
    with the same expiry, asked once per origin after robots.txt allowed a
    page of it), and answers what both files say of a URL's rights."""

    def __init__(
        self,
        records: Sequence[RobotsRecord],
        settings: Settings,
        tdmrep: Sequence[RobotsRecord] = (),
    ) -> None:
        self.settings = settings
        self._policies = {r.origin: RobotsPolicy(r, settings.user_agent) for r in records}
        self._tdmrep: dict[str, RobotsRecord] = {r.origin: r for r in tdmrep}
        self._ai: dict[str, AiCrawlers] = {}
        self._pending: dict[str, asyncio.Future[RobotsAsked]] = {}

    def _known(self, origin: str) -> bool:
        return origin in self._policies and (
            not self.settings.tdmrep or origin in self._tdmrep or self._policies[origin].refuses
        )

    async def policy(
        self, fetcher: Fetcher, origin: str, wait_until: float | None = None
    ) -> RobotsAsked:
        """The origin's robots.txt answer (None when it could not be asked
        before ``wait_until``: the page then waits too), with the fetch's
        rows for the one caller whose request asked it."""
        if self._known(origin):
            return RobotsAsked(self._policies[origin])
        mine = origin not in self._pending
        if mine:
            self._pending[origin] = asyncio.ensure_future(self._fetch(fetcher, origin, wait_until))
        found = await asyncio.shield(self._pending[origin])
        if found.policy is None and self._pending.get(origin) is not None:
            self._pending.pop(origin, None)  # the next caller asks again
        return found if mine else RobotsAsked(found.policy)

    async def _fetch(self, fetcher: Fetcher, origin: str, wait_until: float | None) -> RobotsAsked:
        asked = RobotsAsked(self._policies.get(origin))
        if asked.policy is None:
            res = await fetcher.get(robots_url(origin), FetchKind.ROBOTS, wait_until=wait_until)
            if res.outcome is Outcome.DEFERRED:
                return RobotsAsked(None)
            ttl = timedelta(hours=self.settings.robots_ttl_hours)
            record = record_from_fetch(origin, res, ttl)
            policy = RobotsPolicy(record, self.settings.user_agent)
            if (delay := policy.crawl_delay()) is not None:
                fetcher.set_crawl_delay(origin, delay)
            self._policies[origin] = policy
            # an origin that could not be reached at all (offline, say) is not
            # remembered as "disallow all" for an hour: the next run asks again
            kept = None if res.unreachable else record
            asked = RobotsAsked(policy, as_logged(res.without_body()), kept)
        if self._known(origin) or asked.policy is None:
            return asked
        res = await fetcher.get(origin + TDMREP_PATH, FetchKind.TDMREP, wait_until=wait_until)
        if res.outcome is Outcome.DEFERRED:
            return asked  # not asked in time: nothing is known of it, the next run asks
        ttl = timedelta(hours=self.settings.robots_ttl_hours)
        record = record_from_fetch(origin, res, ttl, MAX_TDMREP_BYTES)
        if not res.unreachable:
            self._tdmrep[origin] = record
        kept = None if res.unreachable else record
        return replace(asked, tdmrep_fetch=as_logged(res.without_body()), tdmrep_record=kept)

    def origin_rights(self, url: str) -> OriginRights:
        """What the origin's tdmrep.json and robots.txt (its AI crawlers'
        groups) say of ``url``."""
        origin = origin_of(url)
        policy = self._policies.get(origin)
        ai = self._ai.get(origin)
        if ai is None and policy is not None:
            body = policy.record.body if policy.record.outcome == "ok" else None
            ai = self._ai[origin] = AiCrawlers(body, self.settings.ai_crawlers)
        tdm = self._tdmrep.get(origin)
        return origin_rights(url, tdm.body if tdm and tdm.outcome == "ok" else None, ai)

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
            if answer.fetch is not None or answer.tdmrep_fetch is not None:
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
    pages = [
        Page(e, unique[e.url].result(), robots.origin_rights(e.url) if robots else None)
        for e in batch.new_entries
    ]
    rows = replace(
        batch.load.empty(),
        fetches=tuple((f, None) for a in asked for f in (a.fetch, a.tdmrep_fetch) if f is not None),
        robots=tuple(a.record for a in asked if a.record is not None),
        tdmrep=tuple(a.tdmrep_record for a in asked if a.tdmrep_record is not None),
    )
    counts = Counter(f"robots_{a.fetch.outcome}" for a in asked if a.fetch is not None)
    counts.update(f"tdmrep_{a.tdmrep_fetch.outcome}" for a in asked if a.tdmrep_fetch)
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
    todo: dict[str, tuple[bytes, str, metadata.Context, RightsIn]] = {}
    token = product_token(settings.user_agent)
    for p in pages:
        if p.fetch.ok and p.fetch.body and p.entry.url not in todo:
            final = p.fetch.final_url or p.entry.url
            given = RightsIn(p.fetch.headers, p.origin, token, settings.withhold_reserved)
            todo[p.entry.url] = (p.fetch.body, final, page_context(p.entry, registry, final), given)
    keys = list(todo)
    extracted = extract_pages([todo[k] for k in keys], settings.extract_workers, settings.raw_path)
    results = dict(zip(keys, extracted, strict=True))
    return [results.get(p.entry.url) for p in pages]


def raw_pages(pages: Sequence[Page], extracted: Sequence[Extracted | None]) -> tuple[RawPage, ...]:
    """The raw archive's rows for the pages the extraction archived (once per URL)."""
    rows: dict[str, RawPage] = {}
    for page, ex in zip(pages, extracted, strict=True):
        res = page.fetch
        if ex is None or not ex.raw_sha256 or not ex.archived or page.entry.url in rows:
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


def provenance(
    entry: FeedEntry, res: FetchResult, page: Extracted | None, chosen: Extracted
) -> Provenance:
    """How a candidate came to be: its listing, the fetch, the extraction."""
    fetched = page is not None and res.ok
    return Provenance(
        found_via=entry.via,
        found_in=entry.feed_id.split(":", 1)[1] if entry.via != "feed" else entry.feed_id,
        fetched_url=entry.url,
        final_url=res.final_url,
        status=res.status,
        fetched_at=res.fetched_at.astimezone(UTC).isoformat(timespec="seconds"),
        raw_sha256=page.raw_sha256 if fetched and page is not None else None,
        extractor=chosen.extractor,
        extraction=chosen.extraction if chosen.extractor == EXTRACTOR else "the feed's own text",
    )


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
        withheld = settings.withhold_reserved and rights.archive_opt_out(ex.rights if ex else None)
        if withheld:
            # the publisher opted out of archiving: the text (page or feed)
            # is hashed and fingerprinted, then not stored
            status, why = BodyStatus.WITHHELD, withheld
        elif ex is not None and chosen.extractor == ex.extractor:
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
                provenance=provenance(entry, res, ex, chosen),
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
