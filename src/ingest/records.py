"""Typed records handed from stage to stage.

One small frozen dataclass per stage, the same words as the warehouse
columns, so that a row can be traced through the pipeline by name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from ingest.text import content_hash


class Outcome(StrEnum):
    """What happened to one HTTP attempt (``fetch_log.outcome``)."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    # Never sent: the origin's turn would have come after the run's page
    # budget, or the run was stopping. Not an HTTP attempt, so never a
    # ``fetch_log`` row: the link waits in ``pending_pages`` instead.
    DEFERRED = "deferred"


class BodyStatus(StrEnum):
    """Where an article's body came from (``articles.body_status``)."""

    PAGE = "page"  # the page's own text
    # The feed's text while the page is retried after a transient failure
    # (its link waits in ``pending_pages``); upgraded in place when it comes.
    PROVISIONAL = "provisional"
    # The feed's text for good: the page is gone, refused, not an article, too
    # short, or kept failing for longer than the retry window.
    FEED_FINAL = "feed-final"
    # The publisher opted out of archiving (noarchive, TDM rights reserved) and
    # the withholding policy is on: metadata, hash and fingerprint are kept,
    # the text and the raw page are not.
    WITHHELD = "withheld"


class FetchKind(StrEnum):
    FEED = "feed"
    PAGE = "page"
    ROBOTS = "robots"
    SITEMAP = "sitemap"
    TDMREP = "tdmrep"  # an origin's /.well-known/tdmrep.json


@dataclass(frozen=True)
class Source:
    source_id: str
    name: str
    kind: str
    homepage: str
    domains: tuple[str, ...]
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    credits: tuple[str, ...] = ()
    country: str | None = None
    language: str | None = None
    timezone: str | None = None  # IANA name: how to read the site's naive local times
    tags: tuple[str, ...] = ()  # the user's own grouping (an OPML import's categories)


@dataclass(frozen=True)
class FetchResult:
    """One HTTP fetch (redirects included) and its outcome; a ``fetch_log`` row."""

    url: str
    kind: FetchKind
    outcome: Outcome
    fetched_at: datetime
    status: int | None = None
    final_url: str | None = None
    error: str | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    elapsed_ms: int = 0
    redirects: tuple[str, ...] = ()
    moved_to: str | None = None  # target of an unbroken chain of 301/308 from the start
    offline: bool = False  # read from a WARC file, not fetched: no fetch_log row
    size: int | None = None  # body size once the body itself was dropped
    # No connection could be made (the host did not resolve, refused or timed
    # out connecting): with every host so, the machine is offline.
    unreachable: bool = False

    def without_body(self) -> FetchResult:
        """The same outcome without the body (kept: its size), once extracted."""
        return replace(self, body=b"", size=self.nbytes)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def nbytes(self) -> int:
        return self.size if self.size is not None else len(self.body)


@dataclass(frozen=True)
class FeedEntry:
    """One item of a parsed feed, its link already canonicalised."""

    feed_id: str
    source_id: str
    url: str  # canonical form of the entry link
    link: str  # the link as the feed gave it
    guid: str | None
    title: str | None
    summary: str | None
    content: str | None  # full text when the feed carries it (content:encoded, atom content)
    author: str | None
    published_at: datetime | None
    language: str | None
    updated_at: datetime | None = None  # the entry's <updated>, when it gives one
    via: str = "feed"  # how it was found: feed | sitemap | archive | urls | warc
    # The UTC offset (minutes) the feed wrote its date in: a page's naive local
    # time is read in it when the page itself gives none.
    published_offset: int | None = None
    # Set when the link comes back from ``pending_pages``: when it was first
    # held back, and how many requests for it failed transiently so far.
    queued_at: datetime | None = None
    attempts: int = 0


@dataclass(frozen=True)
class PendingPage:
    """A link whose page is still to come: a ``pending_pages`` row."""

    entry: FeedEntry
    kind: str  # queued (never requested) | retry (failed transiently)
    first_seen_at: datetime
    next_attempt_at: datetime
    reason: str | None = None
    attempts: int = 0


@dataclass(frozen=True)
class ParsedFeed:
    feed_id: str
    title: str | None
    entries: tuple[FeedEntry, ...]
    problem: str | None = None  # bozo reason, "not a feed", ...
    is_feed: bool = True
    counts: Mapping[str, int] = field(default_factory=dict)
    # Publishing hints the scheduler may use (RSS <ttl>, sy:updatePeriod ...).
    ttl_minutes: int | None = None
    bad_links: tuple[tuple[str, str], ...] = ()  # (link as given, why it was refused)


@dataclass(frozen=True)
class Rights:
    """What the publisher declared about a page when it was fetched: the
    evidence (``ingest.rights.reuse`` sums it up). See :mod:`ingest.rights`."""

    # robots directives for every crawler: <meta name="robots"> and X-Robots-Tag
    robots_meta: tuple[str, ...] = ()
    x_robots_tag: tuple[str, ...] = ()
    # TDM Reservation Protocol: 1 reserved, 0 not reserved, None not declared;
    # where the applying declaration was found: tdmrep.json | header | meta
    tdm_reservation: int | None = None
    tdm_policy: str | None = None
    tdm_source: str | None = None
    # AI and dataset crawlers the site's robots.txt names and disallows for this URL
    ai_disallowed: tuple[str, ...] = ()
    # schema.org isAccessibleForFree (None: not declared), and the CSS
    # selectors of the parts it marks as not free (hasPart)
    accessible_for_free: bool | None = None
    paywalled_parts: tuple[str, ...] = ()
    # declared licence: its URL (or text), and where: jsonld | link | meta | cc-link
    license: str | None = None
    license_source: str | None = None


@dataclass(frozen=True)
class OriginRights:
    """What an origin's robots.txt and tdmrep.json say of one URL (worked out
    where those files are, handed to the extraction with the page)."""

    tdm_reservation: int | None = None
    tdm_policy: str | None = None
    ai_disallowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provenance:
    """How an article row came to be: how it was found, the fetch its text
    came from, and the extraction that made it."""

    found_via: str  # feed | sitemap | archive | urls | warc
    found_in: str | None  # the feed id, or the backfill's input (sitemap, file)
    fetched_url: str | None = None
    final_url: str | None = None
    status: int | None = None
    # ISO 8601, UTC: a time inside a STRUCT is text (DuckLake cannot read a
    # TIMESTAMPTZ nested in a struct back from its inlined rows)
    fetched_at: str | None = None
    raw_sha256: str | None = None  # the page as fetched (kept in the raw archive unless withheld)
    extractor: str | None = None
    extraction: str | None = None  # the extractor's path and settings


@dataclass(frozen=True)
class Extracted:
    """What extraction got out of one page (or out of the feed's own text)."""

    body: str
    extractor: str  # e.g. "trafilatura-2.3.1", "feed-content", "feed-summary"
    title: str | None = None
    author: str | None = None  # the people, joined with "; "
    published_at: datetime | None = None
    language: str | None = None
    authors: tuple[str, ...] = ()  # people only
    published_precision: str | None = None  # minute | day
    modified_at: datetime | None = None
    description: str | None = None
    image_url: str | None = None
    section: str | None = None
    keywords: tuple[str, ...] = ()
    # field -> where its value came from (jsonld, og, meta, h1, byline, feed, ...)
    metadata_sources: Mapping[str, str] = field(default_factory=dict)
    page_canonical: str | None = None  # <link rel=canonical> / og:url, unvalidated
    sitename: str | None = None
    problem: str | None = None  # why the page itself gave no usable body
    # Computed where the page was extracted (a worker process), so the main
    # process does not pay for them: the body's near-duplicate fingerprint and
    # the raw archive's key of the page.
    fingerprint: Fingerprint | None = None
    raw_sha256: str | None = None
    archived: bool = False  # the raw page went into the archive (not withheld)
    rights: Rights | None = None  # None: no page (the feed's text alone)
    extraction: str | None = None  # which path and settings made the body


@dataclass(frozen=True)
class Article:
    """One distinct publication: an ``articles`` row."""

    article_id: str
    canonical_url: str
    url: str
    source_id: str
    title: str | None
    body: str
    author: str | None
    published_at: datetime | None
    language: str | None
    word_count: int
    content_hash: str
    cluster_id: str
    wire_service: str | None
    extractor: str
    first_seen_at: datetime
    last_seen_at: datetime
    feed_id: str | None = None
    entry_title: str | None = None
    entry_updated_at: datetime | None = None
    cluster_score: float | None = None  # containment with the member it joined
    body_status: str = BodyStatus.PAGE
    body_reason: str | None = None  # why the body is not the page's
    authors: tuple[str, ...] = ()
    published_precision: str | None = None
    modified_at: datetime | None = None
    description: str | None = None
    image_url: str | None = None
    section: str | None = None
    keywords: tuple[str, ...] = ()
    metadata_sources: Mapping[str, str] = field(default_factory=dict)
    rights: Rights | None = None
    reuse: str = "unknown"
    provenance: Provenance | None = None


@dataclass(frozen=True)
class Sighting:
    article_id: str
    feed_id: str
    source_id: str
    seen_at: datetime
    run_id: str
    url: str
    via: str = "feed"


# --------------------------------------------------------------------------- near-duplicates


# Fewer words than this: no near-duplicate matching at all (exact copies only).
MIN_WORDS = 25


@dataclass(frozen=True)
class Fingerprint:
    """What near-duplicate matching needs of one body."""

    shingles: frozenset[int]
    word_count: int
    bands: tuple[tuple[int, int], ...]

    @property
    def matchable(self) -> bool:
        return self.word_count >= MIN_WORDS


# --------------------------------------------------------------------------- feeds and fetches


@dataclass(frozen=True)
class FeedHistory:
    """What the warehouse knows of a feed before this poll."""

    last_fetched_at: datetime | None = None
    interval_minutes: int | None = None
    new_per_hour: float | None = None
    consecutive_failures: int = 0
    failure_kind: str | None = None


@dataclass(frozen=True)
class RobotsRecord:
    """An origin's robots.txt (or tdmrep.json) answer, cached until it expires."""

    origin: str
    fetched_at: datetime
    expires_at: datetime
    status: int | None
    outcome: str  # ok | missing (allow all) | error (disallow all) | blocked (by our guard)
    body: str | None


@dataclass(frozen=True)
class PlanItem:
    url: str
    source_id: str
    input: str
    via: str  # sitemap | archive | urls | warc
    published_at: datetime | None = None
    title: str | None = None
    warc_offset: int | None = None


@dataclass(frozen=True)
class DueFeed:
    feed_id: str
    source_id: str
    url: str
    etag: str | None
    last_modified: str | None
    consecutive_failures: int = 0
    last_fetched_at: datetime | None = None
    interval_minutes: int | None = None
    new_per_hour: float | None = None
    failure_kind: str | None = None

    @property
    def history(self) -> FeedHistory:
        return FeedHistory(
            last_fetched_at=self.last_fetched_at,
            interval_minutes=self.interval_minutes,
            new_per_hour=self.new_per_hour,
            consecutive_failures=self.consecutive_failures,
            failure_kind=self.failure_kind,
        )


@dataclass(frozen=True)
class KnownListing:
    article_id: str
    entry_title: str | None
    entry_updated_at: datetime | None
    body_status: str = BodyStatus.PAGE


# --------------------------------------------------------------------------- dedup and revisions


@dataclass(frozen=True)
class Stored:
    """An article's revisable fields (as stored, or as a new version)."""

    content_hash: str
    title: str | None
    revision: int = 0
    author: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    wire_service: str | None = None
    body_status: str = BodyStatus.PAGE


@dataclass(frozen=True)
class Candidate:
    """A listing whose page (or feed text) produced a body, ready to dedup."""

    entry: FeedEntry
    canonical_url: str
    urls: tuple[str, ...]  # every canonical URL that led here, canonical_url first
    extracted: Extracted
    source_id: str  # publisher after attribution
    wire_service: str | None
    seen_at: datetime
    revisit: str | None = None  # a known article refetched because its listing changed
    fingerprint: Fingerprint | None = None
    body_status: str = BodyStatus.PAGE
    body_reason: str | None = None  # why the body is not the page's
    provenance: Provenance | None = None

    @cached_property
    def content_hash(self) -> str:
        return content_hash(self.extracted.body)


@dataclass(frozen=True)
class Listing:
    """A feed entry whose URL is already a known article: only a sighting."""

    entry: FeedEntry
    article_id: str
    seen_at: datetime


@dataclass(frozen=True)
class Known:
    by_url: Mapping[str, str] = field(default_factory=dict)
    by_hash: Mapping[tuple[str, str], str] = field(default_factory=dict)
    stored: Mapping[str, Stored] = field(default_factory=dict)  # article_id -> state


@dataclass(frozen=True)
class Revision:
    """A new version of a stored article: what it changed and the new values
    (a None title, author, time or language keeps the stored one)."""

    article_id: str
    revision: int
    revised_at: datetime
    changed: str  # the changed fields, comma-separated, in REVISED_FIELDS order
    fields: Mapping[str, tuple[str | None, str | None]]  # field -> (old, new) as text
    title: str | None
    body: str
    content_hash: str
    word_count: int
    author: str | None
    published_at: datetime | None
    language: str | None
    wire_service: str | None
    extractor: str
    body_status: str
    body_reason: str | None = None
    # metadata that follows the new version (not compared: a change of these
    # alone is no revision)
    authors: tuple[str, ...] = ()
    published_precision: str | None = None
    modified_at: datetime | None = None
    description: str | None = None
    image_url: str | None = None
    section: str | None = None
    keywords: tuple[str, ...] = ()
    metadata_sources: Mapping[str, str] = field(default_factory=dict)
    rights: Rights | None = None
    reuse: str | None = None  # None: keep the stored one
    provenance: Provenance | None = None

    @property
    def body_changed(self) -> bool:
        return "body" in self.fields

    @property
    def new_title(self) -> str | None:
        return self.title

    @property
    def new_content_hash(self) -> str:
        return self.content_hash


@dataclass
class Resolution:
    articles: list[Article] = field(default_factory=list)
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)  # new article -> fp
    aliases: dict[str, str] = field(default_factory=dict)  # url -> article_id
    sightings: dict[tuple[str, str], Sighting] = field(default_factory=dict)
    touched: dict[str, datetime] = field(default_factory=dict)  # existing article -> seen
    revisions: list[Revision] = field(default_factory=list)
    # revised article -> fingerprint of its new text (to place it in a story again)
    revised_fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    entry_updates: dict[str, tuple[str | None, datetime | None]] = field(default_factory=dict)
    duplicates: int = 0


@dataclass(frozen=True)
class Member:
    """An article already in a cluster, as a near-duplicate candidate."""

    article_id: str
    cluster_id: str
    fingerprint: Fingerprint


@dataclass(frozen=True)
class StoryItem:
    """An article to place in a story: a new one, or one whose text changed."""

    article_id: str
    content_hash: str
    story_at: datetime  # published, else first seen
    fingerprint: Fingerprint


# --------------------------------------------------------------------------- load batches


@dataclass(frozen=True)
class FeedUpdate:
    feed_id: str
    fetched_at: datetime
    outcome: str
    status: int | None
    error: str | None
    next_fetch_at: datetime
    consecutive_failures: int
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    entries: int | None = None
    ttl_minutes: int | None = None
    interval_minutes: int | None = None
    new_per_hour: float | None = None
    new_entries: int | None = None
    failure_kind: str | None = None
    disabled_reason: str | None = None
    moved_to: str | None = None  # a 301/308 moved the feed here
    old_url: str | None = None


@dataclass(frozen=True)
class Reject:
    stage: str
    reason: str
    at: datetime
    url: str | None = None
    feed_id: str | None = None


@dataclass(frozen=True)
class RawPage:
    url: str
    final_url: str | None
    fetched_at: datetime
    sha256: str
    bytes: int
    status: int | None
    content_type: str | None


# The row lists of a LoadBatch, in the order they are written.
ROW_FIELDS = (
    "candidates",
    "listings",
    "fetches",
    "feed_updates",
    "rejects",
    "robots",
    "raw_pages",
    "pending",
    "pending_done",
    "tdmrep",
)


@dataclass(frozen=True)
class LoadBatch:
    """The rows one unit of work hands to the loader (staged as one file)."""

    run_id: str
    candidates: tuple[Candidate, ...] = ()
    listings: tuple[Listing, ...] = ()
    fetches: tuple[tuple[FetchResult, str | None], ...] = ()
    feed_updates: tuple[FeedUpdate, ...] = ()
    rejects: tuple[Reject, ...] = ()
    robots: tuple[RobotsRecord, ...] = ()
    cluster_window_days: int = 30
    raw_pages: tuple[RawPage, ...] = ()
    backfill_id: str | None = None
    done: Mapping[str, str] = field(default_factory=dict)  # backfill checkpoints: url -> outcome
    # Links whose page is still to come (queued or to retry), and links that
    # left the queue (url, feed_id): their page came, or failed for good.
    pending: tuple[PendingPage, ...] = ()
    pending_done: tuple[tuple[str, str], ...] = ()
    tdmrep: tuple[RobotsRecord, ...] = ()  # tdmrep.json answers to cache, like robots

    def plus(self, *others: LoadBatch) -> LoadBatch:
        """This batch's rows followed by ``others``' (checkpoints: the last wins)."""
        batches = (self, *others)
        rows: dict[str, Any] = {
            name: tuple(row for b in batches for row in getattr(b, name)) for name in ROW_FIELDS
        }
        done: dict[str, str] = {}
        for b in batches:
            done.update(b.done)
        return replace(self, **rows, done=done)

    def empty(self) -> LoadBatch:
        """The same run's batch with no rows."""
        return LoadBatch(
            self.run_id,
            cluster_window_days=self.cluster_window_days,
            backfill_id=self.backfill_id,
        )


@dataclass(frozen=True)
class StoredPage:
    """An article and the latest raw page it came from."""

    article_id: str
    source_id: str
    url: str
    final_url: str | None
    sha256: str
    title: str | None
    content_hash: str
    author: str | None
    language: str | None
    wire_service: str | None
    extractor: str
    cluster_id: str
    published_at: datetime | None
    first_seen_at: datetime
    revision: int
    body_status: str = BodyStatus.PAGE
    # the metadata the last extraction stored (field -> value)
    metadata: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Reextracted:
    page: StoredPage
    title: str | None
    body: str
    content_hash: str
    word_count: int
    author: str | None
    language: str | None
    wire_service: str | None
    extractor: str
    fingerprint: Fingerprint
    metadata: Extracted | None = None  # everything the extraction decided


@dataclass(frozen=True)
class Staged:
    """A batch waiting in the staging directory (what a task hands on)."""

    path: str
    batch_id: str
    run_id: str
    counts: Mapping[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------ runs and batches in flight


@dataclass(frozen=True)
class RunStart:
    feeds: tuple[DueFeed, ...]
    robots: tuple[RobotsRecord, ...]
    # links held back by earlier runs whose next attempt has come: fetched first
    pending: FeedBatch | None = None
    abandoned: tuple[str, ...] = ()  # dead runs marked so now
    tdmrep: tuple[RobotsRecord, ...] = ()


@dataclass(frozen=True)
class RunEnd:
    """How a run's end went: its final status, and its counts with those of
    the end's own work."""

    status: str
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Polled:
    """One feed's poll on its way to a :class:`FeedUpdate`."""

    feed: DueFeed
    result: FetchResult
    parsed: ParsedFeed | None = None
    new_entries: int = 0


@dataclass(frozen=True)
class FeedBatch:
    """One batch of feeds after fetch + parse, or one chunk of its pages: the
    links still to fetch, the feeds' polls, and the rows for the loader.

    Every stage returns a new batch (:meth:`plus` adds a stage's rows)."""

    run_id: str
    new_entries: tuple[FeedEntry, ...] = ()
    polled: tuple[Polled, ...] = ()
    load: LoadBatch = field(default_factory=lambda: LoadBatch(""))
    counts: Mapping[str, int] = field(default_factory=dict)
    # host -> whether any request to it got an answer (offline detection)
    hosts: Mapping[str, bool] = field(default_factory=dict)

    def plus(
        self, rows: LoadBatch | None = None, counts: Mapping[str, int] | None = None
    ) -> FeedBatch:
        """This batch with ``rows`` added to its load and ``counts`` to its counts."""
        total = Counter(self.counts)
        total.update(counts or {})
        return replace(
            self, load=self.load.plus(rows) if rows is not None else self.load, counts=total
        )


@dataclass(frozen=True)
class Page:
    entry: FeedEntry
    fetch: FetchResult
    origin: OriginRights | None = None  # what the origin's files say of its URL


@dataclass(frozen=True)
class BackfillStart:
    backfill_id: str
    pending: tuple[PlanItem, ...]
    planned: int
    robots: tuple[RobotsRecord, ...]
    skipped: Mapping[str, int]
    retries: int = 0  # of the pending items, those that failed transiently before
    tdmrep: tuple[RobotsRecord, ...] = ()
