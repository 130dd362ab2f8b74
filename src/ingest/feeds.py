"""Feed parsing: bytes and headers in, entries out; never raises on bad input.

feedparser reads what it can of a malformed feed and flags ``bozo``; we keep
the entries and record the reason. Dates come out in UTC; a date that cannot
be read, or lies far in the future, becomes None and is counted.
"""

from __future__ import annotations

import calendar
import io
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser

from ingest.metadata import parse_stamp
from ingest.records import FeedEntry, ParsedFeed
from ingest.urls import BadURL, canonicalize

# Clocks drift and time zones get mislabelled; a day of slack keeps honest
# feeds while rejecting the "2099" dates some CMSs emit.
FUTURE_SLACK = timedelta(days=1)
# Before the web: a date this old is a CMS default, not a publication date.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
# feedparser flags these but reads the feed fine: a feed served as text/html,
# or a charset header that disagrees with the XML declaration. Counted, not
# reported as a problem.
BENIGN_BOZO = frozenset({"NonXMLContentType", "CharacterEncodingOverride"})


def struct_to_utc(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def sane_date(value: datetime | None, now: datetime) -> tuple[datetime | None, str | None]:
    """(date, problem): drop dates in the far future or before the web."""
    if value is None:
        return None, None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value > now + FUTURE_SLACK:
        return None, "date_in_future"
    if value < EARLIEST:
        return None, "date_too_old"
    return value, None


_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _timestamp(raw: Mapping[str, Any]) -> float:
    """Seconds since the epoch of an entry's date, -inf when it has none."""
    value = raw.get("published_parsed") or raw.get("updated_parsed")
    return float(calendar.timegm(value)) if value else float("-inf")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _content(entry: Mapping[str, Any]) -> str | None:
    parts = entry.get("content") or []
    best = max((str(p.get("value") or "") for p in parts), key=len, default="")
    return best.strip() or None


def _ttl_minutes(feed: Mapping[str, Any]) -> int | None:
    ttl = feed.get("ttl")
    if ttl and str(ttl).strip().isdigit():
        return int(str(ttl).strip())
    period = str(feed.get("sy_updateperiod") or "").strip().lower()
    minutes = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}
    if period in minutes:
        freq = str(feed.get("sy_updatefrequency") or "1").strip()
        n = int(freq) if freq.isdigit() and int(freq) > 0 else 1
        return max(1, minutes[period] // n)
    return None


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    *,
    feed_id: str,
    source_id: str,
    base_url: str,
    max_items: int,
    now: datetime | None = None,
    default_language: str | None = None,
) -> ParsedFeed:
    """Parse a fetched feed. ``counts`` says what was dropped and why."""
    now = now or datetime.now(UTC)
    counts: Counter[str] = Counter()
    if not body.strip():
        return ParsedFeed(feed_id, None, (), problem="empty body", is_feed=False)
    if _ENTITY_DECL.search(body):
        # Internal DTD entities are how "billion laughs" and external-entity
        # (XXE) feeds work; no real news feed needs them.
        return ParsedFeed(
            feed_id,
            None,
            (),
            is_feed=False,
            problem="refused: the feed declares XML entities (<!ENTITY>), a known "
            "entity-expansion / external-entity attack",
        )
    # feedparser wants lower-case header names and the URL for relative links.
    hdrs = {k.lower(): v for k, v in headers.items()}
    hdrs.setdefault("content-location", base_url)
    hdrs.setdefault("content-type", "application/xml")
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=hdrs, resolve_relative_uris=True, sanitize_html=True
    )
    problem = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        name = exc.__class__.__name__ if exc else "malformed"
        if name in BENIGN_BOZO:
            counts[f"bozo_{name}"] += 1
        else:
            problem = f"{name}: {exc}" if exc else "malformed feed"
    version = parsed.get("version") or ""
    raw_entries = parsed.get("entries") or []
    if not version and not raw_entries:
        return ParsedFeed(feed_id, None, (), problem=problem or "not a feed", is_feed=False)
    feed_meta = parsed.get("feed") or {}
    language = _text(feed_meta.get("language")) or default_language
    if len(raw_entries) > max_items:
        # Keep the newest: most feeds list newest first, but not all do.
        counts["items_over_cap"] = len(raw_entries) - max_items
        order = sorted(range(len(raw_entries)), key=lambda i: -_timestamp(raw_entries[i]))
        raw_entries = [raw_entries[i] for i in sorted(order[:max_items])]
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    seen_guids: set[str] = set()
    bad_links: list[tuple[str, str]] = []
    for raw in raw_entries:
        link = _text(raw.get("link"))
        if not link:
            # Atom entries sometimes carry only an id that is a permalink.
            guid = _text(raw.get("id"))
            link = guid if guid and guid.startswith(("http://", "https://")) else None
        if not link:
            counts["entry_without_link"] += 1
            continue
        try:
            url = canonicalize(link, base=base_url)
        except BadURL as exc:
            counts["entry_bad_link"] += 1
            bad_links.append((link[:500], f"bad link: {exc}"[:500]))
            continue
        if url in seen:
            counts["entry_duplicate_in_feed"] += 1
            continue
        guid = _text(raw.get("id"))
        if guid and guid in seen_guids:
            # The same GUID with another link: a CMS that reuses GUIDs. The
            # link decides what an article is; the feed's fault is noted.
            counts["entry_guid_reused"] += 1
        seen.add(url)
        if guid:
            seen_guids.add(guid)
        published = struct_to_utc(raw.get("published_parsed") or raw.get("updated_parsed"))
        stamp = parse_stamp(_text(raw.get("published") or raw.get("updated")), strict=True)
        if stamp is None:
            stamp = parse_stamp(_text(raw.get("published") or raw.get("updated")))
        offset = stamp.offset if stamp is not None and stamp.has_time else None
        if published is None and (raw.get("published") or raw.get("updated")):
            counts["date_unparseable"] += 1
        published, date_problem = sane_date(published, now)
        updated, _ = sane_date(struct_to_utc(raw.get("updated_parsed")), now)
        if date_problem:
            counts[date_problem] += 1
        entries.append(
            FeedEntry(
                feed_id=feed_id,
                source_id=source_id,
                url=url,
                link=link,
                guid=_text(raw.get("id")),
                title=_text(raw.get("title")),
                summary=_text(raw.get("summary")),
                content=_content(raw),
                author=_text(raw.get("author")),
                published_at=published,
                language=language,
                updated_at=updated,
                published_offset=int(offset.total_seconds() // 60) if offset is not None else None,
            )
        )
    counts["entries"] = len(entries)
    return ParsedFeed(
        feed_id=feed_id,
        title=_text(feed_meta.get("title")),
        entries=tuple(entries),
        problem=problem,
        counts=dict(counts),
        ttl_minutes=_ttl_minutes(feed_meta),
        bad_links=tuple(bad_links),
    )
