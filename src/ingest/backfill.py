"""Backfills: history for a date range from sitemaps, archived feeds, URL lists
and WARC files.

Discovery selects what to ingest *before* any page is fetched: sitemap
``<lastmod>`` and Google News ``<news:publication_date>``, archived and paged
feeds' entry dates (RFC 5005 ``prev-archive`` / ``next``), WARC record dates.
The selected items become a plan stored in the warehouse (newest first); each
processed batch commits its checkpoints with its rows, so a killed backfill
started again continues where it stopped and ends with the same rows.

Parsers here take bytes and never fetch; :mod:`ingest.pipeline` does the I/O.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import feedparser
from lxml import etree
from warcio.archiveiterator import ArchiveIterator

from ingest.feeds import struct_to_utc
from ingest.fetch import KEPT_HEADERS
from ingest.records import FetchResult, PlanItem
from ingest.registry import Registry
from ingest.urls import BadURL, canonicalize, host_of

# Sitemap indexes nest; real ones go two or three deep.
MAX_SITEMAP_DEPTH = 5
# Archived/paged feeds: pages followed per feed at most.
MAX_ARCHIVE_PAGES = 500
_SAFE_XML = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=True, remove_comments=True
)


@dataclass(frozen=True)
class Params:
    since: date
    until: date | None = None
    source_ids: tuple[str, ...] = ()
    urls_file: str | None = None
    warc: tuple[str, ...] = ()
    include_undated: bool = False
    oldest_first: bool = False

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time.min, UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: the first instant after ``until`` (or far future)."""
        if self.until is None:
            return datetime.max.replace(tzinfo=UTC)
        return datetime.combine(self.until, time.min, UTC) + timedelta(days=1)

    def in_range(self, when: datetime | None) -> bool:
        return when is None or self.start <= when < self.end

    def backfill_id(self) -> str:
        """Same inputs, same id: a restarted backfill finds its plan again."""
        digest = hashlib.sha256(json.dumps(self.describe(), sort_keys=True).encode())
        for path in (self.urls_file, *self.warc):
            if path:
                digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
        return "b" + digest.hexdigest()[:15]

    def describe(self) -> dict[str, object]:
        d = asdict(self)
        d["since"] = self.since.isoformat()
        d["until"] = self.until.isoformat() if self.until else None
        return d


@dataclass
class Discovery:
    """What a backfill's discovery collects as it walks its inputs (a
    builder, local to :func:`ingest.pipeline.discover`)."""

    items: list[PlanItem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    # (url as given, reason) of every URL refused: each becomes a rejects row
    bad_urls: list[tuple[str, str]] = field(default_factory=list)
    # every sitemap and archive page requested (without its body)
    fetches: list[FetchResult] = field(default_factory=list)
    # a sitemap or archive page could not be read for a reason that may pass:
    # the plan is not complete, and the same command discovers again
    incomplete: bool = False

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def bad_url(self, raw: str, exc: Exception) -> None:
        self.skip("bad_url")
        self.bad_urls.append((raw[:500], f"bad URL: {exc}"[:500]))

    def merge(self, other: Discovery) -> None:
        self.items += other.items
        for k, v in other.skipped.items():
            self.skip(k, v)
        self.bad_urls += other.bad_urls
        self.fetches += other.fetches
        self.incomplete = self.incomplete or other.incomplete


def _date(text: str | None) -> datetime | None:
    if not text:
        return None
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text[:10]), time.min)
        except ValueError:
            return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    when: datetime | None  # news:publication_date, else lastmod
    title: str | None = None


def parse_sitemap(body: bytes) -> tuple[list[SitemapEntry], list[SitemapEntry]]:
    """(page entries, child sitemaps) of a sitemap or sitemap index (gzip or not)."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    try:
        root = etree.fromstring(body, _SAFE_XML)
    except etree.XMLSyntaxError:
        return [], []
    if root is None:
        return [], []
    pages: list[SitemapEntry] = []
    children: list[SitemapEntry] = []
    kind = _local(root.tag)
    for node in root:
        name = _local(node.tag)
        if name not in ("url", "sitemap"):
            continue
        loc = lastmod = news_date = title = None
        for child in node.iter():
            tag = _local(child.tag)
            text = (child.text or "").strip()
            if tag == "loc" and loc is None:
                loc = text
            elif tag == "lastmod":
                lastmod = text
            elif tag == "publication_date":
                news_date = text
            elif tag == "title" and title is None:
                title = text or None
        if not loc:
            continue
        entry = SitemapEntry(loc, _date(news_date) or _date(lastmod), title)
        (children if kind == "sitemapindex" or name == "sitemap" else pages).append(entry)
    return pages, children


@dataclass(frozen=True)
class ArchivePage:
    entries: list[tuple[str, datetime | None, str | None]]  # (link, date, title)
    next_urls: list[str]  # prev-archive / next links, in the order to follow


def parse_archive_page(body: bytes, headers: dict[str, str], base_url: str) -> ArchivePage:
    """Entries and onward links of one page of an archived or paged feed (RFC 5005)."""
    hdrs = {k.lower(): v for k, v in headers.items()}
    hdrs.setdefault("content-location", base_url)
    hdrs.setdefault("content-type", "application/xml")
    parsed = feedparser.parse(io.BytesIO(body), response_headers=hdrs)
    entries = []
    for raw in parsed.get("entries") or []:
        link = raw.get("link")
        if link:
            when = struct_to_utc(raw.get("published_parsed") or raw.get("updated_parsed"))
            entries.append((str(link), when, raw.get("title")))
    links = (parsed.get("feed") or {}).get("links") or []
    onward = [
        str(lk.get("href"))
        for rel in ("prev-archive", "next")
        for lk in links
        if lk.get("rel") == rel and lk.get("href")
    ]
    return ArchivePage(entries, onward)


def read_url_list(path: Path, registry: Registry, sources: Sequence[str]) -> Discovery:
    """One URL per line (``#`` comments); each attributed by its domain."""
    found = Discovery()
    for line in path.read_text(encoding="utf-8").splitlines():
        raw = line.split("#", 1)[0].strip()
        if not raw:
            continue
        try:
            url = canonicalize(raw)
        except BadURL as exc:
            found.bad_url(raw, exc)
            continue
        owner = registry.owner_of(host_of(url))
        if owner is None:
            found.skip("no_source_for_domain")
            continue
        if sources and owner.source_id not in sources:
            found.skip("other_source")
            continue
        found.items.append(PlanItem(url, owner.source_id, f"urls:{path}", "urls"))
    return found


def scan_warc(path: Path, registry: Registry, params: Params) -> Discovery:
    """Successful (2xx) HTML response records of registered sources within
    the date range: an error page (404, 5xx) or a redirect is not an article.

    The record's ``WARC-Date`` (the capture time) bounds it when the page gives
    no better date; offsets let processing seek straight to each record.
    """
    found = Discovery()
    with path.open("rb") as stream:
        it = ArchiveIterator(stream)
        for record in it:
            if record.rec_type != "response":
                continue
            offset = it.get_record_offset()
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            ctype = (
                (record.http_headers.get_header("Content-Type") or "")
                if record.http_headers
                else ""
            )
            status = record.http_headers.get_statuscode() if record.http_headers else None
            if not (status or "").isdigit() or not 200 <= int(status or 0) < 300:
                found.skip("not_ok_status")
                continue
            if "html" not in ctype.lower():
                found.skip("not_html")
                continue
            try:
                url = canonicalize(uri)
            except BadURL as exc:
                found.bad_url(uri, exc)
                continue
            owner = registry.owner_of(host_of(url))
            if owner is None or (params.source_ids and owner.source_id not in params.source_ids):
                found.skip("other_domain")
                continue
            when = _date(record.rec_headers.get_header("WARC-Date"))
            if not params.in_range(when):
                found.skip("outside_range")
                continue
            found.items.append(
                PlanItem(url, owner.source_id, f"warc:{path}", "warc", when, warc_offset=offset)
            )
    return found


def read_warc_record(path: Path, offset: int) -> tuple[bytes, dict[str, str]]:
    """(HTML payload, response headers) of the response record at ``offset``:
    the headers a fetch keeps (``fetch.KEPT_HEADERS``: the content type, and
    what the publisher declared about the page's use), names in lower case,
    repeated ones joined with ", "."""
    with path.open("rb") as stream:
        stream.seek(offset)
        for record in ArchiveIterator(stream):
            headers: dict[str, str] = {}
            for name, value in record.http_headers.headers if record.http_headers else []:
                key = name.lower()
                if key in KEPT_HEADERS:
                    headers[key] = f"{headers[key]}, {value}" if key in headers else value
            return record.content_stream().read(), headers
    return b"", {}


def order_plan(items: Sequence[PlanItem], params: Params) -> list[PlanItem]:
    """Unique URLs, newest first by default (undated last), as users ask."""
    unique: dict[str, PlanItem] = {}
    for item in items:
        prev = unique.get(item.url)
        if prev is None or (prev.published_at is None and item.published_at is not None):
            unique[item.url] = item
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(
        unique.values(),
        key=lambda i: (i.published_at is not None, i.published_at or floor, i.url),
        reverse=not params.oldest_first,
    )


def iter_batches(items: Sequence[PlanItem], size: int) -> Iterator[list[PlanItem]]:
    for i in range(0, len(items), max(1, size)):
        yield list(items[i : i + size])
