"""A realistic news web for benchmarks: real article pages, many sources, many copies.

The generated web of :mod:`newsweb` has few sources and pages of invented
text; this one is close to what a crawl of the real thing meets, and what the
pipeline's cost on real use depends on:

* the 192 real article pages of the metadata dev set
  (``tests/fixtures/metadata/pages/*.html.gz``, labels in ``labels.jsonl``:
  185 publishers, 33 languages, about 178 KB a page), each served once as an
  original by the source that stands for its publisher, at a path of the
  benchmark's own host (``www.<publisher-domain>.test``);
* many sources, one origin each (``www.outlet-0001.test``, ...; 1,000 by
  default), most with one feed (RSS 2.0 or Atom), some with two;
* many near-duplicate copies (1,500 of 180 originals by default, a few
  stories copied dozens of times, most a handful): the same real page
  re-served by another source with small edits, as syndication and
  aggregation do: a changed headline (sometimes), a paragraph cut
  (sometimes), a credit line naming the first publisher (always: no two
  copies have the same text) and the outlet's own page chrome (a
  navigation header and a footer around the page); its URL, canonical link
  and ``og:url`` are the outlet's.

Pages are decoded once (one dev-set page is Windows-1250) and served as
UTF-8 with their ``charset`` declarations rewritten. Everything is derived
from the seed: two webs with the same arguments serve byte-identical feeds
and pages. The interface is :class:`newsweb.NewsWeb`'s where ``e2e.py`` needs
it (``sources``, ``articles``, ``feeds``, ``url()``, ``sources_toml()``,
``iter_pages()``, ``prerender()``, ``respond()``, ``expected()``), so
:class:`newsweb.NewsWebServer` serves it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_text
from xml.sax.saxutils import quoteattr

from ingest.records import Source
from ingest.registry import dump_registry
from newsweb import FOOTER, LOOPBACK, NAV, NOUNS, VirtualHostWeb, _place_name, _slug

ROOT = Path(__file__).resolve().parent.parent
DEVSET = ROOT / "tests" / "fixtures" / "metadata"
DEFAULT_SEED = 20261201
DEFAULT_SOURCES = 1000
DEFAULT_COPIES = 1500
DEFAULT_COPIED = 180
SECOND_FEED_SHARE = 0.03  # sources with a second feed (1,000 sources: 1,030 feeds)
BIG_PAGE_BYTES = 400_000  # a page this large is copied at most BIG_PAGE_COPIES times
BIG_PAGE_COPIES = 3
MAX_COPIES = 40  # copies of one story at most
HEADLINE_EDIT_SHARE = 0.5
PARAGRAPH_CUT_SHARE = 0.6
_CHARSET = re.compile(r"""(<meta\b[^>]*?charset\s*=\s*["']?)([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
OUTLET_WORDS = ("News", "Today", "Daily", "Online", "Review", "Digest")
_HEADLINE_PREFIXES = ("Update: ", "Read: ", "In depth: ", "Report: ", "Latest: ", "Now: ")


@dataclass(frozen=True, slots=True)
class RealPage:
    """One dev-set page: its label's facts and its decoded HTML."""

    id: str
    url: str  # the page's real URL (replaced by the served one in the HTML)
    site_name: str
    domain: str  # the real publisher's host, without www.
    language: str
    country: str | None
    title: str
    authors: tuple[str, ...]
    description: str
    published: datetime
    html: str
    paragraphs: tuple[tuple[int, int], ...]  # (start, end) of body <p> elements found in html


@dataclass(frozen=True, slots=True)
class SourceSpec:
    index: int
    id: str
    name: str
    kind: str
    host: str
    feed_format: str  # rss | atom
    country: str | None
    language: str | None
    publisher: str | None  # the real domain whose pages this source serves as originals

    @property
    def domain(self) -> str:
        return self.host.removeprefix("www.")


@dataclass(frozen=True, slots=True)
class ArticleSpec:
    index: int
    source: int  # SourceSpec.index
    path: str
    page: int  # index into RealWeb.pages
    origin: int  # the original's article index for a copy, else -1
    title: str  # as served (a copy's headline may be changed)
    published: datetime
    cut: int  # index into the page's paragraphs cut from a copy, else -1


@dataclass(frozen=True, slots=True)
class FeedSpec:
    source: int
    number: int
    path: str
    listings: tuple[tuple[int, str], ...]  # (article index, path as listed)


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        m = _CHARSET.search(raw[:5000].decode("ascii", "replace"))
        try:
            return raw.decode(m.group(2) if m else "cp1252", "replace")
        except LookupError:
            return raw.decode("cp1252", "replace")


def _date(value: str | None) -> datetime:
    if not value:
        return datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
    out = datetime.fromisoformat(value)
    return out if out.tzinfo is not None else out.replace(tzinfo=UTC)


def _find_paragraphs(html: str, body: str) -> tuple[tuple[int, int], ...]:
    """The spans of ``<p>`` elements of the page that hold a line of its labelled
    body, found by a 40-character snippet of the line: where a copy may cut a
    paragraph and add its credit line."""
    spans: list[tuple[int, int]] = []
    for line in body.split("\n"):
        if len(line) < 60:
            continue
        mid = len(line) // 2
        snippet = line[mid - 20 : mid + 20]
        at = html.find(snippet)
        if at < 0:
            at = html.find(escape(snippet, quote=False))
        if at < 0:
            continue
        start = max(html.rfind("<p>", 0, at), html.rfind("<p ", 0, at))
        end = html.find("</p>", at)
        if start < 0 or end < 0 or end - start > 8000 or "<p" in html[start + 2 : at]:
            continue
        span = (start, end + len("</p>"))
        if not spans or span[0] >= spans[-1][1]:
            spans.append(span)
    return tuple(spans)


def load_devset(directory: Path = DEVSET) -> list[RealPage]:
    """Every labelled page of the dev set, decoded, sorted by id."""
    pages: list[RealPage] = []
    with (directory / "labels.jsonl").open(encoding="utf-8") as fh:
        labels = [json.loads(line) for line in fh if line.strip()]
    for label in sorted(labels, key=lambda x: x["id"]):
        html = _decode(
            gzip.decompress((directory / "pages" / f"{label['id']}.html.gz").read_bytes())
        )
        host = (urlsplit(label["url"]).hostname or label["id"]).lower()
        pages.append(
            RealPage(
                id=label["id"],
                url=label["url"],
                site_name=label.get("site_name") or host,
                domain=host.removeprefix("www."),
                language=label["language"],
                country=label.get("country"),
                title=label.get("title") or "",
                authors=tuple(label.get("authors") or ()),
                description=label.get("description") or "",
                published=_date(label.get("published")),
                html=html,
                paragraphs=_find_paragraphs(html, label.get("body") or ""),
            )
        )
    return pages


_DEVSET_CACHE: list[RealPage] = []
_DEVSET_LOCK = threading.Lock()


def devset() -> list[RealPage]:
    """:func:`load_devset`, once per process."""
    with _DEVSET_LOCK:
        if not _DEVSET_CACHE:
            _DEVSET_CACHE.extend(load_devset())
        return _DEVSET_CACHE


class RealWeb(VirtualHostWeb):
    """A news web of real pages: ``sources`` sources (one origin each), the dev
    set's pages as originals (``originals`` of them, a seeded sample when fewer
    than all) and ``copies`` near-duplicate copies of ``copied`` of them."""

    kind = "realistic"

    def __init__(
        self,
        sources: int = DEFAULT_SOURCES,
        *,
        copies: int = DEFAULT_COPIES,
        copied: int = DEFAULT_COPIED,
        originals: int | None = None,
        seed: int = DEFAULT_SEED,
        port: int = 0,
    ) -> None:
        pages = devset()
        self.seed = seed
        self.port = port
        rng = random.Random(seed)
        chosen = list(range(len(pages)))
        if originals is not None and originals < len(pages):
            chosen = sorted(rng.sample(chosen, max(1, originals)))
        self.pages: list[RealPage] = [pages[i] for i in chosen]
        domains = list(dict.fromkeys(p.domain for p in self.pages))
        if sources < len(domains) + 1:
            raise ValueError(
                f"need at least {len(domains) + 1} sources for {len(self.pages)} originals "
                f"({len(domains)} publishers and one outlet)"
            )
        self.sources: list[SourceSpec] = self._make_sources(sources, domains, rng)
        self.articles: list[ArticleSpec] = self._make_articles(copies, copied, rng)
        self.by_source: list[list[int]] = [[] for _ in self.sources]
        for art in self.articles:
            self.by_source[art.source].append(art.index)
        self._paths = {(a.source, a.path): a.index for a in self.articles}
        self.feeds: list[FeedSpec] = self._make_feeds(rng)
        self._feed_by_path = {(f.source, f.path): f for f in self.feeds}
        self._host_index = {s.host: s.index for s in self.sources} | {
            s.domain: s.index for s in self.sources
        }
        self._chrome: dict[int, tuple[str, str]] = {}
        self._feed_cache: dict[tuple[int, str], tuple[bytes, str, datetime]] = {}
        self._rendered: dict[int, bytes] = {}
        self._lock = threading.Lock()

    # -- construction ------------------------------------------------------------

    def _make_sources(
        self, count: int, domains: Sequence[str], rng: random.Random
    ) -> list[SourceSpec]:
        site = {p.domain: p for p in reversed(self.pages)}  # first page of each publisher
        out: list[SourceSpec] = []
        for i, domain in enumerate(domains):
            page = site[domain]
            sid = _slug(domain.replace(".", "-"))[:40].rstrip("-")
            out.append(
                SourceSpec(
                    index=i,
                    id=sid,
                    name=page.site_name,
                    kind="publisher",
                    host=f"www.{sid}.test",
                    feed_format="atom" if rng.random() < 0.3 else "rss",
                    country=page.country,
                    language=page.language,
                    publisher=domain,
                )
            )
        for i in range(len(domains), count):
            sid = f"outlet-{i - len(domains) + 1:04d}"
            out.append(
                SourceSpec(
                    index=i,
                    id=sid,
                    name=f"{_place_name(rng)} {rng.choice(OUTLET_WORDS)} ({i})",
                    kind="publisher",
                    host=f"www.{sid}.test",
                    feed_format="atom" if rng.random() < 0.3 else "rss",
                    country=None,
                    language=None,
                    publisher=None,
                )
            )
        return out

    def _make_articles(self, copies: int, copied: int, rng: random.Random) -> list[ArticleSpec]:
        source_of = {s.publisher: s.index for s in self.sources if s.publisher}
        out: list[ArticleSpec] = []
        for n, page in enumerate(self.pages):
            src = source_of[page.domain]
            path = f"/{page.published:%Y/%m/%d}/{_slug(page.id)}.html"
            out.append(ArticleSpec(n, src, path, n, -1, page.title, page.published, -1))
        if not copies:
            return out
        copied = min(copied, len(self.pages), copies)
        originals = sorted(rng.sample(range(len(self.pages)), copied))
        # Uneven: a few stories everywhere, most copied a handful of times.
        cap = min(MAX_COPIES, len(self.sources) - 1)
        caps = [
            BIG_PAGE_COPIES if len(self.pages[o].html) > BIG_PAGE_BYTES else cap for o in originals
        ]
        weights = [rng.paretovariate(1.5) for _ in originals]
        counts = [1] * copied
        while sum(counts) < copies:
            open_ = [k for k in range(copied) if counts[k] < caps[k]]
            if not open_:
                break
            k = rng.choices(open_, weights=[weights[j] for j in open_])[0]
            counts[k] += 1
        load = [len([a for a in out if a.source == s.index]) for s in self.sources]
        for k, o in enumerate(originals):
            orig = out[o]
            # distinct outlets, the least loaded first (ties broken by the seed)
            order = sorted(
                (s.index for s in self.sources if s.index != orig.source),
                key=lambda i: (load[i], rng.random()),
            )
            for c, src in enumerate(order[: counts[k]]):
                load[src] += 1
                index = len(out)
                page = self.pages[orig.page]
                published = orig.published + timedelta(minutes=5 + rng.randrange(2 * 24 * 60))
                title = page.title
                if rng.random() < HEADLINE_EDIT_SHARE and title:
                    title = rng.choice(_HEADLINE_PREFIXES) + title
                cut = -1
                if len(page.paragraphs) > 2 and rng.random() < PARAGRAPH_CUT_SHARE:
                    cut = 1 + rng.randrange(len(page.paragraphs) - 1)
                path = f"/story/{published:%Y-%m-%d}/{_slug(page.id)}-{c}-{index:05d}"
                out.append(ArticleSpec(index, src, path, orig.page, o, title, published, cut))
        return out

    def _make_feeds(self, rng: random.Random) -> list[FeedSpec]:
        feeds: list[FeedSpec] = []
        for source in self.sources:
            own = sorted(
                self.by_source[source.index],
                key=lambda i: (self.articles[i].published, i),
                reverse=True,
            )
            two = rng.random() < SECOND_FEED_SHARE
            parts = [own[0::2], own[1::2]] if two else [own]
            ext = "atom" if source.feed_format == "atom" else "rss"
            for number, part in enumerate(parts):
                listing = tuple((i, self.articles[i].path) for i in part)
                feeds.append(FeedSpec(source.index, number, f"/feeds/{ext}-{number}.xml", listing))
        return feeds

    # -- URLs and facts ----------------------------------------------------------

    def expected(self) -> dict[str, int]:
        copies = [a for a in self.articles if a.origin >= 0]
        return {
            "articles": len(self.articles),
            "originals": len(self.pages),
            "syndicated_copies": len(copies),
            "wire_originals_copied": len({a.origin for a in copies}),
            "duplicate_listings": 0,
            "feeds": len(self.feeds),
            "sources": len(self.sources),
            "languages": len({p.language for p in self.pages}),
        }

    def expected_body(self, url: str) -> str | None:
        """The text a page's extraction should give: unknown for real pages."""
        return None

    def copy_pairs(self) -> list[tuple[str, str]]:
        """(copy URL, its original's URL) of every copy: they should share a story."""
        return [(self.url(a), self.url(a.origin)) for a in self.articles if a.origin >= 0]

    def sources_toml(self) -> str:
        return dump_registry(
            (
                Source(
                    source_id=src.id,
                    name=src.name,
                    kind=src.kind,
                    homepage=self.origin_url(src) + "/",
                    domains=(src.domain,),
                    feeds=tuple(self.feed_url(f) for f in self.feeds if f.source == src.index),
                    country=src.country,
                    language=src.language,
                )
                for src in self.sources
            ),
            header=f"Realistic news web for benchmarks: {len(self.sources)} sources, "
            f"{len(self.articles)} pages ({len(self.pages)} real originals), seed {self.seed}, "
            f"port {self.port}.\nEvery host below must resolve to 127.0.0.1.",
        )

    def iter_pages(self, sample: int | None = None) -> Iterator[tuple[str, bytes]]:
        indexes: Sequence[int] = range(len(self.articles))
        if sample is not None and sample < len(self.articles):
            step = len(self.articles) / sample
            indexes = [int(k * step) for k in range(sample)]
        for i in indexes:
            yield self.url(i), self.render_page(i)

    # -- pages -------------------------------------------------------------------

    def _outlet_chrome(self, src: SourceSpec) -> tuple[str, str]:
        """(header, footer) an outlet puts around every page it serves."""
        cached = self._chrome.get(src.index)
        if cached is not None:
            return cached
        r = random.Random(self.seed * 7919 + src.index)
        p = f"o{src.index}-"
        items = []
        for label in NAV:
            sub = "".join(
                f'<li><a href="/{_slug(label)}/{_slug(place)}/">{escape(place)}</a></li>'
                for place in (_place_name(r) for _ in range(r.randrange(2, 7)))
            )
            items.append(
                f'<li class="{p}nav-item"><a href="/{_slug(label)}/">{escape(label)}</a>'
                f'<ul class="{p}sub">{sub}</ul></li>'
            )
        header = (
            f'<div class="{p}bar"><a href="/subscribe">Subscribe</a> '
            f'<a href="/account">Sign in</a></div><header class="{p}masthead">'
            f'<a class="{p}logo" href="/">{escape(src.name)}</a><nav class="{p}nav">'
            f"<ul>{''.join(items)}</ul></nav></header>\n"
        )
        cols = "".join(
            f'<div class="{p}col"><ul>'
            + "".join(f'<li><a href="/info/{_slug(x)}">{escape(x)}</a></li>' for x in FOOTER[c::3])
            + "".join(f'<li><a href="/topic/{_slug(x)}/">{escape(x)}</a></li>' for x in NOUNS[c::3])
            + "</ul></div>"
            for c in range(3)
        )
        footer = (
            f'\n<footer class="{p}footer">{cols}<p>\u00a9 2026 {escape(src.name)}. '
            f"Stories from partners are republished with permission.</p></footer>\n"
        )
        chrome = (header, footer)
        with self._lock:
            self._chrome[src.index] = chrome
        return chrome

    def prerender(self) -> float:
        """Render every page now and serve them from memory (as NewsWeb does)."""
        started = time.perf_counter()
        for i in range(len(self.articles)):
            self._rendered[i] = self.render_page(i)
        return time.perf_counter() - started

    def render_page(self, index: int) -> bytes:
        cached = self._rendered.get(index)
        if cached is not None:
            return cached
        art = self.articles[index]
        page = self.pages[art.page]
        src = self.sources[art.source]
        html = page.html
        if art.origin >= 0:
            html = self._edit_copy(art, page, src)
        html = html.replace(page.url, self.url(art))
        html = _CHARSET.sub(lambda m: m.group(1) + "utf-8", html)
        return html.encode("utf-8", "replace")

    def _edit_copy(self, art: ArticleSpec, page: RealPage, src: SourceSpec) -> str:
        html = page.html
        spans = list(page.paragraphs)
        credit = (
            f"<p>This story was first published by {escape(page.site_name)} and is "
            f"republished by {escape(src.name)} with permission.</p>"
        )
        # Edits from the end of the page backwards, so earlier offsets hold.
        if spans:
            last_end = spans[-1][1]
            html = html[:last_end] + credit + html[last_end:]
            if art.cut >= 0:
                start, end = spans[art.cut]
                html = html[:start] + html[end:]
        else:
            close = html.lower().rfind("</article>")
            if close >= 0:
                html = html[:close] + credit + html[close:]
        if art.title != page.title and page.title:
            html = html.replace(page.title, art.title)
            escaped = escape(page.title, quote=True)
            if escaped != page.title:
                html = html.replace(escaped, escape(art.title, quote=True))
        header, footer = self._outlet_chrome(src)
        closing = list(_BODY_CLOSE.finditer(html))
        if closing:
            at = closing[-1].start()
            html = html[:at] + footer + html[at:]
        opening = _BODY_OPEN.search(html)
        if opening:
            html = html[: opening.end()] + header + html[opening.end() :]
        return html

    def render_home(self, source: int) -> bytes:
        src = self.sources[source]
        items = "\n".join(
            f'<li><a href="{escape(a.path)}">{escape(a.title)}</a></li>'
            for a in (self.articles[i] for i in self.by_source[source])
        )
        feeds = "\n".join(
            f'<link rel="alternate" type="application/{src.feed_format}+xml" '
            f'href="{escape(self.feed_url(f))}">'
            for f in self.feeds
            if f.source == source
        )
        return (
            f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{escape(src.name)}'
            f"</title>\n{feeds}\n</head><body><h1>{escape(src.name)}</h1><ul>\n{items}\n"
            "</ul></body></html>\n"
        ).encode()

    # -- feeds -------------------------------------------------------------------

    def _summary(self, art: ArticleSpec) -> str:
        page = self.pages[art.page]
        return page.description or page.title

    def render_feed(self, feed: FeedSpec) -> tuple[bytes, str, datetime]:
        key = (feed.source, feed.path)
        cached = self._feed_cache.get(key)
        if cached is not None:
            return cached
        src = self.sources[feed.source]
        home = self.origin_url(src) + "/"
        arts = [self.articles[i] for i, _ in feed.listings]
        newest = max((a.published for a in arts), default=datetime(2020, 1, 1, tzinfo=UTC))
        items: list[str] = []
        for (i, listed), art in zip(feed.listings, arts, strict=True):
            link = self.origin_url(src) + listed
            page = self.pages[art.page]
            author = ", ".join(page.authors)
            if src.feed_format == "atom":
                items.append(
                    f'<entry>\n<title type="text">{xml_text(art.title)}</title>\n'
                    f'<link rel="alternate" type="text/html" href={quoteattr(link)}/>\n'
                    f"<id>tag:{src.domain},2026:{i}</id>\n"
                    f"<published>{art.published.isoformat()}</published>\n"
                    f"<updated>{art.published.isoformat()}</updated>\n"
                    + (f"<author><name>{xml_text(author)}</name></author>\n" if author else "")
                    + f'<summary type="text">{xml_text(self._summary(art))}</summary>\n</entry>'
                )
            else:
                items.append(
                    f"<item>\n<title>{xml_text(art.title)}</title>\n"
                    f"<link>{xml_text(link)}</link>\n"
                    f'<guid isPermaLink="true">{xml_text(link)}</guid>\n'
                    f"<pubDate>{format_datetime(art.published.astimezone(UTC), usegmt=True)}"
                    "</pubDate>\n"
                    + (f"<dc:creator>{xml_text(author)}</dc:creator>\n" if author else "")
                    + f"<description>{xml_text(self._summary(art))}</description>\n</item>"
                )
        entries = "\n".join(items)
        lang = src.language or (self.pages[arts[0].page].language if arts else "en")
        if src.feed_format == "atom":
            text = (
                '<?xml version="1.0" encoding="utf-8"?>\n'
                f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{lang}">\n'
                f"<title>{xml_text(src.name)}</title>\n"
                f'<link rel="alternate" type="text/html" href={quoteattr(home)}/>\n'
                f'<link rel="self" href={quoteattr(self.feed_url(feed))}/>\n'
                f"<id>tag:{src.domain},2026:feed-{feed.number}</id>\n"
                f"<updated>{newest.isoformat()}</updated>\n{entries}\n</feed>\n"
            )
        else:
            text = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
                f"<title>{xml_text(src.name)}</title>\n<link>{xml_text(home)}</link>\n"
                f"<description>Stories from {xml_text(src.name)}</description>\n"
                f"<language>{lang}</language>\n"
                f"<lastBuildDate>{format_datetime(newest.astimezone(UTC), usegmt=True)}"
                f"</lastBuildDate>\n{entries}\n</channel>\n</rss>\n"
            )
        body = text.encode("utf-8")
        etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'
        result = (body, etag, newest)
        with self._lock:
            self._feed_cache[key] = result
        return result

    # -- HTTP dispatch -----------------------------------------------------------


def main() -> None:
    """Serve the realistic web until interrupted: ``python benchmarks/realweb.py [S] [PORT]``."""
    import sys

    from newsweb import NewsWebServer

    sources = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCES
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    web = RealWeb(sources)
    with NewsWebServer(web, port) as server:
        print(
            f"serving {len(web.articles)} pages from {sources} sources on {LOOPBACK}:{server.port}"
        )
        print(json.dumps(web.expected()))
        print("environment:", " ".join(f"{k}={v}" for k, v in server.environment().items()))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()


__all__ = ["DEVSET", "RealPage", "RealWeb", "devset", "load_devset"]
