"""Text of the demo news site: four fictional sources and their stories,
read from the data files in ``ingest/demo/data``: ``site.toml`` (the sources
and reader comments) and ``stories/*.md`` (one article each: TOML front matter
between ``+++`` lines, then its paragraphs separated by blank lines).

Everything here is invented for news-ingest: the region around Greywater Bay,
the port city of Portville, the inland Calder Valley and the French-speaking
harbour town of Belcôte do not exist, and neither do the people quoted.

A :class:`Story` is one publication: one article on one source. The two wire
stories of Continental Press appear three times each (on the wire's own site,
re-headlined on The Harbour Times, trimmed on the Valley Courier); those
copies are separate stories because they are separate publications.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any

# The zones the stories name (``zone`` in a story's front matter): pages
# print their abbreviation.
ZONES = {
    "UTC": UTC,
    "EDT": timezone(timedelta(hours=-4), "EDT"),
    "CET": timezone(timedelta(hours=1), "CET"),
}


@dataclass(frozen=True)
class SiteInfo:
    """A source of the demo site, independent of the port it is served on."""

    id: str
    name: str
    kind: str  # "publisher" or "wire"
    host: str  # virtual host name, e.g. "www.harbour-times.test"
    prefix: str  # path prefix of every resource of the site, e.g. "/ht/"
    feed_path: str
    feed_format: str  # "rss" or "atom"
    country: str
    language: str  # ISO 639-1
    locale: str  # BCP 47, used in <html lang> and feeds
    tagline: str
    credits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Story:
    """One article as published by one source."""

    key: str  # unique id of the publication
    site: str  # SiteInfo.id
    path: str  # canonical path of the page
    title: str
    author: str
    published: datetime  # timezone-aware
    section: str
    summary: str
    paragraphs: tuple[str, ...]
    pull_quote: str
    # Paths (with query) under which the feed lists the story; () = (path,).
    # Listing the same page twice makes an exact duplicate in the feed.
    feed_links: tuple[str, ...] = ()
    # Other paths that serve the same page (its canonical stays ``path``).
    aliases: tuple[str, ...] = ()
    # False: the feed entry carries no date (the page still has it).
    date_in_feed: bool = True
    # Key of the wire story this one republishes, if any.
    syndicated_from: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def listed_paths(self) -> tuple[str, ...]:
        return self.feed_links or (self.path,)

    @property
    def served_paths(self) -> tuple[str, ...]:
        return (self.path, *self.aliases)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class Comment:
    name: str
    minutes_after: int
    text: str


def _paras(text: str) -> tuple[str, ...]:
    """Split text on blank lines; lines inside a paragraph are joined by spaces."""
    blocks = [" ".join(line.strip() for line in b.splitlines()) for b in text.split("\n\n")]
    return tuple(b.strip() for b in blocks if b.strip())


def _story(text: str) -> tuple[int, Story]:
    _, front, body = text.split("+++", 2)
    meta: dict[str, Any] = tomllib.loads(front)
    order = meta.pop("order")
    zone = ZONES[meta.pop("zone")]
    meta["published"] = meta["published"].astimezone(zone)
    for name in ("feed_links", "aliases", "tags"):
        meta[name] = tuple(meta.get(name, ()))
    return order, Story(**meta, paragraphs=_paras(body))


def _load() -> tuple[dict[str, Any], tuple[Story, ...]]:
    data = resources.files("ingest.demo") / "data"
    site = tomllib.loads((data / "site.toml").read_text(encoding="utf-8"))
    stories = [
        _story(f.read_text(encoding="utf-8"))
        for f in (data / "stories").iterdir()
        if f.name.endswith(".md")
    ]
    return site, tuple(story for _, story in sorted(stories, key=lambda p: p[0]))


_SITE, _STORIES = _load()

#: The demo layouts' page chrome (``data/layouts/chrome.toml``).
CHROME: dict[str, Any] = tomllib.loads(
    (resources.files("ingest.demo") / "data" / "layouts" / "chrome.toml").read_text(
        encoding="utf-8"
    )
)


def layout_file(name: str) -> str:
    """A layout's CSS or script, as shipped in ``data/layouts``."""
    return (resources.files("ingest.demo") / "data" / "layouts" / name).read_text(encoding="utf-8")


WIRE_CREDIT: str = _SITE["wire_credit"]
SITES: tuple[SiteInfo, ...] = tuple(
    SiteInfo(**{**s, "credits": tuple(s.get("credits", ()))}) for s in _SITE["sites"]
)
#: Every publication of the demo site.
STORIES: tuple[Story, ...] = _STORIES
#: Original texts (not counting syndicated copies).
ORIGINAL_STORIES: tuple[Story, ...] = tuple(s for s in STORIES if s.syndicated_from is None)
COMMENTS_EN: tuple[Comment, ...] = tuple(Comment(**c) for c in _SITE["comments"]["en"])
COMMENTS_FR: tuple[Comment, ...] = tuple(Comment(**c) for c in _SITE["comments"]["fr"])
