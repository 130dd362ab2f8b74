"""A synthetic news web for benchmarks: S sources, N articles, served on 127.0.0.1.

Everything is derived from a seed, so two runs with the same (articles,
sources, seed) serve byte-identical feeds and pages. Only a small index (one
:class:`ArticleSpec` per article: source, path, title, seeds) is kept in
memory; every page is rendered from it when it is requested, so 20k articles
of 50-150 KB each cost a few MB, not gigabytes.

The web has what a real crawl meets:

* publishers and one wire service (``kind = "wire"``, credits ``Wire`` and
  ``Newswire``); the wire's stories carry a dateline ``CITY (Wire) —``;
* syndicated copies: the same body republished by a publisher under another
  headline (a separate publication, same cluster, credited to the wire);
* exact duplicates: an article listed a second time with tracking parameters
  (``?utm_source=...``), in a sibling feed of its source when it has one;
* RSS 2.0 and Atom 1.0 feeds, at most ``FEED_CAP`` items each, so a large
  source gets several feeds; feeds answer ``If-None-Match`` /
  ``If-Modified-Since`` with ``304 Not Modified``;
* pages of 50-150 KB: a big inline stylesheet, a mega-menu of navigation
  links, tracking and consent scripts, JSON-LD, related links, a teaser grid,
  reader comments, an inline app-state blob and a long footer, around an
  article of 300-900 words.

Every source is a virtual host (``www.source-0001.test``, ...,
``www.newswire.test``) on one loopback port, like ``ingest.demo.server``.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from types import TracebackType
from typing import Any, Protocol
from xml.sax.saxutils import escape as xml_text
from xml.sax.saxutils import quoteattr

from ingest.demo.loopback import LOOPBACK, LoopbackServer, Reply, RequestInfo, not_modified
from ingest.records import Source
from ingest.registry import dump_registry

FEED_CAP = 200  # items per feed, duplicate listings included
DEFAULT_SEED = 20260301
EPOCH = datetime(2025, 1, 6, 6, 0, tzinfo=UTC)  # first publication; every date is in the past
WIRE_ID = "newswire"
WIRE_NAME = "Newswire"
WIRE_CREDIT = "Wire"  # as in the dateline "PORTVILLE (Wire) —"
COPY_SHARE = 0.08  # share of the N articles that are syndicated copies of wire stories
DUPLICATE_SHARE = 0.05  # share of articles listed a second time with tracking parameters
MIN_PAGE_BYTES = 50_000
MAX_PAGE_BYTES = 150_000
HTML_TYPE = "text/html; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
TRACKING_QUERY = "utm_source=rss&utm_medium=feed&utm_campaign=syndication"

# ---------------------------------------------------------------------------
# Vocabulary and sentence templates (all invented)
#
# Real news shares few word 4-grams between unrelated stories, and the
# pipeline's near-duplicate stage (MinHash bands over word shingles) depends
# on that. So every article gets its own cast (places, people, organisations
# and topics drawn from generated names: hundreds of each), and the templates
# put a slot every two or three words: two unrelated articles share about 1%
# of their 4-word shingles, a syndicated copy all of them.
# ---------------------------------------------------------------------------

PLACE_HEADS = (
    "Ash", "Bram", "Cal", "Dun", "El", "Fen", "Gar", "Har", "Ing", "Kel", "Lin", "Mar",
    "Nor", "Oak", "Pen", "Quen", "Ros", "Sal", "Thorn", "Ul", "Ver", "Wren", "Yar", "Bel",
    "Cor", "Dor", "Esk", "Glen", "Hol", "Kin", "Lark", "Mill", "Stan", "Tre", "Wal", "Brack",
)  # fmt: skip
PLACE_TAILS = (
    "bridge", "ford", "mouth", "wick", "ley", "haven", "mere", "ton", "by", "field", "port",
    "stead", "combe", "holm", "dale", "burn", "gate", "minster", "cliff", "moor", "wood",
    "thorpe", "hithe", "well",
)  # fmt: skip
NAME_HEADS = (
    "Ald", "Bren", "Carr", "Dal", "Ever", "Fair", "Grims", "Hal", "Ives", "Jen", "Kirk",
    "Lang", "Mor", "Nash", "Ock", "Pem", "Rad", "Sher", "Tal", "Under", "Wal", "Yeo", "Bing",
    "Crom", "Dray", "Fitz", "Gos", "Hart", "Lock", "Mabb", "Pell", "Quill", "Sand", "Trev",
)  # fmt: skip
NAME_TAILS = (
    "well", "ford", "ley", "son", "man", "ridge", "wood", "by", "ton", "stone", "field",
    "worth", "more", "croft", "ham", "lowe", "wick", "ers", "ing", "hurst", "ett", "away",
)  # fmt: skip
FIRST = (
    "Eleanor", "Marcus", "Priya", "Tomasz", "Aisha", "Hugo", "Mei", "Rafael", "Ingrid",
    "Kwame", "Sofia", "Declan", "Yusuf", "Greta", "Anton", "Leila", "Owen", "Nadia", "Felix",
    "Rosa", "Idris", "Clara", "Benedict", "Amara", "Jonah", "Freya", "Malik", "Beatrix",
    "Casimir", "Dolores", "Emeka", "Fatima", "Gideon", "Hana", "Ivo", "Juno", "Kasper",
    "Lucia", "Mateo", "Niamh", "Oskar", "Petra", "Quentin", "Rhiannon", "Stellan", "Tamsin",
    "Ulrich", "Vera", "Wilhelmina", "Xavier", "Yara", "Zeno",
)  # fmt: skip
ORG_KINDS = (
    "Harbour Authority", "Water Board", "District Council", "Chamber of Commerce",
    "Health Trust", "Planning Panel", "Fisheries Office", "Energy Cooperative",
    "Housing Association", "Police Commission", "Teachers' Union", "Rail Company",
    "Environment Agency", "County Court", "Statistics Office", "Tourism Board",
    "Port Workers' Union", "Transport Executive", "Farmers' Union", "Arts Council",
    "Residents' Association", "Chamber of Shipping", "Hospital Board", "Flood Authority",
)  # fmt: skip
ADJECTIVES = (
    "coastal", "regional", "proposed", "long-delayed", "controversial", "revised",
    "emergency", "overdue", "expanded", "scaled-down", "temporary", "permanent", "cross-border",
    "publicly funded", "privately run", "flagship", "experimental", "disputed", "phased",
    "multi-year", "low-carbon", "council-backed", "community-led", "second", "northern",
    "southern", "eastern", "western", "riverside", "harbourside",
)  # fmt: skip
NOUNS = (
    "budget", "ferry service", "housing plan", "water contract", "school funding formula",
    "rail link", "wind farm", "hospital wing", "fishing quota", "bus network",
    "flood barrier", "library closure", "tram extension", "wage review", "dredging project",
    "rent cap", "recycling contract", "broadband rollout", "parking levy", "sea wall",
    "pay deal", "runway extension", "heat network", "museum refurbishment", "bridge toll",
    "coastal path", "cycle lane scheme", "market hall", "reservoir", "ambulance station",
    "sports centre", "care home contract", "tidal lagoon", "freight terminal", "solar park",
    "night bus trial", "school merger", "harbour crane", "district heating plan", "fire station",
)  # fmt: skip
GROUPS = (
    "small businesses", "commuters", "pensioners", "students", "fishermen", "tenants",
    "farmers", "nurses", "shop owners", "young families", "dock workers", "taxi drivers",
    "local charities", "first-time buyers", "bus drivers", "landlords", "carers",
    "hauliers", "publicans", "allotment holders", "boat owners", "cyclists",
)  # fmt: skip
VERBS_PAST = (
    "approved", "delayed", "rejected", "announced", "postponed", "expanded", "reviewed",
    "scaled back", "defended", "revised", "suspended", "unveiled", "endorsed", "questioned",
    "blocked", "fast-tracked", "costed", "audited", "shelved", "revived", "challenged",
    "renegotiated", "paused", "widened", "narrowed", "published", "leaked", "priced",
)  # fmt: skip
VERBS_PRESENT = (
    "approves", "delays", "rejects", "unveils", "postpones", "expands", "reviews",
    "scales back", "defends", "revises", "suspends", "backs", "questions", "freezes",
    "blocks", "fast-tracks", "shelves", "revives", "challenges", "pauses",
)  # fmt: skip
SAY = (
    "said", "told reporters", "argued", "insisted", "warned", "added", "wrote",
    "explained", "admitted", "claimed", "conceded", "noted",
)  # fmt: skip
ROLES = (
    "finance director", "spokesperson", "regional secretary", "chief executive",
    "opposition leader", "deputy mayor", "chair", "operations manager", "chief engineer",
    "head of policy", "ward councillor", "treasurer", "press officer", "planning officer",
    "general secretary", "medical director", "legal adviser", "programme director",
)  # fmt: skip
METRICS = (
    "passenger numbers", "average rents", "waiting times", "house prices", "visitor numbers",
    "energy bills", "unemployment", "school enrolment", "freight volumes", "water use",
    "reported burglaries", "business rates", "ferry crossings", "hospital admissions",
    "landings of cod", "applications", "complaints", "bus journeys",
)  # fmt: skip
PERIODS = (
    "last year", "since {year}", "over {small} years", "in the first quarter",
    "over the winter", "since the spring", "in {month}", "over {small} months",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PAPERS = ("Times", "Courier", "Herald", "Post", "Gazette", "Echo", "Chronicle", "Observer")
SECTIONS = (
    "News", "Politics", "Business", "Environment", "Transport", "Education", "Health",
    "Science", "Culture", "Sport", "Opinion", "Property", "Travel", "Technology",
)  # fmt: skip
EVENTS = (
    "marathon hearing", "months of protest", "surprise vote", "leaked report", "court ruling",
    "budget shortfall", "public outcry", "independent audit", "late-night deal",
    "storm damage", "ministerial visit", "petition", "strike threat", "cost overrun",
)  # fmt: skip

SENTENCES = (
    "{Org} {verb_past} the {topic} on {day}, after {small} months of {event}.",
    "{Person}, the {org}'s {role}, {say} that {topic2} costs had risen {pct} percent {period}.",
    "\u201c{Quote},\u201d {say2} {person2}, {role2} at {org2}.",
    "In {place}, {metric} {rose} {pct} percent {period}, figures from {org2} show.",
    "{Group} in {place2} {fear} the {topic} will {future}.",
    "The {topic}, first floated in {year}, would cost {money} over {small} years.",
    "{Person2} {say} {group} had {heard} about the {topic2} only in {month}.",
    "{Org2} {verb_past} a {adj} {noun} for {place2} in {year}, {person} recalled.",
    "About {n} {group} {live} within {small} miles of the {place} {noun}.",
    "{Person} {want} {org2} to {act} the {topic} before {month}.",
    "Asked about {topic2}, {person2} {declined} to {comment}.",
    "Neighbouring {place2} {verb_past} its own {adj} {noun} in {month} {year}.",
    "A {month} report by {org2} put {place}'s {metric} at {n}, {compare} {year}.",
    "{Person} {say} the {org} {had} \u201c{quote2}\u201d.",
    "{Group} and {group2} {met} {person2} in {place} on {day} evening.",
    "The {org}'s {role2}, {person3}, {expects} a {decision} by {month}.",
    "{Metric} at {place2} {rose} {pct} percent in {month}, {person3} {say}.",
    "Work on the {adj} {noun} at {place} is {due} to start in {month} {year}.",
    "Without the {topic}, {person} {say}, {group} in {place} would {suffer}.",
    "{Org} {declined} to say how the {money} shortfall on the {topic2} would be met.",
    "{Person3} {say} {n} letters about the {topic} had reached {org} since {month}.",
    "The {place} {noun} has {verb_pp} {small} times since {year}.",
)  # fmt: skip
QUOTES = (
    "{Group} in {place} deserve a {adj} answer on the {noun}",
    "We {verb_past} the {noun} because {place} cannot wait until {year}",
    "Nobody asked {group} what a {adj} {noun} would mean for them",
    "The {noun} in {place2} shows what happens when {org} {act2}",
    "If the {noun} slips past {month}, {group} will pay",
    "This {adj} {noun} is the biggest change {place} has seen since {year}",
)  # fmt: skip
HEADLINES = (
    "{Place} {org_kind} {verb_present} {adj} {noun} after {event}",
    "{Noun} in {place}: what the {event} means for {group}",
    "{Org_kind} {verb_present} {place} {noun} as {metric} climb",
    "{Place} {noun} faces new delay after {event}",
    "Why {group} in {place} are worried about the {adj} {noun}",
    "{Noun} row deepens as {place} {org_kind} {verb_present} plan",
    "{Place} to decide on {adj} {noun} by {month}",
    "{Group} warn over {place} {noun}",
)  # fmt: skip
COMMENTS = (
    "I have lived in {place} for {small}0 years and nobody asked us about the {noun}.",
    "Good reporting. The figures on {metric} are worth reading twice.",
    "Another delay. Who exactly is paying for all these reviews of the {noun}?",
    "The {noun} is long overdue. Well done to {org} for finally acting.",
    "My neighbours in {place} are split on this, but most {group} I know support it.",
    "Does anyone know when the next public meeting in {place} is?",
    "This article leaves out the cost to {group}, which is the whole point.",
    "We were promised the same thing in {year}. Forgive me if I do not hold my breath.",
    "Sensible decision. The alternative would have been far worse for {place}.",
    "Can the paper follow up on what happened to the money from the last {noun}?",
)  # fmt: skip
FUTURE = (
    "cost more than promised", "take years longer", "be reviewed again",
    "need government money", "go ahead regardless", "be paid for by a levy",
    "create jobs", "be put to a vote", "start before winter", "end in court",
)  # fmt: skip
_CHOICES: dict[str, tuple[str, ...]] = {
    "say": SAY,
    "say2": SAY,
    "role": ROLES,
    "role2": ROLES,
    "verb_past": VERBS_PAST,
    "verb_present": VERBS_PRESENT,
    "adj": ADJECTIVES,
    "noun": NOUNS,
    "metric": METRICS,
    "event": EVENTS,
    "day": DAYS,
    "month": MONTHS,
    "org_kind": ORG_KINDS,
    "rose": ("rose", "fell", "climbed", "dropped", "jumped", "slipped", "grew", "shrank"),
    "fear": ("fear", "hope", "expect", "doubt", "suspect", "are convinced"),
    "future": FUTURE,
    "heard": ("heard", "learned", "been told", "read"),
    "live": ("live", "work", "trade", "study", "farm"),
    "want": ("wants", "has asked", "has urged", "expects", "has challenged"),
    "act": ("rethink", "publish", "fund", "delay", "scrap", "cost", "explain", "defend"),
    "act2": ("rushes", "stalls", "overspends", "listens", "hesitates"),
    "declined": ("declined", "refused", "was unable", "did not want", "was not ready"),
    "comment": ("comment", "give a date", "name a figure", "speculate", "say more"),
    "compare": ("up from", "down from", "against", "compared with", "barely changed since"),
    "had": ("had been", "was", "remained", "had become"),
    "met": ("met", "lobbied", "questioned", "confronted", "wrote to"),
    "expects": ("expects", "promised", "ruled out", "hinted at", "wants"),
    "decision": ("decision", "vote", "ruling", "final answer", "revised plan"),
    "due": ("due", "expected", "scheduled", "unlikely", "set"),
    "suffer": ("lose out", "pay more", "wait longer", "move away", "struggle"),
    "verb_pp": ("been revised", "been delayed", "changed hands", "been redesigned", "flooded"),
}


def _place_name(r: random.Random) -> str:
    return r.choice(PLACE_HEADS) + r.choice(PLACE_TAILS)


def _person_name(r: random.Random) -> str:
    return f"{r.choice(FIRST)} {r.choice(NAME_HEADS)}{r.choice(NAME_TAILS)}"


def _cast(r: random.Random) -> dict[str, str]:
    """The names an article keeps coming back to."""
    place, place2 = _place_name(r), _place_name(r)
    org = f"{r.choice((place, place2, 'the'))} {r.choice(ORG_KINDS)}".removeprefix("the ")
    org2 = f"{_place_name(r)} {r.choice(ORG_KINDS)}"
    return {
        "place": place,
        "place2": place2,
        "person": _person_name(r),
        "person2": _person_name(r),
        "person3": _person_name(r),
        "org": org,
        "org2": org2,
        "topic": f"{r.choice(ADJECTIVES)} {r.choice(NOUNS)}",
        "topic2": f"{place} {r.choice(NOUNS)}",
        "group": r.choice(GROUPS),
        "group2": r.choice(GROUPS),
    }


class _Slots(dict[str, str]):
    """Template values: the article's cast, and fresh random words for the rest."""

    def __init__(self, r: random.Random, cast: dict[str, str]) -> None:
        super().__init__(cast)
        self.r = r

    def __missing__(self, key: str) -> str:
        r = self.r
        lower = key[:1].lower() + key[1:]
        if lower != key:
            value = _cap(self[lower])
        elif key in _CHOICES:
            value = r.choice(_CHOICES[key])
        elif key in {"quote", "quote2"}:
            value = _cap(r.choice(QUOTES).format_map(self))
        elif key == "period":
            value = r.choice(PERIODS).format_map(self)
        elif key == "n":
            value = f"{(1 + r.randrange(300)) * 10:,}"
        elif key == "pct":
            value = f"{1 + r.randrange(40)}.{r.randrange(10)}"
        elif key == "year":
            value = str(1995 + r.randrange(30))
        elif key == "small":
            value = str(2 + r.randrange(9))
        elif key == "money":
            value = f"\u00a3{1 + r.randrange(900)} million"
        else:
            raise KeyError(key)
        self[key] = value
        return value


def _fill(r: random.Random, template: str, cast: dict[str, str] | None = None) -> str:
    return template.format_map(_Slots(r, cast if cast is not None else _cast(r)))


NAV = (
    "Home", "News", "Local", "World", "Politics", "Elections", "Business", "Markets", "Economy",
    "Technology", "Science", "Environment", "Climate", "Health", "Education", "Transport",
    "Property", "Sport", "Football", "Rugby", "Cricket", "Tennis", "Sailing", "Athletics",
    "Culture", "Books", "Film", "Music", "Theatre", "Art", "Food", "Travel", "Motoring",
    "Opinion", "Letters", "Obituaries", "Puzzles", "Crosswords", "Weather", "Podcasts", "Video",
    "Photos", "Newsletters", "Jobs", "Events", "Family notices", "Subscribe", "E-edition",
)  # fmt: skip
FOOTER = (
    "About us", "Contact us", "Advertise with us", "Careers", "Editorial code", "Complaints",
    "Corrections", "Subscribe", "Manage subscription", "Digital edition", "Archive", "Sitemap",
    "Privacy notice", "Cookie policy", "Terms of use", "Accessibility", "Syndication",
    "Reprints and permissions", "Send us a tip", "Community guidelines", "RSS feeds",
    "Newsletters", "Apps", "Gift subscriptions", "Help centre", "Staff directory",
)  # fmt: skip
TEMPLATE_BODY_CLASS = ("article-body", "story-body", "entry-content")
TEMPLATE_PREFIX = ("gz-", "nw-", "pb-")


def _e(text: str) -> str:
    return escape(text, quote=True)


def _slug(text: str) -> str:
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return out[:80].rstrip("-")


def _js(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceSpec:
    index: int
    id: str
    name: str
    kind: str  # publisher | wire
    host: str  # www.<id>.test
    feed_format: str  # rss | atom
    country: str
    template: int  # 0..2: page template variant

    @property
    def domain(self) -> str:
        return self.host.removeprefix("www.")

    @property
    def credits(self) -> tuple[str, ...]:
        return (WIRE_CREDIT, WIRE_NAME) if self.kind == "wire" else ()


@dataclass(frozen=True, slots=True)
class ArticleSpec:
    index: int
    source: int  # SourceSpec.index
    path: str
    title: str
    published: datetime
    author: str
    section: str
    body_seed: int  # a syndicated copy has its original's seed, so the same body
    city: str | None  # dateline city of a wire story (original or copy)
    origin: int  # index of the wire original of a syndicated copy, else -1
    listed_twice: bool  # also listed with tracking parameters


@dataclass(frozen=True, slots=True)
class FeedSpec:
    source: int
    number: int  # 0.. within the source
    path: str
    listings: tuple[tuple[int, str], ...]  # (article index, path as listed incl. query)


class VirtualHostWeb:
    """What the generated web and the realistic web of ``realweb.py`` share:
    one host per source on one loopback port, URLs, and the dispatch of a
    request (robots.txt, home page, feeds with validators, article pages).
    Subclasses provide ``port``, ``sources``, ``articles``, the host, feed-path
    and page-path indexes and the renderers."""

    port: int
    sources: Any
    articles: Any
    _host_index: dict[str, int]
    _feed_by_path: dict[tuple[int, str], Any]
    _paths: dict[tuple[int, str], int]

    def origin_url(self, source: Any) -> str:
        src = self.sources[source] if isinstance(source, int) else source
        return f"http://{src.host}:{self.port}"

    def url(self, art: Any) -> str:
        a = self.articles[art] if isinstance(art, int) else art
        return self.origin_url(a.source) + a.path

    def feed_url(self, feed: Any) -> str:
        return self.origin_url(feed.source) + feed.path

    @property
    def hosts(self) -> list[str]:
        return [s.host for s in self.sources]

    def render_home(self, source: int) -> bytes:
        raise NotImplementedError

    def render_feed(self, feed: Any) -> tuple[bytes, str, datetime]:
        raise NotImplementedError

    def render_page(self, index: int) -> bytes:
        raise NotImplementedError

    def respond(self, host: str, path: str, headers: dict[str, str]) -> tuple[str, Reply]:
        """(kind, reply) for a GET on one of a web's virtual hosts: robots.txt,
        home page, feeds (with their validators: 304 when they match) and article
        pages. ``web``: a :class:`NewsWeb` or the realistic web of ``realself.py``
        (its host, feed-path and page-path indexes, sources, articles, renderers)."""
        source = self._host_index.get(host)
        if source is None:
            return "unknown_host", Reply(404, {"Content-Type": "text/plain"}, b"unknown host\n")
        if path == "/robots.txt":
            return "robots", Reply(
                200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
            )
        if path == "/":
            return "home", Reply(200, {"Content-Type": HTML_TYPE}, self.render_home(source))
        feed = self._feed_by_path.get((source, path))
        if feed is not None:
            body, etag, modified = self.render_feed(feed)
            common = {
                "ETag": etag,
                "Last-Modified": format_datetime(modified.astimezone(UTC), usegmt=True),
                "Cache-Control": "public, max-age=300",
            }
            if not_modified(headers, etag, modified):
                return "feed_304", Reply(304, common)
            kind = RSS_TYPE if self.sources[source].feed_format == "rss" else ATOM_TYPE
            return "feed", Reply(200, {**common, "Content-Type": kind}, body)
        index = self._paths.get((source, path))
        if index is not None:
            art = self.articles[index]
            return "page", Reply(
                200,
                {
                    "Content-Type": HTML_TYPE,
                    "Last-Modified": format_datetime(art.published.astimezone(UTC), usegmt=True),
                    "Cache-Control": "public, max-age=60",
                },
                self.render_page(index),
            )
        return "not_found", Reply(404, {"Content-Type": "text/plain"}, b"not found\n")


class NewsWeb(VirtualHostWeb):
    """The index of a synthetic news web and everything rendered from it.

    ``port`` is the loopback port the web is served on (absolute URLs in
    feeds and pages carry it); :class:`NewsWebServer` sets it when it binds.
    """

    def __init__(
        self, articles: int, sources: int, seed: int = DEFAULT_SEED, port: int = 0
    ) -> None:
        if sources < 2:
            raise ValueError("need at least 2 sources (one wire, one publisher)")
        if articles < 1:
            raise ValueError("need at least one article")
        self.seed = seed
        self.port = port
        self.sources: list[SourceSpec] = self._make_sources(sources)
        self.articles: list[ArticleSpec] = self._make_articles(articles)
        self.by_source: list[list[int]] = [[] for _ in self.sources]
        for art in self.articles:
            self.by_source[art.source].append(art.index)
        self._paths: dict[tuple[int, str], int] = {
            (a.source, a.path): a.index for a in self.articles
        }
        self.feeds: list[FeedSpec] = self._make_feeds()
        self._feed_by_path = {(f.source, f.path): f for f in self.feeds}
        self._host_index = {s.host: s.index for s in self.sources} | {
            s.domain: s.index for s in self.sources
        }
        self._chrome: dict[int, tuple[str, str, str]] = {}
        self._feed_cache: dict[tuple[int, str], tuple[bytes, str, datetime]] = {}
        self._rendered: dict[int, bytes] = {}
        self._by_url: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- construction ------------------------------------------------------------

    def _rng(self, *key: int) -> random.Random:
        value = self.seed
        for k in key:
            value = (value * 1_000_003 + k) & 0xFFFFFFFFFFFF
        return random.Random(value)

    def _make_sources(self, count: int) -> list[SourceSpec]:
        rng = self._rng(1)
        countries = ("GB", "US", "IE", "CA", "AU", "NZ")
        out = [SourceSpec(0, WIRE_ID, WIRE_NAME, "wire", f"www.{WIRE_ID}.test", "rss", "GB", 2)]
        for i in range(1, count):
            sid = f"source-{i:04d}"
            name = f"The {_place_name(rng)} {rng.choice(PAPERS)} ({i})"
            out.append(
                SourceSpec(
                    index=i,
                    id=sid,
                    name=name,
                    kind="publisher",
                    host=f"www.{sid}.test",
                    feed_format="atom" if i % 3 == 0 else "rss",
                    country=rng.choice(countries),
                    template=i % 3,
                )
            )
        return out

    def _make_articles(self, count: int) -> list[ArticleSpec]:
        rng = self._rng(2)
        n_sources = len(self.sources)
        copies = round(count * COPY_SHARE) if count >= 10 else 0
        originals = count - copies
        # Uneven source sizes, as in any real registry.
        weights = [1.0] + [0.4 + 1.6 * rng.random() for _ in range(1, n_sources)]
        owner = rng.choices(range(n_sources), weights=weights, k=originals)
        if copies and 0 not in owner:
            owner[0] = 0
        # Publication times: roughly every 4 minutes across the web, newest last.
        minutes = 0
        plan: list[tuple[int, int, int]] = []  # (source, minute, origin)
        for src in owner:
            minutes += 1 + rng.randrange(6)
            plan.append((src, minutes, -1))
        wire_originals = [i for i, (src, _m, _o) in enumerate(plan) if src == 0]
        taken: set[tuple[int, int]] = set()
        for _ in range(copies):
            origin = rng.choice(wire_originals)
            for _attempt in range(20):
                publisher = 1 + rng.randrange(n_sources - 1)
                if (origin, publisher) not in taken:
                    break
            taken.add((origin, publisher))
            plan.append((publisher, plan[origin][1] + 5 + rng.randrange(120), origin))
        out: list[ArticleSpec] = []
        for index, (src, minute, origin) in enumerate(plan):
            r = self._rng(3, index)
            published = EPOCH + timedelta(minutes=minute, seconds=r.randrange(60))
            title = self._headline(r)
            source = self.sources[src]
            if source.kind == "wire":
                path = f"/story/{published:%Y-%m-%d}/{_slug(title)}-{index:06d}"
            else:
                path = f"/news/{published:%Y/%m/%d}/{_slug(title)}-{index:06d}.html"
            if origin >= 0:
                body_seed, city = out[origin].body_seed, out[origin].city
                author = f"{WIRE_NAME} staff"
                section = out[origin].section
            else:
                body_seed = r.randrange(1 << 40)
                city = _place_name(rng).upper() if src == 0 else None
                author = _person_name(r)
                section = r.choice(SECTIONS)
            out.append(
                ArticleSpec(
                    index=index,
                    source=src,
                    path=path,
                    title=title,
                    published=published,
                    author=author,
                    section=section,
                    body_seed=body_seed,
                    city=city,
                    origin=origin,
                    listed_twice=r.random() < DUPLICATE_SHARE,
                )
            )
        return out

    def _make_feeds(self) -> list[FeedSpec]:
        feeds: list[FeedSpec] = []
        per_feed = int(FEED_CAP * (1 - 2 * DUPLICATE_SHARE))
        for source in self.sources:
            newest_first = sorted(
                self.by_source[source.index],
                key=lambda i: (self.articles[i].published, i),
                reverse=True,
            )
            chunks = [
                newest_first[i : i + per_feed] for i in range(0, len(newest_first), per_feed)
            ] or [[]]
            lists: list[list[tuple[int, str]]] = [
                [(i, self.articles[i].path) for i in chunk] for chunk in chunks
            ]
            # A duplicate listing goes to the sibling feed (the same feed when
            # there is only one), after the plain listings.
            for number, chunk in enumerate(chunks):
                target = lists[(number + 1) % len(chunks)]
                for i in chunk:
                    if self.articles[i].listed_twice and len(target) < FEED_CAP:
                        target.append((i, f"{self.articles[i].path}?{TRACKING_QUERY}"))
            ext = "atom" if source.feed_format == "atom" else "rss"
            for number, listing in enumerate(lists):
                path = f"/feeds/{ext}-{number}.xml"
                feeds.append(FeedSpec(source.index, number, path, tuple(listing)))
        return feeds

    # -- text --------------------------------------------------------------------

    @staticmethod
    def _headline(r: random.Random) -> str:
        return _cap(_fill(r, r.choice(HEADLINES)))

    def body(self, art: ArticleSpec) -> list[str]:
        """The article's paragraphs (the first one starts with the dateline of a
        wire story). A syndicated copy gets its original's text."""
        r = random.Random(art.body_seed)
        target = 300 + r.randrange(601)
        cast = _cast(r)
        paragraphs: list[str] = []
        words = 0
        while words < target:
            sentences = [_fill(r, r.choice(SENTENCES), cast) for _ in range(2 + r.randrange(4))]
            text = " ".join(sentences)
            if not paragraphs and art.city:
                text = f"{art.city} ({WIRE_CREDIT}) \u2014 {text}"
            paragraphs.append(text)
            words += len(text.split())
        return paragraphs

    def expected_body(self, url: str) -> str | None:
        """The text extracting the page at ``url`` should give (None: not a page)."""
        if len(self._by_url) != len(self.articles):
            self._by_url = {self.url(a): a.index for a in self.articles}
        index = self._by_url.get(url)
        return None if index is None else "\n".join(self.body(self.articles[index]))

    def summary(self, art: ArticleSpec) -> str:
        r = self._rng(4, art.index)
        cast = _cast(r)
        return " ".join(_fill(r, r.choice(SENTENCES), cast) for _ in range(2))

    def word_count(self, art: ArticleSpec) -> int:
        return sum(len(p.split()) for p in self.body(art))

    # -- URLs and facts ----------------------------------------------------------

    def expected(self) -> dict[str, int]:
        """What a correct pipeline ends with, and what it meets on the way."""
        copies = sum(1 for a in self.articles if a.origin >= 0)
        return {
            "articles": len(self.articles),
            "syndicated_copies": copies,
            "wire_originals_copied": len({a.origin for a in self.articles if a.origin >= 0}),
            "duplicate_listings": sum(len(f.listings) for f in self.feeds) - len(self.articles),
            "feeds": len(self.feeds),
            "sources": len(self.sources),
        }

    def sources_toml(self) -> str:
        """The registry in the project's TOML format; every host resolves to 127.0.0.1."""
        return dump_registry(
            (
                Source(
                    source_id=src.id,
                    name=src.name,
                    kind=src.kind,
                    homepage=self.origin_url(src) + "/",
                    domains=(src.domain,),
                    feeds=tuple(self.feed_url(f) for f in self.feeds if f.source == src.index),
                    credits=tuple(src.credits),
                    country=src.country,
                    language="en",
                )
                for src in self.sources
            ),
            header=f"Synthetic news web for benchmarks: {len(self.sources)} sources, "
            f"{len(self.articles)} articles, seed {self.seed}, port {self.port}.\n"
            "Every host below must resolve to 127.0.0.1.",
        )

    def iter_pages(self, sample: int | None = None) -> Iterator[tuple[str, bytes]]:
        """(url, html) of every article page, as the server sends it (no HTTP).

        ``sample`` takes that many pages spread evenly over the web instead.
        """
        indexes: Sequence[int] = range(len(self.articles))
        if sample is not None and sample < len(self.articles):
            step = len(self.articles) / sample
            indexes = [int(k * step) for k in range(sample)]
        for i in indexes:
            yield self.url(i), self.render_page(i)

    # -- pages -------------------------------------------------------------------

    def _source_chrome(self, src: SourceSpec) -> tuple[str, str, str]:
        """(head styles, header+navigation, footer) of a source: built once."""
        cached = self._chrome.get(src.index)
        if cached is not None:
            return cached
        p = TEMPLATE_PREFIX[src.template]
        r = self._rng(5, src.index)
        accent = f"#{r.randrange(0x222222, 0xCCCCCC):06x}"
        rules: list[str] = [
            f":root{{--{p}accent:{accent};--{p}ink:#111;--{p}paper:#fffdf8}}",
            f"body.{p}body{{margin:0;font-family:Georgia,serif;color:var(--{p}ink)}}",
        ]
        sides = {"": ("",), "t": ("-top",), "b": ("-bottom",), "l": ("-left",), "r": ("-right",)}
        for prop, short in (("margin", "m"), ("padding", "p")):
            for side, suffixes in sides.items():
                for n in range(16):
                    decl = ";".join(f"{prop}{s}:{n * 0.25:g}rem" for s in suffixes)
                    rules.append(f".{p}{short}{side}-{n}{{{decl}}}")
        for n in range(1, 13):
            rules.append(f".{p}col-{n}{{grid-column:span {n}/span {n}}}")
            rules.append(f".{p}order-{n}{{order:{n}}}")
        for name in ("accent", "ink", "paper", "muted", "rule", "alert"):
            rules.append(f".{p}fg-{name}{{color:var(--{p}{name})}}")
            rules.append(f".{p}bg-{name}{{background:var(--{p}{name})}}")
        styles = "\n".join(rules)
        nav_items: list[str] = []
        for label in NAV:
            sub = "\n".join(
                f'<li><a href="/{_slug(label)}/{_slug(place)}/">{_e(place)}</a></li>'
                for place in (_place_name(r) for _ in range(6))
            )
            nav_items.append(
                f'<li class="{p}nav-item"><a class="{p}nav-link" href="/{_slug(label)}/">'
                f'{_e(label)}</a>\n<ul class="{p}nav-sub">\n{sub}\n</ul></li>'
            )
        nav = "\n".join(nav_items)
        header = f"""<div id="{p}consent" class="{p}consent" role="dialog" aria-label="Cookies">
<p>We and our 146 partners use cookies and similar technologies to run this site, measure
our audience and show you relevant adverts. You can accept all, reject the ones that are not
essential, or choose. See our <a href="/info/cookie-policy">cookie policy</a>.</p>
<button type="button" data-consent="all">Accept all</button>
<button type="button" data-consent="essential">Reject non-essential</button>
<button type="button" data-consent="manage">Manage choices</button>
</div>
<header class="{p}masthead">
<div class="{p}topbar"><a href="/subscribe">Subscribe</a> <a href="/account/sign-in">Sign in</a>
<a href="/search" aria-label="Search">Search</a></div>
<a class="{p}logo" href="/">{_e(src.name)}</a>
<nav class="{p}nav" aria-label="Sections"><button class="{p}menu" type="button"
aria-expanded="false">Menu</button>
<ul class="{p}nav-list">
{nav}
</ul>
</nav>
</header>"""
        columns = []
        for c in range(4):
            links = "\n".join(
                f'<li><a href="/info/{_slug(label)}">{_e(label)}</a></li>' for label in FOOTER[c::4]
            )
            topics = "\n".join(
                f'<li><a href="/topic/{_slug(t)}/">{_e(_cap(t))}</a></li>' for t in NOUNS[c::4]
            )
            columns.append(
                f'<div class="{p}footer-col"><h3>{_e(src.name)}</h3><ul>\n{links}\n</ul>'
                f"<h3>Topics</h3><ul>\n{topics}\n</ul></div>"
            )
        footer = f"""<footer class="{p}footer">
<div class="{p}footer-cols">
{chr(10).join(columns)}
</div>
<p class="{p}legal">\u00a9 2026 {_e(src.name)} Media Ltd. All rights reserved. Registered
office: 1 Quay Street, {_e(_place_name(r))}. Reproduction without permission is prohibited.</p>
</footer>
<script>
(function () {{
  var KEY = "{p}consent_v3", banner = document.getElementById("{p}consent");
  function store(v) {{ try {{ localStorage.setItem(KEY, JSON.stringify({{v: v, t: Date.now()}}));
  }} catch (e) {{ document.cookie = KEY + "=" + v + ";path=/;max-age=31536000"; }} }}
  if (!banner) {{ return; }}
  banner.addEventListener("click", function (ev) {{
    var c = ev.target && ev.target.getAttribute("data-consent");
    if (c) {{ store(c); banner.hidden = true; (window.dataLayer = window.dataLayer || [])
      .push({{event: "consent_update", consent: c}}); }}
  }});
  var toggle = document.querySelector(".{p}menu");
  if (toggle) {{ toggle.addEventListener("click", function () {{
    var open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", String(!open)); }}); }}
}})();
</script>"""
        chrome = (styles, header, footer)
        with self._lock:
            self._chrome[src.index] = chrome
        return chrome

    def _teaser(self, p: str, i: int) -> str:
        a = self.articles[i]
        return (
            f'<li class="{p}teaser"><a class="{p}teaser-link" href="{_e(a.path)}">'
            f'<img src="/media/{a.index:06d}-400x225.jpg" alt="" width="400" height="225" '
            f'loading="lazy"><h3 class="{p}teaser-title">{_e(a.title)}</h3></a>'
            f'<p class="{p}teaser-meta">{_e(a.section)} \u00b7 <time datetime="'
            f'{a.published.isoformat()}">{a.published:%d %b %Y}</time></p></li>'
        )

    def prerender(self) -> float:
        """Render every article page now and serve them from memory: rendering
        costs about 1.7 ms of CPU a page, which would otherwise be taken from
        the pipeline being timed on the same cores (the extraction limit
        renders its pages before timing too). Returns the seconds it took."""
        started = time.perf_counter()
        for i in range(len(self.articles)):
            self._rendered[i] = self.render_page(i)
        return time.perf_counter() - started

    def render_page(self, index: int) -> bytes:
        """One article page, 50-150 KB, rendered from the index."""
        cached = self._rendered.get(index)
        if cached is not None:
            return cached
        art = self.articles[index]
        src = self.sources[art.source]
        styles, header, footer = self._source_chrome(src)
        p = TEMPLATE_PREFIX[src.template]
        r = self._rng(6, index)
        target = MIN_PAGE_BYTES + r.randrange(MAX_PAGE_BYTES - MIN_PAGE_BYTES)
        url = self.url(art)
        home = self.origin_url(src) + "/"
        paragraphs = self.body(art)
        summary = self.summary(art)
        published = art.published.isoformat()
        own = self.by_source[art.source]
        pos = bisect.bisect_left(own, index)  # own is ascending
        neighbours = [own[(pos + k) % len(own)] for k in range(1, min(len(own), 13))]
        related = "\n".join(
            f'<li><a href="{_e(self.articles[i].path)}">{_e(self.articles[i].title)}</a></li>'
            for i in neighbours[:8]
        )
        most_read = "\n".join(
            f'<li><span class="{p}rank">{n}</span><a href="{_e(self.articles[i].path)}?ref=most'
            f'-read">{_e(self.articles[i].title)}</a></li>'
            for n, i in enumerate(neighbours[4:], start=1)
        )
        jsonld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "mainEntityOfPage": {"@type": "WebPage", "@id": url},
            "url": url,
            "headline": art.title,
            "description": summary,
            "datePublished": published,
            "dateModified": published,
            "inLanguage": "en",
            "articleSection": art.section,
            "author": [{"@type": "Person", "name": art.author}],
            "publisher": {"@type": "NewsMediaOrganization", "name": src.name, "url": home},
        }
        if art.origin >= 0:
            jsonld["sourceOrganization"] = {"@type": "NewsMediaOrganization", "name": WIRE_NAME}
        datalayer = {
            "event": "page_view",
            "pageType": "article",
            "contentId": f"{src.id}-{art.index}",
            "section": _slug(art.section),
            "author": art.author,
            "publishedAt": published,
            "syndicated": art.origin >= 0,
        }
        body_html = []
        for n, text in enumerate(paragraphs, start=1):
            body_html.append(f"<p>{_e(text)}</p>")
            if n == 3 and len(paragraphs) > 5:
                body_html.append(
                    f'<div class="{p}inline-ad" data-slot="mpu-1" aria-hidden="true"></div>'
                )
        head = f"""<!doctype html>
<html lang="en-GB" class="no-js">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(art.title)} | {_e(src.name)}</title>
<meta name="description" content="{_e(summary)}">
<meta name="author" content="{_e(art.author)}">
<link rel="canonical" href="{_e(url)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{_e(art.title)}">
<meta property="og:description" content="{_e(summary)}">
<meta property="og:url" content="{_e(url)}">
<meta property="og:site_name" content="{_e(src.name)}">
<meta property="og:image" content="{home}media/{art.index:06d}-1200x675.jpg">
<meta property="article:published_time" content="{published}">
<meta property="article:section" content="{_e(art.section)}">
<meta name="twitter:card" content="summary_large_image">
<script type="application/ld+json">{_js(jsonld)}</script>
<style>
{styles}
</style>
<script>document.documentElement.className = "js";
window.dataLayer = window.dataLayer || []; window.dataLayer.push({_js(datalayer)});
(function (w, d, s) {{ var f = d.getElementsByTagName(s)[0], j = d.createElement(s);
j.async = true; j.src = "/static/js/analytics.{r.randrange(1 << 32):08x}.js";
f.parentNode.insertBefore(j, f); }})(window, document, "script");
</script>
</head>
<body class="{p}body {p}section-{_slug(art.section)}">
{header}
<nav class="{p}breadcrumb" aria-label="Breadcrumb"><ol><li><a href="/">Home</a></li>
<li><a href="/{_slug(art.section)}/">{_e(art.section)}</a></li></ol></nav>
<main id="{p}main" class="{p}main">
<article class="{p}article" id="{p}article-{art.index}">
<header class="{p}article-header">
<p class="{p}kicker"><a href="/{_slug(art.section)}/">{_e(art.section)}</a></p>
<h1 class="{p}headline">{_e(art.title)}</h1>
<p class="{p}standfirst">{_e(summary)}</p>
<div class="{p}byline">By <a rel="author" href="/profile/{_slug(art.author)}">\
{_e(art.author)}</a> | <time datetime="{published}">{art.published:%A %d %B %Y, %H:%M} GMT</time>\
</div>
<ul class="{p}share"><li><button type="button" data-share="email">Email</button></li>
<li><button type="button" data-share="native">Share</button></li>
<li><button type="button" data-share="print">Print</button></li></ul>
</header>
<div class="{TEMPLATE_BODY_CLASS[src.template]} {p}article-body" itemprop="articleBody">
{chr(10).join(body_html)}
</div>
<footer class="{p}article-footer"><ul class="{p}tags">
<li><a href="/topic/{_slug(art.section)}/">{_e(art.section)}</a></li></ul></footer>
</article>
<aside class="{p}rail" aria-label="More">
<section class="{p}related"><h2>Related stories</h2><ul>
{related}
</ul></section>
<section class="{p}most-read"><h2>Most read</h2><ol>
{most_read}
</ol></section>
<section class="{p}newsletter"><h2>The Morning Briefing</h2>
<p>The day's news in your inbox before breakfast, every weekday. Free to sign up.</p>
<form action="/newsletters/subscribe" method="post"><input type="email" name="email" required>
<button type="submit">Sign me up</button></form></section>
</aside>
"""
        tail = f"</main>\n{footer}\n</body>\n</html>\n"
        size = len(head) + len(tail) + 200
        # Reader comments (dropped by the extractor: include_comments=False).
        comments: list[str] = []
        for c in range(r.randrange(25)):
            text = _fill(r, r.choice(COMMENTS))
            comments.append(
                f'<li class="{p}comment" id="c{index}-{c}"><p class="{p}comment-meta"><strong>'
                f"{r.choice(FIRST)}{r.choice(NAME_HEADS)}{r.randrange(100)}</strong> \u00b7 "
                f"{1 + r.randrange(23)} hours ago</p><p>{_e(text)}</p>"
                f'<p><button type="button">Reply</button> <button type="button">Report'
                f"</button></p></li>"
            )
        comments_html = (
            f'<section id="comments" class="{p}comments"><h2>Comments ({len(comments)})</h2>'
            f'<ol class="{p}comment-list">\n' + "\n".join(comments) + "\n</ol></section>\n"
        )
        size += len(comments_html)
        # Fill to the target size: a teaser grid (markup), then an app-state blob.
        teasers: list[str] = []
        budget = max(0, target - size)
        grid_budget = budget * 3 // 5
        spent = 0
        step = 0
        while spent < grid_budget and step < 2000:
            i = own[(pos + 13 + step) % len(own)] if len(own) > 1 else index
            teaser = self._teaser(p, i if i != index else own[0])
            teasers.append(teaser)
            spent += len(teaser) + 1
            step += 1
        grid = (
            f'<section class="{p}more"><h2>More from {_e(src.name)}</h2>'
            f'<ul class="{p}grid">\n' + "\n".join(teasers) + "\n</ul></section>\n"
        )
        state_budget = budget - spent
        parts: list[str] = []
        used = 0
        k = 0
        while used < state_budget and k < 4000:
            a = self.articles[own[(pos + k) % len(own)]]
            part = _js(
                {
                    "id": f"{src.id}-{a.index}",
                    "headline": a.title,
                    "path": a.path,
                    "section": a.section,
                    "byline": a.author,
                    "published": a.published.isoformat(),
                    "image": {"src": f"/media/{a.index:06d}-800x450.jpg", "w": 800, "h": 450},
                    "flags": {"premium": k % 7 == 0, "live": False, "video": k % 5 == 0},
                }
            )
            parts.append(part)
            used += len(part) + 1
            k += 1
        blob = f'{{"page":{{"id":{art.index}}},"feed":[' + ",".join(parts) + "]}"
        state_html = f'<script id="__APP_STATE__" type="application/json">{blob}</script>\n'
        return (head + comments_html + grid + state_html + tail).encode("utf-8")

    def render_home(self, source: int) -> bytes:
        src = self.sources[source]
        p = TEMPLATE_PREFIX[src.template]
        newest = sorted(
            self.by_source[source], key=lambda i: self.articles[i].published, reverse=True
        )[:60]
        items = "\n".join(self._teaser(p, i) for i in newest)
        feeds = "\n".join(
            f'<link rel="alternate" type="application/{src.feed_format}+xml" '
            f'href="{_e(self.feed_url(f))}">'
            for f in self.feeds
            if f.source == source
        )
        return f"""<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>{_e(src.name)}</title>
<link rel="canonical" href="{self.origin_url(src)}/">
{feeds}
</head><body><h1>{_e(src.name)}</h1><ul>
{items}
</ul></body></html>
""".encode()

    # -- feeds -------------------------------------------------------------------

    def render_feed(self, feed: FeedSpec) -> tuple[bytes, str, datetime]:
        """(body, ETag, Last-Modified) of a feed; cached, feeds are few."""
        key = (feed.source, feed.path)
        cached = self._feed_cache.get(key)
        if cached is not None:
            return cached
        src = self.sources[feed.source]
        home = self.origin_url(src) + "/"
        self_url = self.feed_url(feed)
        arts = [self.articles[i] for i, _ in feed.listings]
        newest = max((a.published for a in arts), default=EPOCH)
        items: list[str] = []
        for (i, listed), art in zip(feed.listings, arts, strict=True):
            link = self.origin_url(src) + listed
            summary = self.summary(art)
            if src.feed_format == "atom":
                items.append(
                    f'<entry>\n<title type="text">{xml_text(art.title)}</title>\n'
                    f'<link rel="alternate" type="text/html" href={quoteattr(link)}/>\n'
                    f"<id>tag:{src.domain},2025:{i}{'-t' if '?' in listed else ''}</id>\n"
                    f"<published>{art.published.isoformat()}</published>\n"
                    f"<updated>{art.published.isoformat()}</updated>\n"
                    f"<author><name>{xml_text(art.author)}</name></author>\n"
                    f"<category term={quoteattr(art.section)}/>\n"
                    f'<summary type="text">{xml_text(summary)}</summary>\n</entry>'
                )
            else:
                items.append(
                    f"<item>\n<title>{xml_text(art.title)}</title>\n"
                    f"<link>{xml_text(link)}</link>\n"
                    f'<guid isPermaLink="true">{xml_text(link)}</guid>\n'
                    f"<pubDate>{format_datetime(art.published, usegmt=True)}</pubDate>\n"
                    f"<dc:creator>{xml_text(art.author)}</dc:creator>\n"
                    f"<category>{xml_text(art.section)}</category>\n"
                    f"<description>{xml_text(summary)}</description>\n</item>"
                )
        entries = "\n".join(items)
        if src.feed_format == "atom":
            text = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB">
<title>{xml_text(src.name)} ({feed.number})</title>
<link rel="alternate" type="text/html" href={quoteattr(home)}/>
<link rel="self" type="application/atom+xml" href={quoteattr(self_url)}/>
<id>tag:{src.domain},2025:feed-{feed.number}</id>
<updated>{newest.isoformat()}</updated>
<author><name>{xml_text(src.name)}</name></author>
<generator>news-ingest benchmarks</generator>
{entries}
</feed>
"""
        else:
            text = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" \
xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{xml_text(src.name)} ({feed.number})</title>
<link>{xml_text(home)}</link>
<description>Latest stories from {xml_text(src.name)}</description>
<language>en-gb</language>
<lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>
<atom:link href={quoteattr(self_url)} rel="self" type="application/rss+xml"/>
{entries}
</channel>
</rss>
"""
        body = text.encode("utf-8")
        etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'
        result = (body, etag, newest)
        with self._lock:
            self._feed_cache[key] = result
        return result

    # -- HTTP dispatch -----------------------------------------------------------


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


class ServedWeb(Protocol):
    """What :class:`NewsWebServer` needs of a web (:class:`NewsWeb`, or the
    realistic web of ``realweb.py``)."""

    port: int

    @property
    def hosts(self) -> list[str]: ...

    def respond(self, host: str, path: str, headers: dict[str, str]) -> tuple[str, Reply]: ...


class NewsWebServer:
    """A :class:`NewsWeb` on the project's loopback server; context manager.

    One port serves every source; the Host header picks the source.
    """

    def __init__(self, web: ServedWeb, port: int = 0, *, gzip: bool = False) -> None:
        self.web = web
        self.gzip = gzip
        self._server = LoopbackServer(self._respond, port, name="newsweb")
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.bytes_sent = 0

    def _respond(self, info: RequestInfo) -> Reply:
        kind, reply = self.web.respond(info.host.rstrip("."), info.path, info.headers)
        body = reply.body
        out = dict(reply.headers)
        accepts = info.headers.get("accept-encoding") or ""
        if self.gzip and body and reply.status == 200 and "gzip" in accepts:
            body = gzip.compress(body, compresslevel=1, mtime=0)
            out["Content-Encoding"] = "gzip"
            out["Vary"] = "Accept-Encoding"
        self.count(kind, len(body))
        return Reply(reply.status, out, body)

    def start(self) -> NewsWebServer:
        self._server.start()
        self.web.port = self._server.port
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> NewsWebServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self.web.port

    def count(self, kind: str, nbytes: int) -> None:
        with self._lock:
            self.requests[kind] += 1
            self.bytes_sent += nbytes

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_sent = 0

    def environment(self) -> dict[str, str]:
        """What ``ingest`` needs to reach the web: every host resolves to 127.0.0.1."""
        return {
            "INGEST_ALLOW_PRIVATE_HOSTS": LOOPBACK,
            "INGEST_RESOLVE": ",".join(f"{h}={LOOPBACK}" for h in self.web.hosts),
        }


def loopback(url: str) -> tuple[str, str]:
    """(URL on 127.0.0.1, Host header) for a URL on one of the web's virtual hosts."""
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    _host, _, port = netloc.partition(":")
    target = f"{scheme}://{LOOPBACK}{':' + port if port else ''}{slash}{path}"
    return target, netloc


def main() -> None:
    """Serve a web until interrupted: ``python benchmarks/newsweb.py N S [PORT]``."""
    import sys
    import time

    articles = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    sources = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    web = NewsWeb(articles, sources)
    with NewsWebServer(web, port) as server:
        print(f"serving {articles} articles from {sources} sources on {LOOPBACK}:{server.port}")
        print(json.dumps(web.expected()))
        print("environment:", " ".join(f"{k}={v}" for k, v in server.environment().items()))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()


__all__ = [
    "FEED_CAP",
    "LOOPBACK",
    "ArticleSpec",
    "FeedSpec",
    "NewsWeb",
    "NewsWebServer",
    "ServedWeb",
    "SourceSpec",
    "loopback",
]
