"""Adding a source by its homepage (``ingest sources add URL``): the site's
feeds and sitemaps, found the way feed readers find them.

The homepage is fetched through the project's fetcher (its address guard,
limits and User-Agent); feeds come from ``<link rel="alternate">`` (RSS,
Atom, JSON Feed), else from the paths sites commonly use; each candidate is
fetched and kept only when it parses as a feed. Sitemaps come from the
``Sitemap:`` lines of robots.txt (read by Protego).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import html as lxml_html
from protego import Protego

from ingest.fetch import Fetcher
from ingest.records import FetchKind, Outcome, Source
from ingest.settings import Settings
from ingest.urls import BadURL, canonicalize, host_of, site_domain

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
        "application/rdf+xml",
        "text/xml",
        "application/xml",
    }
)
# where sites put their feed when the homepage does not say
COMMON_PATHS = (
    "/feed",
    "/rss",
    "/feed.xml",
    "/rss.xml",
    "/atom.xml",
    "/index.xml",
    "/feeds/posts/default",
    "/feed/",
    "/rss/",
)
MAX_CANDIDATES = 12


class DiscoveryError(ValueError):
    """The homepage could not be read."""


@dataclass(frozen=True)
class Found:
    """What a homepage offers."""

    homepage: str
    name: str
    domain: str
    language: str | None
    feeds: tuple[str, ...]
    sitemaps: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def source(self, source_id: str, kind: str = "publisher") -> Source:
        return Source(
            source_id=source_id,
            name=self.name,
            kind=kind,
            homepage=self.homepage,
            domains=(self.domain,),
            feeds=self.feeds,
            sitemaps=self.sitemaps,
            language=self.language,
        )


def _alternates(body: bytes, base: str) -> tuple[list[str], str | None, str | None]:
    """Feed links the page declares, its site name, its language."""
    try:
        tree = lxml_html.fromstring(body)
    except (ValueError, TypeError):
        return [], None, None
    links = []
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            links.append(urljoin(base, href))
    name = None
    for meta in tree.iter("meta"):
        if (meta.get("property") or "").lower() == "og:site_name" and meta.get("content"):
            name = meta.get("content", "").strip()
            break
    if not name:
        title = tree.find(".//title")
        if title is not None and title.text:
            name = title.text.split("|")[0].split(" \u2013 ")[0].split(" - ")[0].strip()
    lang = tree.get("lang") or None
    return list(dict.fromkeys(links)), name or None, lang.split("-")[0].lower() if lang else None


async def discover(url: str, settings: Settings) -> Found:
    """The feeds and sitemaps the site at ``url`` offers."""
    try:
        url = canonicalize(url)
    except BadURL as exc:
        raise DiscoveryError(f"not a URL: {url!r} ({exc})") from None
    notes: list[str] = []
    async with Fetcher(settings) as fetcher:
        page = await fetcher.get(url, FetchKind.PAGE)
        if page.outcome is not Outcome.OK:
            raise DiscoveryError(
                f"{url}: {page.outcome.value} {page.status or ''} {page.error or ''}".strip()
            )
        home = page.final_url or url
        declared, name, language = _alternates(page.body, home)
        parts = urlsplit(home)
        root = f"{parts.scheme}://{parts.netloc}"
        if declared:
            notes.append(f"{len(declared)} feed(s) declared by the homepage")
        candidates = declared or [root + path for path in COMMON_PATHS]
        feeds: list[str] = []
        for candidate in candidates[:MAX_CANDIDATES]:
            got = await fetcher.get(candidate, FetchKind.FEED)
            if got.outcome is not Outcome.OK or not got.body:
                continue
            parsed = feedparser.parse(got.body)
            if parsed.get("version") or parsed.entries:
                feeds.append(candidate)
            else:
                notes.append(f"not a feed: {candidate}")
        robots = await fetcher.get(root + "/robots.txt", FetchKind.ROBOTS)
        sitemaps: list[str] = []
        if robots.outcome is Outcome.OK and robots.body:
            text = robots.body.decode("utf-8", "replace")
            sitemaps = list(dict.fromkeys(Protego.parse(text).sitemaps))
    if not feeds and not sitemaps:
        notes.append("no feed and no sitemap found: the source can only be backfilled from URLs")
    domain = site_domain(host_of(home))
    return Found(
        homepage=home,
        name=name or domain,
        domain=domain,
        language=language,
        feeds=tuple(feeds),
        sitemaps=tuple(sitemaps),
        notes=tuple(notes),
    )


async def article_sites(feeds: list[str], settings: Settings) -> dict[str, str]:
    """For each feed, the domain most of its article links are on (when the
    feed can be read and lists links): a feed on a feed host
    (``feeds.example-cdn.com``) belongs to the site that publishes its articles."""
    out: dict[str, str] = {}
    async with Fetcher(settings) as fetcher:
        for url in feeds:
            got = await fetcher.get(url, FetchKind.FEED)
            if got.outcome is not Outcome.OK or not got.body:
                continue
            counts: dict[str, int] = {}
            for entry in feedparser.parse(got.body).entries[:50]:
                link = str(entry.get("link") or "")
                try:
                    domain = site_domain(host_of(canonicalize(link)))
                except BadURL:
                    continue
                counts[domain] = counts.get(domain, 0) + 1
            if counts:
                out[url] = max(sorted(counts), key=lambda d: counts[d])
    return out
