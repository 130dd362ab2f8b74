"""Exact deduplication: one article row per distinct publication.

An article is the same publication when (a) any URL that leads to it, in
canonical form, is already known (feed link, redirect target, rel=canonical),
or (b) the same source already published the same normalised text at another
URL. The same text from another source is another row in the same cluster.

:func:`resolve` is pure: the load step gives it what the warehouse knows
about the batch's URLs and hashes, inside the write transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ingest.extract import normalise_text, word_count
from ingest.records import Article, Extracted, FeedEntry, Sighting


def article_id_for(canonical_url: str) -> str:
    return "a" + hashlib.sha1(canonical_url.encode("utf-8"), usedforsecurity=False).hexdigest()[:15]


def content_hash(body: str) -> str:
    return hashlib.sha256(normalise_text(body).encode("utf-8")).hexdigest()


def cluster_id_for(hash_: str) -> str:
    """Exact copies across sources share a story cluster keyed by their text."""
    return "k" + hash_[:15]


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

    @property
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


@dataclass
class Resolution:
    articles: list[Article] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # url -> article_id
    sightings: dict[tuple[str, str], Sighting] = field(default_factory=dict)
    touched: dict[str, datetime] = field(default_factory=dict)  # existing article -> seen
    duplicates: int = 0


def resolve(
    candidates: Iterable[Candidate], listings: Iterable[Listing], known: Known, run_id: str
) -> Resolution:
    """Decide new rows, aliases and sightings for a batch (pure function)."""
    res = Resolution()
    by_url = dict(known.by_url)
    by_hash = dict(known.by_hash)

    def sight(article_id: str, entry: FeedEntry, seen_at: datetime) -> None:
        key = (article_id, entry.feed_id)
        if key not in res.sightings:
            res.sightings[key] = Sighting(
                article_id, entry.feed_id, entry.source_id, seen_at, run_id, entry.url
            )

    for listing in listings:
        sight(listing.article_id, listing.entry, listing.seen_at)
        res.touched[listing.article_id] = listing.seen_at
        if listing.entry.url not in by_url:
            by_url[listing.entry.url] = listing.article_id
            res.aliases[listing.entry.url] = listing.article_id
    for cand in candidates:
        hash_ = cand.content_hash
        existing = next((by_url[u] for u in cand.urls if u in by_url), None)
        if existing is None:
            existing = by_hash.get((cand.source_id, hash_))
        if existing is not None:
            res.duplicates += 1
            article_id = existing
            res.touched[article_id] = cand.seen_at
        else:
            article_id = article_id_for(cand.canonical_url)
            ex = cand.extracted
            res.articles.append(
                Article(
                    article_id=article_id,
                    canonical_url=cand.canonical_url,
                    url=cand.entry.url,
                    source_id=cand.source_id,
                    title=ex.title or cand.entry.title,
                    body=ex.body,
                    author=ex.author or cand.entry.author,
                    published_at=cand.entry.published_at or ex.published_at,
                    language=ex.language or cand.entry.language,
                    word_count=word_count(ex.body),
                    content_hash=hash_,
                    cluster_id=cluster_id_for(hash_),
                    wire_service=cand.wire_service,
                    extractor=ex.extractor,
                    first_seen_at=cand.seen_at,
                    last_seen_at=cand.seen_at,
                    feed_id=cand.entry.feed_id,
                )
            )
            by_hash[(cand.source_id, hash_)] = article_id
        for url in cand.urls:
            if url not in by_url:
                by_url[url] = article_id
                res.aliases[url] = article_id
        sight(article_id, cand.entry, cand.seen_at)
    return res
