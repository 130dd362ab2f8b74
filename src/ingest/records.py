"""Typed records handed from stage to stage.

One small frozen dataclass per stage, the same words as the warehouse
columns, so that a row can be traced through the pipeline by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.near import Fingerprint


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


class FetchKind(StrEnum):
    FEED = "feed"
    PAGE = "page"
    ROBOTS = "robots"
    SITEMAP = "sitemap"


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


@dataclass(frozen=True)
class FeedState:
    """A feed as the warehouse knows it before a poll."""

    feed_id: str
    source_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    consecutive_failures: int = 0


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


@dataclass(frozen=True)
class Sighting:
    article_id: str
    feed_id: str
    source_id: str
    seen_at: datetime
    run_id: str
    url: str
    via: str = "feed"
