"""Deduplication: one article row per publication, one cluster per story.

Exact: an article is the same publication when (a) any URL that leads to it,
in canonical form, is already known (feed link, redirect target,
rel=canonical), or (b) the same source already published the same
normalised text at another URL. A known URL seen again with a changed text or
title is a *revision* of that row.

Near: a new publication joins the story cluster of the earlier article it is
a copy of (``ingest.near``: MinHash/LSH candidates, verified containment),
else it starts a cluster of its own. Only the best match counts: clusters are
never merged through a chain of partial matches, which keeps distinct stories
apart.

:func:`resolve` and :func:`assign_clusters` are pure: the load step gives
them what the warehouse knows, inside the write transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from ingest import rights
from ingest.near import best_match, fingerprint
from ingest.records import (
    Article,
    BodyStatus,
    Candidate,
    Extracted,
    FeedEntry,
    Fingerprint,
    Known,
    Listing,
    Member,
    Reextracted,
    Resolution,
    Revision,
    Sighting,
    Stored,
    StoryItem,
)
from ingest.text import word_count


def article_id_for(canonical_url: str) -> str:
    return "a" + hashlib.sha1(canonical_url.encode("utf-8"), usedforsecurity=False).hexdigest()[:15]


def cluster_id_for(article_id: str) -> str:
    """A story that starts with this article is named after it."""
    return "c" + article_id[1:]


# Fields a revision compares, in the order ``article_revisions.changed`` lists
# them. A missing new title, author, time or language keeps the stored one
# (extraction sometimes finds none); a wire credit that disappears is a change.
REVISED_FIELDS = (
    "title",
    "body",
    "author",
    "published_at",
    "language",
    "wire_service",
    "body_status",
)
_KEEP_WHEN_MISSING = frozenset({"title", "author", "published_at", "language"})


def body_rank(status: str) -> int:
    """A page's own text outranks the feed's: a refetch that fell back to the
    feed never replaces a page body."""
    return 2 if status == BodyStatus.PAGE else 1


def diff(old: Stored, new: Stored) -> dict[str, tuple[str | None, str | None]]:
    """Field -> (old, new), as text, of what a new version changes (empty: nothing).

    The body is compared by content hash (the old text goes to the revision
    row); a version whose body comes from the feed never replaces a page's."""
    if body_rank(new.body_status) < body_rank(old.body_status):
        return {}
    out: dict[str, tuple[str | None, str | None]] = {}
    for name in REVISED_FIELDS:
        key = "content_hash" if name == "body" else name
        before, after = getattr(old, key), getattr(new, key)
        if after is None and name in _KEEP_WHEN_MISSING:
            continue
        if before != after:
            out[name] = (_as_text(before), _as_text(after))
    return out


def changes(old_title: str | None, new_title: str | None, old_hash: str, new_hash: str) -> str:
    """What a new version changed of title and body: "title", "body",
    "title,body", or "" (nothing)."""
    return ",".join(diff(Stored(old_hash, old_title), Stored(new_hash, new_title)))


# Metadata that follows an article's version (stored with it and its revisions;
# a change of these alone is a revision only when a re-extraction finds it).
METADATA_FIELDS = (
    "authors",
    "published_precision",
    "modified_at",
    "description",
    "image_url",
    "section",
    "keywords",
)


def metadata_of(ex: Extracted, precision: str | None) -> dict[str, object]:
    """The :data:`METADATA_FIELDS` of an extraction, with the precision of the
    publication time the version keeps."""
    values: dict[str, object] = {name: getattr(ex, name) for name in METADATA_FIELDS}
    values["published_precision"] = precision
    return values


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def reextraction_revision(u: Reextracted, at: datetime) -> Revision | None:
    """The revision a re-extraction makes of the stored article (None: nothing
    changed), judged by the same rule as every other revision."""
    p = u.page
    old = Stored(
        p.content_hash,
        p.title,
        p.revision,
        author=p.author,
        published_at=p.published_at,
        language=p.language,
        wire_service=p.wire_service,
        body_status=p.body_status,
    )
    new = replace(
        old,
        content_hash=u.content_hash,
        title=u.title,
        author=u.author,
        language=u.language,
        wire_service=u.wire_service,
        body_status=BodyStatus.PAGE,
    )
    fields = diff(old, new)
    ex = u.metadata or Extracted(body=u.body, extractor=u.extractor)
    published = ex.published_at if ex.published_precision == "minute" else None
    if published is not None and published != p.published_at:
        fields["published_at"] = (_as_text(p.published_at), _as_text(published))
    for name, value in metadata_of(ex, ex.published_precision).items():
        before = p.metadata.get(name)
        if value not in (None, ()) and _as_text(value) != _as_text(before):
            fields[name] = (_as_text(before), _as_text(value))
    if not fields and u.extractor == p.extractor:
        return None
    return Revision(
        article_id=p.article_id,
        revision=p.revision + 1 if fields else p.revision,
        revised_at=at,
        changed=",".join(fields),
        fields=fields,
        title=u.title,
        body=u.body,
        content_hash=u.content_hash,
        word_count=u.word_count,
        author=u.author,
        published_at=published,
        language=u.language,
        wire_service=u.wire_service,
        extractor=u.extractor,
        body_status=BodyStatus.PAGE,
        authors=ex.authors,
        published_precision=ex.published_precision,
        modified_at=ex.modified_at,
        description=ex.description,
        image_url=ex.image_url,
        section=ex.section,
        keywords=ex.keywords,
        metadata_sources=ex.metadata_sources,
    )


def resolve(
    candidates: Iterable[Candidate], listings: Iterable[Listing], known: Known, run_id: str
) -> Resolution:
    """Decide new rows, revisions, aliases and sightings for a batch (pure function)."""
    res = Resolution()
    by_url = dict(known.by_url)
    by_hash = dict(known.by_hash)
    revised: set[str] = set()

    def sight(article_id: str, entry: FeedEntry, seen_at: datetime) -> None:
        key = (article_id, entry.feed_id)
        if key not in res.sightings:
            res.sightings[key] = Sighting(
                article_id, entry.feed_id, entry.source_id, seen_at, run_id, entry.url, entry.via
            )

    for listing in listings:
        sight(listing.article_id, listing.entry, listing.seen_at)
        res.touched[listing.article_id] = listing.seen_at
        if listing.entry.url not in by_url:
            by_url[listing.entry.url] = listing.article_id
            res.aliases[listing.entry.url] = listing.article_id
    for cand in candidates:
        hash_ = cand.content_hash
        ex = cand.extracted
        title = ex.title or cand.entry.title
        author = "; ".join(ex.authors) or None  # people only (the metadata step decided)
        # the page's own time when it gives one (the metadata step weighs the
        # feed's date among its candidates); else the feed's, else the page's day
        published_at = (
            ex.published_at
            if ex.published_at is not None and ex.published_precision != "day"
            else cand.entry.published_at or ex.published_at
        )
        precision = (
            ex.published_precision
            if published_at is not None and published_at == ex.published_at
            else ("minute" if published_at is not None else None)
        )
        language = ex.language or cand.entry.language
        extra = {**metadata_of(ex, precision), "metadata_sources": ex.metadata_sources}
        # a withheld body is hashed, counted and fingerprinted, never stored
        stored_body = "" if cand.body_status == BodyStatus.WITHHELD else ex.body
        declared = {"rights": ex.rights, "provenance": cand.provenance}
        existing = next((by_url[u] for u in cand.urls if u in by_url), None)
        if existing is not None and existing not in revised and existing in known.stored:
            old = known.stored[existing]
            new = Stored(
                hash_,
                title,
                author=author,
                published_at=published_at,
                language=language,
                wire_service=cand.wire_service,
                body_status=cand.body_status,
            )
            fields = diff(old, new)
            if fields:
                revised.add(existing)
                if "body" in fields:
                    res.revised_fingerprints[existing] = cand.fingerprint or fingerprint(ex.body)
                res.revisions.append(
                    Revision(
                        article_id=existing,
                        revision=old.revision + 1,
                        revised_at=cand.seen_at,
                        changed=",".join(fields),
                        fields=fields,
                        title=title,
                        body=stored_body,
                        content_hash=hash_,
                        word_count=word_count(ex.body),
                        author=author,
                        published_at=published_at,
                        language=language,
                        wire_service=cand.wire_service,
                        extractor=ex.extractor,
                        body_status=cand.body_status,
                        body_reason=cand.body_reason,
                        reuse=rights.reuse(ex.rights) if ex.rights is not None else None,
                        **declared,  # type: ignore[arg-type]
                        **extra,  # type: ignore[arg-type]
                    )
                )
        if existing is None:
            existing = by_hash.get((cand.source_id, hash_))
        if existing is not None:
            res.duplicates += existing not in revised
            article_id = existing
            res.touched[article_id] = cand.seen_at
            res.entry_updates[article_id] = (cand.entry.title, cand.entry.updated_at)
        else:
            article_id = article_id_for(cand.canonical_url)
            res.articles.append(
                Article(
                    article_id=article_id,
                    canonical_url=cand.canonical_url,
                    url=cand.entry.url,
                    source_id=cand.source_id,
                    title=title,
                    body=stored_body,
                    author=author,
                    published_at=published_at,
                    language=language,
                    word_count=word_count(ex.body),
                    content_hash=hash_,
                    cluster_id=cluster_id_for(article_id),
                    wire_service=cand.wire_service,
                    extractor=ex.extractor,
                    first_seen_at=cand.seen_at,
                    last_seen_at=cand.seen_at,
                    feed_id=cand.entry.feed_id,
                    entry_title=cand.entry.title,
                    entry_updated_at=cand.entry.updated_at,
                    body_status=cand.body_status,
                    body_reason=cand.body_reason,
                    reuse=rights.reuse(ex.rights),
                    **declared,  # type: ignore[arg-type]
                    **extra,  # type: ignore[arg-type]
                )
            )
            res.fingerprints[article_id] = cand.fingerprint or fingerprint(ex.body)
            by_hash[(cand.source_id, hash_)] = article_id
        for url in cand.urls:
            if url not in by_url:
                by_url[url] = article_id
                res.aliases[url] = article_id
        sight(article_id, cand.entry, cand.seen_at)
    return res


def story_time(article: Article) -> datetime:
    return article.published_at or article.first_seen_at


def story_item(article: Article, fp: Fingerprint) -> StoryItem:
    return StoryItem(article.article_id, article.content_hash, story_time(article), fp)


def assign_clusters(
    items: Sequence[StoryItem],
    candidates: Mapping[str, Sequence[Member]],
    same_text: Mapping[str, str] | None = None,
) -> dict[str, tuple[str, float | None]]:
    """The story of each item: article id -> (cluster id, containment score).

    The one clustering rule, for new articles and for stored ones whose text
    changed (a revision, a reprocess). ``candidates`` maps an item to stored
    articles sharing an LSH band with it; ``same_text`` maps a content hash
    to the cluster of a stored article with exactly that text. Items are
    taken oldest first, so a batch's own copies find each other too. An item
    that matches nothing starts a story named after it.
    """
    same_text = dict(same_text or {})
    placed: list[Member] = []
    band_index: dict[tuple[int, int], list[int]] = {}
    out: dict[str, tuple[str, float | None]] = {}
    for item in sorted(items, key=lambda i: (i.story_at, i.article_id)):
        fp = item.fingerprint
        cluster = same_text.get(item.content_hash)
        score = 1.0 if cluster else None
        if cluster is None and fp.matchable:
            pool = list(candidates.get(item.article_id, ()))
            near = {i for band in fp.bands for i in band_index.get(band, ())}
            pool += [placed[i] for i in sorted(near)]
            match = best_match(fp, [(m.article_id, m.fingerprint) for m in pool])
            if match is not None:
                cluster = next(m.cluster_id for m in pool if m.article_id == match[0])
                score = match[1]
        if cluster is None:
            cluster = cluster_id_for(item.article_id)
        out[item.article_id] = (cluster, score)
        same_text.setdefault(item.content_hash, cluster)
        placed.append(Member(item.article_id, cluster, fp))
        for band in fp.bands:
            band_index.setdefault(band, []).append(len(placed) - 1)
    return out
