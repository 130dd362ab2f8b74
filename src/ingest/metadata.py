"""Article metadata: every candidate a page offers, one decision per field.

:func:`gather` reads what a page says about itself: JSON-LD (``@graph`` and
nested objects flattened; *the* article is the object whose URL matches the
page or whose headline matches its ``<h1>``, not simply the first), microdata
(``itemprop``), OpenGraph and other meta tags, ``<time>``, the byline, ``<h1>``
and ``<title>``. :func:`decide` picks each field from those candidates, the
feed entry and the registry, by agreement and by how much each source is to be
trusted for that field, and says where each value came from
(``metadata_sources``: field -> ``jsonld`` | ``microdata`` | ``og`` | ``meta``
| ``time`` | ``byline`` | ``h1`` | ``title`` | ``feed`` | ``registry`` | ``text``
| ``url``). Generic rules only: nothing here knows a publisher.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree
from lxml.html import HtmlElement

# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Context:
    """What is known of a page besides the page: its listing and its source."""

    url: str = ""
    source_name: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    timezone: str | None = None  # IANA name, from the registry
    language: str | None = None  # the registry's
    entry_title: str | None = None
    entry_author: str | None = None
    entry_published: datetime | None = None  # aware, in the offset the feed gave
    entry_language: str | None = None
    # Names that are never people: wire services and their credits.
    not_people: tuple[str, ...] = ()


@dataclass(frozen=True)
class Metadata:
    title: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None  # UTC
    published_precision: str | None = None  # minute | day
    modified_at: datetime | None = None
    language: str | None = None
    description: str | None = None
    image_url: str | None = None
    section: str | None = None
    keywords: tuple[str, ...] = ()
    canonical: str | None = None
    sitename: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def author(self) -> str | None:
        return "; ".join(self.authors) or None


@dataclass
class Page:
    """Everything :func:`gather` found, before any decision."""

    url: str
    jsonld: list[dict[str, object]] = field(default_factory=list)  # article-like objects
    main: dict[str, object] | None = None  # the article object of this page
    publisher_names: list[str] = field(default_factory=list)
    meta: dict[str, list[str]] = field(default_factory=dict)  # name/property -> contents
    itemprops: dict[str, list[str]] = field(default_factory=dict)
    itemprop_authors: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)  # <time datetime>, best first
    tree: HtmlElement | None = field(default=None, repr=False, compare=False)
    _bylines: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def bylines(self) -> list[str]:
        """Byline texts, looked for on first use (most pages name their
        authors in JSON-LD or meta tags, and the search walks every element)."""
        if self._bylines is None:
            self._bylines = _bylines(self.tree) if self.tree is not None else []
        return self._bylines

    h1: list[str] = field(default_factory=list)
    h1_bare: list[str] = field(default_factory=list)  # the h1 without its kicker element
    title: str | None = None
    html_lang: str | None = None
    canonical: str | None = None


# --------------------------------------------------------------------------- text helpers

_WS = re.compile(r"\s+")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)


def clean(text: object) -> str:
    """One line of text: NFC, invisible characters dropped, spaces collapsed."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFC", str(text)).translate(_INVISIBLE)
    return _WS.sub(" ", value).strip()


def _key(text: str) -> str:
    """Comparison form: NFKC, case-folded, letters and digits only."""
    value = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in value if ch.isalnum())


def _text(el: HtmlElement) -> str:
    return clean(el.text_content())


# --------------------------------------------------------------------------- gathering

ARTICLE_TYPES = frozenset(
    {
        "newsarticle",
        "article",
        "reportagenews",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "askpublicnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "techarticle",
        "report",
        "satiricalarticle",
        "scholarlyarticle",
        "advertisercontentarticle",
    }
)
PAGE_TYPES = frozenset({"webpage", "itempage", "collectionpage", "videoobject", "mediaobject"})
# Keys under which an object is about something else than the page itself:
# lists of other articles, the claim a fact-check reviews, parts, reviews.
ELSEWHERE = frozenset(
    {
        "itemlistelement",
        "relatedlink",
        "haspart",
        "ispartof",
        "itemreviewed",
        "claimreviewed",
        "review",
        "citation",
        "mentions",
        "about",
        "subjectof",
        "workexample",
        "significantlink",
        "breadcrumb",
    }
)


def _types(obj: Mapping[str, object]) -> set[str]:
    value = obj.get("@type")
    items = value if isinstance(value, list) else [value]
    return {str(t).rsplit("/", 1)[-1].casefold() for t in items if t}


def _strip_comments(raw: str) -> str:
    """JavaScript comments outside strings (some sites write them in JSON-LD)."""
    out: list[str] = []
    i, n = 0, len(raw)
    quote: str | None = None
    while i < n:
        ch = raw[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(raw[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch == '"':
            quote = ch
            out.append(ch)
        elif raw.startswith("//", i):
            end = raw.find("\n", i)
            i = n if end < 0 else end
            continue
        elif raw.startswith("/*", i):
            end = raw.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _loads(raw: str) -> object:
    raw = raw.strip()
    raw = re.sub(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$", "", raw)
    raw = raw.removeprefix("<!--").removesuffix("-->").strip()
    try:
        return json.loads(raw)
    except ValueError:
        pass
    # common breakage: comments, control characters inside strings, trailing commas
    fixed = _strip_comments(raw)
    fixed = re.sub(r",\s*([}\]])", r"\1", fixed.replace("\n", " ").replace("\t", " "))
    try:
        return json.loads(fixed, strict=False)
    except ValueError:
        return None


def _walk(value: object, elsewhere: bool = False) -> Iterator[tuple[dict[str, object], bool]]:
    """Every JSON-LD object, with whether it sits under a key that is about
    something other than the page (related articles, a reviewed claim)."""
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, elsewhere)
    elif isinstance(value, dict):
        yield value, elsewhere
        for key, child in value.items():
            k = str(key).casefold()
            if k == "@graph":
                yield from _walk(child, elsewhere)
            elif isinstance(child, dict | list):
                yield from _walk(child, elsewhere or k in ELSEWHERE or k == "author")


def _same_url(a: str, b: str) -> bool:
    def norm(u: str) -> str:
        parts = urlsplit(u.strip())
        host = (parts.hostname or "").removeprefix("www.")
        return host + parts.path.rstrip("/")

    return bool(a and b) and norm(a) == norm(b)


def _ref(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("@id") or value.get("url") or "")
    if isinstance(value, list) and value:
        return _ref(value[0])
    return str(value or "")


def gather(tree: HtmlElement, url: str) -> Page:
    """Every candidate the page offers (no decision yet)."""
    page = Page(url)
    for el in tree.iter("meta"):
        name = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip()
        content = el.get("content")
        if name and content is not None and (value := clean(content)):
            page.meta.setdefault(name.casefold(), []).append(value)
        http_equiv = (el.get("http-equiv") or "").casefold()
        if http_equiv == "content-language" and el.get("content"):
            page.meta.setdefault("content-language", []).append(clean(el.get("content")))
    for el in tree.iter("link"):
        rel = (el.get("rel") or "").casefold().split()
        if "canonical" in rel and el.get("href") and page.canonical is None:
            page.canonical = el.get("href", "").strip()
    if page.canonical is None and page.meta.get("og:url"):
        page.canonical = page.meta["og:url"][0]
    html = tree if tree.tag == "html" else tree.getroottree().getroot()
    lang = html.get("lang") or html.get("xml:lang") if html is not None else None
    page.html_lang = clean(lang) or None
    title = tree.find(".//title")
    page.title = _text(title) if title is not None else None
    for el in tree.iter("h1"):
        if text := _text(el):
            page.h1.append(text)
            bare = _without_kicker(el)
            if bare and bare != text:
                page.h1_bare.append(bare)
    _gather_jsonld(tree, page)
    _gather_microdata(tree, page)
    _gather_times(tree, page)
    page.tree = tree
    return page


_KICKER = re.compile(
    r"kicker|topline|dachzeile|overline|roofline|eyebrow|supertitle|surtitre|antetitulo|"
    r"occhiello|label|tag|category|flag|rubri",
    re.IGNORECASE,
)


def _without_kicker(h1: HtmlElement) -> str | None:
    """The h1's text without a kicker element (a short line above the headline
    marked up as its own element: "Dachzeile", "surtitre", "topline")."""
    children = [c for c in h1 if isinstance(c.tag, str)]
    if len(children) < 2:
        return None
    first = children[0]
    hint = f"{first.get('class') or ''} {first.get('id') or ''}"
    kicker = _text(first)
    if not kicker or len(kicker) > 80 or not _KICKER.search(hint):
        return None
    rest = clean(" ".join(_text(c) for c in children[1:]))
    return rest.lstrip(":–—- ").strip() or None


def _gather_jsonld(tree: HtmlElement, page: Page) -> None:
    found: list[tuple[dict[str, object], bool]] = []
    for script in tree.iter("script"):
        if "ld+json" not in (script.get("type") or "").casefold():
            continue
        data = _loads(script.text or "")
        if data is None:
            continue
        found.extend(_walk(data))
    candidates: list[tuple[int, int, dict[str, object]]] = []
    h1 = {_key(t) for t in page.h1}
    og = {_key(t) for t in page.meta.get("og:title", [])}
    for order, (obj, elsewhere) in enumerate(found):
        types = _types(obj)
        publisher = obj.get("publisher")
        if isinstance(publisher, dict) and publisher.get("name"):
            page.publisher_names.append(clean(publisher["name"]))
        org = types & {"organization", "newsmediaorganization", "website"}
        if org and obj.get("name") and not elsewhere:
            page.publisher_names.append(clean(obj["name"]))
        if not types & (ARTICLE_TYPES | PAGE_TYPES):
            continue
        page.jsonld.append(obj)
        score = 0
        if types & ARTICLE_TYPES:
            score += 4
        if elsewhere:
            score -= 10
        refs = [_ref(obj.get(k)) for k in ("url", "@id", "mainEntityOfPage")]
        if any(_same_url(r, page.url) or _same_url(r, page.canonical or "") for r in refs if r):
            score += 3
        headline = _key(clean(obj.get("headline") or obj.get("name") or ""))
        if headline and (headline in h1 or headline in og):
            score += 3
        if obj.get("datePublished"):
            score += 1
        candidates.append((score, -order, obj))
    if candidates:
        best = max(candidates, key=lambda c: (c[0], c[1]))
        if best[0] > 0:
            page.main = best[2]


_MICRO = (
    "headline",
    "name",
    "datepublished",
    "datemodified",
    "datecreated",
    "description",
    "articlesection",
    "keywords",
    "inlanguage",
)


def _gather_microdata(tree: HtmlElement, page: Page) -> None:
    for el in tree.xpath("//*[@itemprop]"):
        _microdata(el, page)


def _bylines(tree: HtmlElement) -> list[str]:
    """Texts of elements whose class or id says byline or author (at most 12)."""
    found: list[str] = []
    for el in tree.xpath('//a[@rel="author"] | //*[@class or @id]'):
        if el.tag == "a" and el.get("rel") == "author":
            pass
        else:
            hint = f"{el.get('class') or ''} {el.get('id') or ''}"
            if not _BYLINE_HINT.search(hint) or _BYLINE_SKIP.search(hint):
                continue
        if el.tag in ("script", "style", "meta", "link", "img", "body", "html"):
            continue
        text = _text(el)
        if 2 < len(text) <= 160 and text not in found:
            found.append(text)
            if len(found) >= 12:
                break
    return found


def _microdata(el: HtmlElement, page: Page) -> None:
    for prop in (el.get("itemprop") or "").casefold().split():
        if prop == "author":
            if value := _person_from_itemscope(el):
                page.itemprop_authors.append(value)
            continue
        if prop not in _MICRO:
            continue
        value = (
            el.get("content")
            or el.get("datetime")
            or (_text(el) if el.tag not in ("meta", "link") else "")
        )
        if value := clean(value):
            page.itemprops.setdefault(prop, []).append(value)


def _person_from_itemscope(el: HtmlElement) -> str:
    if el.get("itemscope") is not None:
        names = el.xpath('.//*[@itemprop="name"]')
        if names:
            return clean(names[0].get("content") or names[0].text_content())
    return clean(el.get("content") or el.text_content())


# <time> elements read at most: the article's own come first in the page;
# a long teaser list adds only cost.
MAX_TIMES = 24


def _gather_times(tree: HtmlElement, page: Page) -> None:
    ranked: list[tuple[int, int, str]] = []
    for order, el in enumerate(tree.iter("time")):
        if order >= MAX_TIMES:
            break
        value = clean(el.get("datetime"))
        if not value:
            continue
        hint = " ".join(
            (el.get("itemprop") or "", el.get("class") or "", el.get("id") or "")
        ).casefold()
        rank = 0
        if "pubdate" in el.attrib or re.search(r"publi|creat|posted|pubdate", hint):
            rank -= 2
        if re.search(r"modif|updat|edit", hint):
            rank += 3
        ancestors = list(el.iterancestors())
        if any(a.tag in ("article", "header") for a in ancestors):
            rank -= 1
        if _ELSEWHERE_CLASS.search(" ".join((a.get("class") or "") for a in ancestors)):
            rank += 5
        ranked.append((rank, order, value))
    page.times = [v for _, _, v in sorted(ranked)]


_ELSEWHERE_CLASS = re.compile(r"related|teaser|comment", re.IGNORECASE)
_BYLINE_HINT = re.compile(
    r"byline|author|autor|auteur|autore|writer|reporter|journalist|firma|signature|credit",
    re.IGNORECASE,
)
_BYLINE_SKIP = re.compile(r"bio|avatar|photo|image|img|comment|related|social|share", re.IGNORECASE)


# --------------------------------------------------------------------------- values


def _values(value: object) -> list[str]:
    """Strings of a JSON-LD value (a string, a list, an object with a name)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [v for item in value for v in _values(item)]
    if isinstance(value, dict):
        name = value.get("name") or value.get("@value") or value.get("url")
        return _values(name)
    text = clean(value)
    return [text] if text else []


def _first(*options: tuple[str | None, str]) -> tuple[str | None, str | None]:
    for value, source in options:
        if value:
            return value, source
    return None, None


def _prop(page: Page, name: str) -> str | None:
    values = page.itemprops.get(name)
    return values[0] if values else None


def _meta(page: Page, *names: str) -> str | None:
    for name in names:
        values = page.meta.get(name)
        if values:
            return values[0]
    return None


# --------------------------------------------------------------------------- title

# Separators between a headline and the site's name, section or date in
# <title> and og:title ("Headline - Site", "Site | Headline", "Headline – DW – 30.01.2024").
_CJK = "\u3000-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef"
_SEPARATORS = re.compile(
    r"\s+[|\-–—:·•»/~]\s+|\s*\|\s*|\s+::\s+|\s*--+\s*"
    rf"|(?<=[{_CJK}！？」』）])\s*[-_－—]\s*(?=[{_CJK}\w])|_(?=[{_CJK}])"
)
# "（1/2 ページ）", "(page 2)", "- Seite 2": which part of a split article this is
_PAGE_PART = re.compile(
    r"\s*[（(]\s*(?:\d+\s*/\s*\d+\s*(?:ページ|page|seite)?|(?:page|seite|página)\s*\d+)\s*[）)]\s*$",
    re.IGNORECASE,
)
_DATEISH = re.compile(r"^\W*\d{1,4}([./-])\d{1,2}\1\d{1,4}\W*$|^\W*\d{4}\W*$")


def site_names(page: Page, context: Context) -> list[str]:
    """Names the site goes by: og:site_name, the publisher in JSON-LD, the
    registry's name, the application name, the domain and its first label."""
    names = [*page.meta.get("og:site_name", []), *page.publisher_names]
    names += page.meta.get("application-name", []) + page.meta.get("apple-mobile-web-app-title", [])
    names += page.meta.get("twitter:site", [])
    if context.source_name:
        names.append(context.source_name)
    host = (urlsplit(context.url or page.url).hostname or "").removeprefix("www.")
    if host:
        names.append(host)
        labels = host.split(".")
        names += [label for label in labels[:-1] if len(label) > 1]
    return [n for n in dict.fromkeys(clean(n).lstrip("@") for n in names) if n]


def _is_site(segment: str, names: Sequence[str]) -> bool:
    key = _key(segment)
    if not key:
        return True
    if _DATEISH.match(segment):
        return True
    for name in names:
        other = _key(name)
        if not other:
            continue
        if key == other or (
            len(other) >= 3 and (key in other or other in key) and len(key) <= len(other) + 12
        ):
            return True
    return False


def strip_site(title: str, names: Sequence[str]) -> str:
    """A title without the site's name, section or date before or after it."""
    title = _PAGE_PART.sub("", title)
    parts = _SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    seps = _SEPARATORS.findall(title)
    longest = max(len(p) for p in parts)

    def drop(part: str, pipe: bool) -> bool:
        # a site name or date; or, beside a "|" or "_", a short section name
        short = len(part) <= 15 and len(part) * 3 <= longest
        return _is_site(part, names) or (pipe and short)

    # drop matching segments from either end while something is left
    lo, hi = 0, len(parts)
    changed = True
    while changed and hi - lo > 1:
        changed = False
        if drop(parts[hi - 1], bool(re.search(r"[|_]", seps[hi - 2]))):
            hi -= 1
            changed = True
        elif drop(parts[lo], bool(re.search(r"[|_]", seps[lo]))):
            lo += 1
            changed = True
    if (lo, hi) == (0, len(parts)):
        return title
    out = parts[lo]
    for i in range(lo + 1, hi):
        out += seps[i - 1] + parts[i]
    return out.strip()


def _similar(a: str, b: str) -> bool:
    ka, kb = _key(a), _key(b)
    if not ka or not kb:
        return False
    return ka == kb or (min(len(ka), len(kb)) >= 12 and (ka in kb or kb in ka))


def decide_title(page: Page, context: Context) -> tuple[str | None, str | None]:
    names = site_names(page, context)
    main = page.main or {}
    offers: list[tuple[str, str]] = []
    for value, source in (
        (clean(main.get("headline") or ""), "jsonld"),
        (_meta(page, "og:title"), "og"),
        (_meta(page, "twitter:title"), "meta"),
        (_prop(page, "headline"), "microdata"),
        (context.entry_title, "feed"),
        (page.title, "title"),
    ):
        if value:
            offers.append((strip_site(clean(value), names), source))
    # the visible headline wins when another source agrees with it (without
    # its kicker first: the kicker is not part of the headline)
    for heading in [*page.h1_bare[:2], *page.h1[:5]]:
        h1 = strip_site(heading, names)
        if _is_site(h1, names) or len(h1) < 4:
            continue
        agreeing = [v for v, _ in offers if _similar(v, h1)]
        if not agreeing:
            continue
        exact = [v for v in agreeing if _key(v) == _key(h1)]
        if exact:
            return h1, "h1"
        # h1 holds more than the others (a kicker before the headline): take
        # the shorter one the others agree on
        shorter = [v for v in agreeing if len(_key(v)) < len(_key(h1))]
        if shorter and len(agreeing) >= 1:
            best = max(shorter, key=lambda v: sum(_key(o) == _key(v) for o, _ in offers))
            source = next(s for v, s in offers if v == best)
            return best, source
        return h1, "h1"
    # no h1 agrees: the most agreed-on offer, in source order
    if not offers:
        return None, None
    scored = [
        (sum(1 for o, _ in offers if _key(o) == _key(v)), -i, v, s)
        for i, (v, s) in enumerate(offers)
    ]
    _, _, value, source = max(scored)
    return value, source


# --------------------------------------------------------------------------- authors

_BY = re.compile(
    r"^\s*(?:by|von|par|por|di|da|door|av|af|från|z|od|від|от|автор[ыи]?:?|текст:?|"
    r"written by|escrit[oa] por|reportage:?|text:?|texto:?|autor(?:in|es|a)?:?|auteurs?:?|"
    r"piše:?|yazan:?|yazar:?|reporter:?|author[s]?:?|posted by|redacción:?)\s+",
    re.IGNORECASE,
)
_ROLES = re.compile(
    r"\s*(?:[,|–—-]\s*)?(?:staff writer|senior writer|correspondent|reporter|editor|"
    r"contributor|columnist|journalist|redakteur(?:in)?|korrespondent(?:in)?|"
    r"기자|특파원|記者|编辑|責任編輯|责任编辑|通讯员)\b.*$",
    re.IGNORECASE,
)
_SPLIT = re.compile(
    r"\s*(?:,|;|&|\(|\)|\band\b|\bund\b|\bet\b|\by\b|\be\b|\bi\b|\bve\b|\bи\b|"
    r"\bavec\b|\bwith\b|\bmit\b|\bcon\b|\bcom\b|、|/|\|)\s*"
)
_NOT_PERSON = re.compile(
    r"\b(?:news|nachrichten|redaktion|redacci[oó]n|r[ée]daction|reda[cç][aã]o|redazione|"
    r"staff|desk|team|agency|agencia|agence|agenzia|agentur|editorial|editor[ie]s|newsroom|"
    r"online|press|presse|media|m[ée]dia|group|ltd|gmbh|inc|corp|zeitung|times|post|"
    r"tribune|journal|gazette|daily|radio|tv|television|channel|network|service|"
    r"reuters|associated|afp|dpa|efe|ansa|xinhua|tass|bureau|foreign|our correspondents?|"
    r"admin|administrator|webmaster|guest|anonymous|unknown|contributors?|writers?|"
    r"magazine|verlag|publishing|institut|university|ministry|government|department|"
    r"ag[êe]ncia|wire|zone|section|rubrique|ressort|"
    r"ομάδα|ομαδα|συντακτική|συντακτικη|редакция|редакція)\b",
    re.IGNORECASE,
)
# The same for scripts where a regular expression finds no word boundary (Han
# without spaces, Devanagari vowel signs): news flash, news site, editorial
# office, net, "author", bureau, desk, correspondent.
_NOT_PERSON_CJK = re.compile(
    r"快訊|快讯|新闻|新聞|编辑部|編輯部|报社|報社|网|網|日報|日报|通信|新聞社|作者|"
    r"ब्यूरो|डेस्क|संवाददाता"
)
_PARTICLES = frozenset(
    {
        "van", "von", "de", "da", "di", "del", "della", "der", "den", "du", "la", "le",
        "bin", "ibn", "al", "el", "y", "e", "dos", "das", "des", "ter", "ten", "zu",
    }
)  # fmt: skip


_CJK_ROLES = re.compile(
    r"(?:記者|记者|編輯|编辑|責任編輯|责任编辑|特約|特约|實習|实习|通訊員|通讯员|撰文|文字|文/|文／|"
    r"報導|报道|即時報導|综合报道|綜合報導|特派員|特派员|論説委員|編集委員|기자|특파원|객원기자|"
    r"لـ|بقلم|كتب|كتبت|تقرير)",
)
_CREDIT = re.compile(
    r"^(?:foto|photo|fotos|photos|bild|image|images|video|grafik|graphic|ilustraci[oó]n|"
    r"illustration|фото|写真|사진)\b|getty|shutterstock|imago|picture alliance|\bafp\b|"
    r"twitter|facebook|instagram|linkedin",
    re.IGNORECASE,
)


def _strip_ends(text: str) -> str:
    """Punctuation, symbols and spaces off both ends (combining marks and the
    dot of an initial stay)."""

    def edge(ch: str) -> bool:
        return ch != "." and unicodedata.category(ch)[0] in "PSZC"

    start, end = 0, len(text)
    while start < end and edge(text[start]):
        start += 1
    while end > start and edge(text[end - 1]):
        end -= 1
    return text[start:end]


def name_case(name: str) -> str:
    """A name set in one case as names are written: "LISA MASCARO" and
    "giampiero maggio" are a page's display style, "Lisa Mascaro" and
    "Giampiero Maggio" the names (particles after the first word stay lower:
    "Emilio de Benito"). A name in mixed case is kept as written ("McDonald")."""
    if name not in (name.upper(), name.lower()) or not any(ch.isalpha() for ch in name):
        return name
    if not any(unicodedata.category(ch) in ("Lu", "Ll") for ch in name):
        return name  # a script without case

    def word(w: str, first: bool) -> str:
        if not first and w.casefold() in _PARTICLES:
            return w.lower()
        return re.sub(r"[^\W\d_]+", lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), w)

    return " ".join(word(w, i == 0) for i, w in enumerate(name.split()))


def _person(name: str, names: Sequence[str]) -> str | None:
    """A person's name out of a byline fragment, or None when it is not one."""
    name = clean(name)
    if re.search(r"www\.|https?:|\.(?:com|net|org|de|fr|co\.uk)\b", name):
        return None  # "Deutsche Welle (www.dw.com)": an outlet
    name = _BY.sub("", name)
    name = _ROLES.sub("", name)
    # "Name - City", "Name, City" (a dateline after the name)
    name = re.sub(r"\s+[-–—]\s+\S+(?:\s+\S+){0,2}$", "", name)
    # "Outlet=Name" (Korean agency bylines)
    name = name.rsplit("=", 1)[-1]
    if _CREDIT.search(name):
        return None
    name = _CJK_ROLES.sub(" ", name)
    parts = [
        p
        for p in re.split(r"[／/|·•]", name)
        if p.strip() and not _NOT_PERSON_CJK.search(p) and not _NOT_PERSON.search(p)
    ]
    if len(parts) > 1:
        name = min(parts, key=lambda p: (len(p.strip()) < 2, len(p.strip())))
    name = clean(name)
    name = re.sub(r"\s*\(.*$", "", name)  # "(eg", "(avec ...": notes after the name
    name = re.sub(r"^\w+\s*:\s+", "", name)  # "Redaktor: ", "Text: "
    name = _strip_ends(name)
    if not name or len(name) > 60 or re.search(r"\d|@|https?:|www\.|\.com\b", name):
        return None
    if _NOT_PERSON.search(name) or _NOT_PERSON_CJK.search(name) or _is_site(name, names):
        return None
    if re.match(r"(?:the|der|die|das|le|la|les|el|il|o|a)\s", name, re.IGNORECASE):
        return None  # "The Russian": an article starts an outlet's or a desk's name
    words = name.split()
    if any(ch.isalpha() and ch.isascii() for ch in name) or any(
        unicodedata.category(ch) in ("Lu", "Ll") for ch in name
    ):
        # alphabetic scripts: 2 to 5 words, each capitalised (particles aside)
        if not 1 <= len(words) <= 5:
            return None
        if len(words) == 1 and len(name) < 3:
            return None
        lower = name == name.casefold()  # "giampiero maggio": a byline in lower case
        for w in words:
            first = w[0]
            if w.casefold() in _PARTICLES or not first.isalpha():
                continue
            if first.islower() and not (lower and len(words) <= 3):
                return None
        if len(words) == 1:
            return None  # a single word is a nickname, a desk or a site more often than a person
        return name_case(name)
    # scripts without case (CJK, Arabic, Devanagari, Thai ...): short, and no
    # punctuation inside (a sentence is not a name)
    if len(words) > 4 or len(name) > 30:
        return None
    if any(unicodedata.category(ch).startswith("P") for ch in name.replace(".", "")):
        return None
    return name


def people(text: str, names: Sequence[str]) -> list[str]:
    text = clean(text)
    if re.search(r"www\.|https?:", text):
        return []  # "Deutsche Welle (www.dw.com)": an outlet
    text = _BY.sub("", text)
    text = re.split(r"\s[|•]\s", text)[0]  # "Name | Outlet", "Name • date"
    out: list[str] = []
    for part in _SPLIT.split(text):
        if (person := _person(part, names)) and person not in out:
            out.append(person)
    return out


def _jsonld_people(value: object) -> list[str] | None:
    """People named by a JSON-LD author value; None when it names only
    organisations (so that another source may decide)."""
    items = value if isinstance(value, list) else [value]
    found: list[str] = []
    orgs = 0
    for item in items:
        if isinstance(item, dict):
            types = _types(item)
            if types & {"organization", "newsmediaorganization", "corporation"}:
                orgs += 1
                continue
            name = item.get("name") or " ".join(
                str(item.get(k) or "") for k in ("givenName", "familyName")
            )
            found += _values(name)
        else:
            found += _values(item)
    if not found and orgs:
        return None
    return found


# Bylines written into the article's text, where pages in these scripts put
# them ("최윤호 기자", "（记者罗博、萧海川）", "編集委員 中沢克二", "كتبت أسماء نصار").
_TEXT_BYLINES = (
    # "[엔터미디어=정덕현의 이슈공감]", "【ロンドン＝岡田浩幸】"
    re.compile(
        r"[\[【(（][^\]】)）=＝]{1,15}[=＝]\s*"
        r"([가-힣]{2,4}|[\u4e00-\u9fff]{2,4})(?=\s?기자|의\s|\s?特派員|】|\])"
    ),
    # "[부산=스포츠조선 선수민 기자]": the outlet between the place and the name
    re.compile(r"[\[【(（][^\]】)）=＝]{1,15}[=＝]\s*\S{2,8}\s([가-힣]{2,4})(?=\s?기자)"),
    # "최윤호 기자 uknow@donga.com": a Korean byline with the reporter's address
    re.compile(r"(?<![가-힣])([가-힣]{2,4})\s?(?:기자|특파원|객원기자|선임기자)\s+[\w.-]+@[\w.-]+"),
    re.compile(r"(?<![가-힣])([가-힣]{2,4})\s?(?:기자|특파원|객원기자|선임기자)(?![가-힣])"),
    re.compile(
        r"(?:记者|記者|编辑委员|編集委員|論説委員|评论员|評論員|特派员|特派員|撰文|文[／/])[\s:：]*"
        r"([\u4e00-\u9fff]{2,4}(?:[、，,和与及\s][\u4e00-\u9fff]{2,4})*)"
    ),
    re.compile(r"(?<![\u4e00-\u9fff])([\u4e00-\u9fff]{2,4})\s?(?:記者|特派員)(?![\u4e00-\u9fff])"),
    # "[田中宏昌，ITmedia]": a Japanese byline with the outlet after the name
    re.compile(r"[\[［]([\u4e00-\u9fff]{2,4})[，,、]\s?[A-Za-z\u30a0-\u30ff][^\]］]{1,20}[\]］]"),
    # "كتبت أسماء نصار", "حوار: آسيا العتروس", "بقلم حسام أبو العلا"
    re.compile(
        r"(?:^|\s)(?:كتبت?|بقلم|حوار|كتب\s*[-–:]|حوار\s*:)[\s:]+"
        r"([\u0621-\u064a]{2,}(?:\s(?:أبو|عبد|بن|بنت|ابن))?\s[\u0621-\u064a]{2,})"
    ),
)
# Bylines as a line of text near the headline, in alphabetic scripts.
_UPPER = "A-ZÀ-ÖØ-ÞŁŚŻŹĆŃŠŽČŘĐ"
_NAME = rf"[{_UPPER}][\w.'’-]*(?:\s+(?:[{_UPPER}][\w.'’-]*|de|da|van|von|del|di|la|le)){{1,3}}"
_LINE_BYLINE = re.compile(
    r"(?:\bBy|\bVon|\bPar|\bPor|\bDi|\bDoor|\bAv|Publicado por:|Un texte de|Texte\s?:|"
    r"Texto\s?:|Piše\s?:|Autor(?:in)?\s?:|Written by)\s+"
    rf"({_NAME}(?:\s*(?:,|&|\band\b|\bund\b|\bet\b|\by\b|\be\b)\s*{_NAME})*)"
)
_HAN = re.compile(r"[\u4e00-\u9fff]")
_EDITOR = re.compile(r"(?:编辑|編輯|责任编辑|責任編輯|editor|Editor|編集)[\s:：]*")


def text_bylines(text: str) -> list[str]:
    """People a byline in the text names (scripts that write bylines inline)."""
    out: list[str] = []
    head, tail = text[:600], text[-400:]
    for pattern in _TEXT_BYLINES:
        for part in (head, tail) if pattern.pattern.find("@") < 0 else (text,):
            for found in pattern.finditer(part):
                group = found.group(1)
                # Han names are written without spaces: a space separates two
                for name in re.split(
                    r"[、，,和与及\s]" if _HAN.match(group) else r"[、，,]", group
                ):
                    if name and name not in out:
                        out.append(name)
        if out:
            return out
    return out


def page_bylines(visible: str, headline: str | None) -> list[str]:
    """A byline line near the headline in the page's text ("By Matthew Digby,
    Minh Do on Monday", "Von Gregory Lipinski", "كتبت أسماء نصار")."""
    start = visible.find(headline) if headline else -1
    window = visible[start : start + 2500] if start >= 0 else visible[:3000]
    found = _LINE_BYLINE.search(window)
    if found:
        return [found.group(1)]
    return text_bylines(window[:600])


def _credit(text: str, names: Sequence[str]) -> bool:
    """A photo or agency credit ("APA/Georg Hochmuth", "afp.com/Michael Regan")."""
    left, sep, _ = text.partition("/")
    return (
        bool(sep)
        and bool(left.strip())
        and (_NOT_PERSON.search(left) is not None or _is_site(left, names) or "." in left)
    )


def _edited(person: str, text: str, visible: Visible | None) -> bool:
    """Whether the page names this person as the editor ("责任编辑：肖春芳")."""
    pattern = _EDITOR.pattern + re.escape(person)
    if text and re.search(pattern, text):
        return True
    # the page around the text is read for Han names only: crediting the editor
    # by name under the article is a Chinese and Japanese convention
    if visible is None or not _HAN.match(person):
        return False
    return re.search(pattern, visible.text) is not None


def decide_authors(
    page: Page,
    context: Context,
    fallback: str | None = None,
    *,
    text: str = "",
    visible: Visible | None = None,
    headline: str | None = None,
) -> tuple[tuple[str, ...], str | None]:
    """The people who wrote the article. The first source that speaks of an
    author decides: JSON-LD of the main article, microdata, meta tags, the
    byline nearest the top, the feed, a byline in the text. When it names only
    an organisation, a wire or the site, the article has no person as author
    (the names further down the page belong to other articles' teasers)."""
    names = [*site_names(page, context), *context.not_people]

    def offers() -> Iterator[tuple[list[str], str]]:
        # in order of trust; later ones are only looked for when needed
        main = page.main or {}
        if "author" in main or "creator" in main:
            raw = _jsonld_people(main.get("author") or main.get("creator"))
            if raw:
                yield raw, "jsonld"
        if page.itemprop_authors:
            yield page.itemprop_authors, "microdata"
        for key in (
            "author",
            "article:author",
            "parsely-author",
            "sailthru.author",
            "dc.creator",
            "dcterms.creator",
            "byl",
            "citation_author",
        ):
            values = [
                v for v in page.meta.get(key, []) if not v.startswith(("http://", "https://"))
            ]
            if values:
                yield values, "meta"
                break
        # the first byline that names people (one that names only the wire or
        # the desk ends the search: the names further down belong to teasers)
        for byline in page.bylines:
            if _credit(byline, names):
                continue
            if people(byline, names):
                yield [byline], "byline"
                break
            if len(byline) < 40 and (_NOT_PERSON.search(byline) or _is_site(byline, names)):
                yield [], "byline"
                break
        if context.entry_author:
            yield [context.entry_author], "feed"
        inline = text_bylines(text) if text else []
        if inline:
            yield inline, "text"
        if visible is not None:
            line = page_bylines(visible.text, headline)
            if line:
                yield line, "text"
        if fallback:
            yield [fallback], "text"

    for raw, source in offers():
        if source == "byline" and not raw:
            return (), "byline"  # the byline names the wire or the desk
        found: list[str] = []
        for value in raw:
            for person in people(value, names):
                if person not in found and not _edited(person, text, visible):
                    found.append(person)
        if found:
            return tuple(found[:8]), source
    return (), None


# --------------------------------------------------------------------------- dates

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T\s](\d{1,2}):(\d{2})(?::(\d{1,2})(?:[.,]\d+)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


@dataclass(frozen=True)
class Stamp:
    """A date as a page gives it: naive or with an offset, with or without a time."""

    day: date
    clock: time | None = None
    offset: timedelta | None = None

    @property
    def has_time(self) -> bool:
        return self.clock is not None

    def aware(self, zone: tzinfo | None) -> datetime | None:
        if self.clock is None:
            return None
        naive = datetime.combine(self.day, self.clock)
        if self.offset is not None:
            return naive.replace(tzinfo=timezone(self.offset))
        if zone is None:
            return None
        return naive.replace(tzinfo=zone)


def parse_stamp(value: str | None, *, strict: bool = False) -> Stamp | None:
    """ISO 8601 (the forms pages use), or RFC 822 as feeds and some meta tags
    do, or (not ``strict``) a free-form English date."""
    if not value:
        return None
    text = value.strip()
    m = _ISO.search(text)
    if m is None and strict:
        return None
    if m:
        try:
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
        if m.group(4) is None:
            return Stamp(day)
        try:
            clock = time(int(m.group(4)), int(m.group(5)), int(m.group(6) or 0))
        except ValueError:
            return Stamp(day)
        zone = m.group(7)
        offset = None
        if zone is None:
            abbr = re.match(r"\s*([A-Z]{2,5})\b", text[m.end() :])
            if abbr and abbr.group(1) in _ABBREVIATIONS:
                return Stamp(day, clock, timedelta(minutes=_ABBREVIATIONS[abbr.group(1)]))
        if zone == "Z":
            offset = timedelta(0)
        elif zone:
            digits = zone.replace(":", "")
            sign = -1 if digits[0] == "-" else 1
            hours, minutes = int(digits[1:3]), int(digits[3:5] or 0)
            offset = sign * timedelta(hours=hours, minutes=minutes)
        return Stamp(day, clock, offset)
    try:
        from email.utils import parsedate_tz  # noqa: PLC0415 - rare path

        parts = parsedate_tz(text)
    except (TypeError, ValueError):
        parts = None
    if parts is None:
        return _loose_stamp(text)
    try:
        day = date(parts[0], parts[1], parts[2])
        clock = time(parts[3], parts[4], parts[5])
    except ValueError:
        return None
    offset = timedelta(seconds=parts[9]) if parts[9] is not None else None
    named = re.search(r"\b([A-Z]{2,5})\b", text)
    if named and re.search(r"[+-]\d{4}\b", text) is None:
        # "Tue Jan 28 15:28:56 CET 2020": email.utils reads unknown names as UTC
        zone_name = named.group(1)
        known = _ABBREVIATIONS.get(zone_name)
        offset = timedelta(minutes=known) if known is not None else None
    return Stamp(day, clock, offset)


# Zone abbreviations pages print after a time ("01:38 PM IST Nov 20, 2019").
_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "BST": 60,
    "CET": 60,
    "CEST": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "IST": 330,
    "PKT": 300,
    "ICT": 420,
    "WIB": 420,
    "SGT": 480,
    "HKT": 480,
    "CST": -360,
    "CDT": -300,
    "EST": -300,
    "EDT": -240,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "JST": 540,
    "KST": 540,
    "AEST": 600,
    "AEDT": 660,
}


_ORDINALS = frozenset({"st", "nd", "rd", "th"})


def _loose_stamp(text: str) -> Stamp | None:
    """Free-form dates ("01:38:07 PM IST Nov 20, 2019") by dateutil, which
    the page gave in a date field; None when it is not one."""
    if len(text) > 60 or not re.search(r"\d", text):
        return None
    letters = [ch for ch in text if ch.isalpha()]
    if any(not ch.isascii() for ch in letters):
        return None  # dateutil reads English month names only
    from dateutil import parser as dateparser  # noqa: PLC0415 - rare path

    tzinfos = {k: v * 60 for k, v in _ABBREVIATIONS.items()}
    info = dateparser.parserinfo()
    digits = [m.start() for m in re.finditer(r"\d", text)]
    for found in re.finditer(r"[A-Za-z]{2,}", text):
        word = found.group()
        if not digits[0] < found.start() < digits[-1]:
            continue  # words around the date ("Researched by") are skipped
        known = (
            info.jump(word)
            or info.month(word) is not None
            or info.weekday(word) is not None
            or info.ampm(word) is not None
            or info.utczone(word)
            or word.upper() in tzinfos
            or word.lower() in _ORDINALS
        )
        if not known:
            return None  # a word inside the date that dateutil would skip ("09 enero 2014")
    try:
        parsed = dateparser.parse(text, tzinfos=tzinfos, fuzzy=True)
    except (ValueError, OverflowError, TypeError):
        return None
    has_time = bool(re.search(r"\d{1,2}:\d{2}", text))
    offset = parsed.utcoffset() if parsed.tzinfo is not None else None
    return Stamp(parsed.date(), parsed.time().replace(microsecond=0) if has_time else None, offset)


# The main time zone of a country, for a naive local time when the page, the
# feed and the registry give no offset. Countries with one zone come from the
# time zone database; this list picks the zone of the capital or the largest
# newsrooms where a country has several.
MAIN_ZONE = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "RU": "Europe/Moscow",
    "AU": "Australia/Sydney",
    "CN": "Asia/Shanghai",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "DE": "Europe/Berlin",
    "UA": "Europe/Kyiv",
    "MN": "Asia/Ulaanbaatar",
    "MY": "Asia/Kuala_Lumpur",
    "NZ": "Pacific/Auckland",
    "EC": "America/Guayaquil",
    "CD": "Africa/Kinshasa",
    "GB": "Europe/London",
    "FR": "Europe/Paris",
    "IN": "Asia/Kolkata",
    "XK": "Europe/Belgrade",
}


@lru_cache(maxsize=512)
def country_zone(country: str | None) -> tzinfo | None:
    if not country:
        return None
    name = MAIN_ZONE.get(country.upper())
    if name is None:
        name = _zone_tab().get(country.upper())
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=1)
def _zone_tab() -> dict[str, str]:
    """Country code -> its first zone in the time zone database's zone.tab."""
    out: dict[str, str] = {}
    try:
        from importlib import resources  # noqa: PLC0415

        text = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        try:
            with open("/usr/share/zoneinfo/zone.tab", encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            return out
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) >= 3:
            out.setdefault(cols[0], cols[2])
    return out


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class Dated:
    value: datetime  # UTC
    precision: str  # minute | day
    source: str


def _date_offers(page: Page) -> list[tuple[Stamp, str]]:
    main = page.main or {}
    raw: list[tuple[str | None, str]] = [
        (clean(main.get("datePublished") or ""), "jsonld"),
        (_meta(page, "article:published_time", "og:article:published_time"), "og"),
        (_prop(page, "datepublished"), "microdata"),
        (
            _meta(
                page,
                "parsely-pub-date",
                "sailthru.date",
                "date",
                "pubdate",
                "publishdate",
                "publish-date",
                "publish_date",
                "dc.date.issued",
                "dcterms.created",
                "dc.date",
                "dcterms.date",
                "article.published",
                "published_time",
                "datepublished",
                "cxenseparse:recs:publishtime",
                "og:published_time",
                "release_date",
            ),
            "meta",
        ),
        (page.times[0] if page.times else None, "time"),
        (clean(main.get("dateCreated") or ""), "jsonld"),
    ]
    out = []
    for value, source in raw:
        stamp = parse_stamp(value)
        if stamp is not None:
            out.append((stamp, source))
    return out


def _url_date(url: str) -> date | None:
    m = re.search(r"/(20\d{2}|19\d{2})[/-]?(\d{2})[/-]?(\d{2})(?:/|[^\d])", url)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _offsets(page: Page) -> list[timedelta]:
    """Offsets the page states anywhere (to place a naive time of the same page)."""
    values = [v for vs in page.meta.values() for v in vs] + page.times
    main = page.main or {}
    values += [clean(main.get(k) or "") for k in ("datePublished", "dateModified", "dateCreated")]
    found = []
    for v in values:
        stamp = parse_stamp(v, strict=True) if v and len(v) < 60 else None
        if stamp is not None and stamp.day.year < 1990:
            continue  # a placeholder ("0001-01-01T00:00:00Z") says nothing of the zone
        if stamp is not None and stamp.offset is not None and stamp.has_time:
            found.append(stamp.offset)
    return found


# "UTC" or "GMT" on its own; "GMT-03:00" and "UTC+2" name a local offset.
_SPEAKS_UTC = re.compile(r"\b(?:GMT|UTC)\b(?!\s*[+\-\u2212]\s*\d)")


def _utc_written_for_local(stamp: Stamp, zone: tzinfo | None, visible: Visible) -> bool:
    """A time marked UTC that the page prints, as is and unmarked, as its local
    time, and nowhere as the local time it would be: the markup mislabelled a
    local time (a common CMS error). Judged only when the local zone is not UTC
    and the page does not print times in UTC or GMT."""
    if zone is None or stamp.offset != timedelta(0) or stamp.clock is None:
        return False
    if not 1990 <= stamp.day.year <= 2100:
        return False
    local = datetime.combine(stamp.day, stamp.clock, UTC).astimezone(zone)
    if local.utcoffset() == timedelta(0):
        return False
    text = visible.text
    if not text or _SPEAKS_UTC.search(text[:20_000]):
        return False  # the page speaks of UTC or GMT: it means it
    printed = printed_times(text, stamp.day)
    if local.date() != stamp.day:
        printed += printed_times(text, local.date())
    if any(marked for _, marked in printed):
        return False
    hm = [(t.hour, t.minute) for t, _ in printed]
    return (stamp.clock.hour, stamp.clock.minute) in hm and (local.hour, local.minute) not in hm


def _naive_written_for_utc(stamp: Stamp, zone: tzinfo | None, visible: Visible) -> bool:
    """A time without an offset that the page prints, converted, as its local
    time and nowhere as it is: the markup gives UTC without saying so."""
    if zone is None or stamp.offset is not None or stamp.clock is None:
        return False
    if not 1990 <= stamp.day.year <= 2100:
        return False
    local = datetime.combine(stamp.day, stamp.clock, UTC).astimezone(zone)
    if local.utcoffset() == timedelta(0):
        return False
    text = visible.text
    if not text:
        return False
    printed = [(t.hour, t.minute) for t, _ in printed_times(text, local.date())]
    if local.date() != stamp.day:
        printed += [(t.hour, t.minute) for t, _ in printed_times(text, stamp.day)]
    return (local.hour, local.minute) in printed and (
        stamp.clock.hour,
        stamp.clock.minute,
    ) not in printed


def decide_published(
    page: Page,
    context: Context,
    now: datetime,
    extra: Iterable[tuple[str | None, str]] = (),
    visible: Visible | None = None,
) -> Dated | None:
    offers = _date_offers(page)
    for value, source in extra:
        stamp = parse_stamp(value)
        if stamp is not None:
            offers.append((stamp, source))
    zone_offsets = _offsets(page)
    feed_offset = context.entry_published.utcoffset() if context.entry_published else None
    registry_zone = _zone(context.timezone)
    guess_zone = country_zone(context.country)
    local_zone = registry_zone or guess_zone
    # A page that prints a time it marks as UTC as its local time has its
    # "UTC" offsets wrong everywhere: those times are local ones.
    seen = visible or Visible(None)
    utc_is_local = any(_utc_written_for_local(stamp, local_zone, seen) for stamp, _ in offers)
    if utc_is_local:
        offers = [
            (Stamp(st.day, st.clock, None) if st.offset == timedelta(0) else st, src)
            for st, src in offers
        ]
        zone_offsets = [o for o in zone_offsets if o != timedelta(0)]

    def place(stamp: Stamp) -> tuple[datetime | None, str]:
        if stamp.offset is not None:
            return stamp.aware(None), ""
        if zone_offsets:
            return stamp.aware(timezone(zone_offsets[0])), "page offset"
        if feed_offset is not None:
            return stamp.aware(timezone(feed_offset)), "feed offset"
        if _naive_written_for_utc(stamp, local_zone, seen):
            return stamp.aware(UTC), "printed local time"
        if registry_zone is not None:
            return stamp.aware(registry_zone), "registry zone"
        if guess_zone is not None:
            return stamp.aware(guess_zone), "country zone"
        return None, ""

    earliest = datetime(1990, 1, 1, tzinfo=UTC)
    latest = now + timedelta(days=1)
    dated: list[Dated] = []
    for stamp, source in offers:
        # midnight to the second is a date's placeholder, whatever its offset
        # ("2020-02-19T00:00:00-05:00"): the date is what it says
        if stamp.has_time and stamp.clock != time(0, 0):
            when, _ = place(stamp)
            if when is not None:
                utc = when.astimezone(UTC)
                if earliest <= utc <= latest:
                    dated.append(Dated(utc, "minute", source))
                continue
        day = datetime.combine(stamp.day, time(), UTC)
        if earliest <= day <= latest:
            dated.append(Dated(day, "day", source))
    if context.entry_published is not None:
        utc = context.entry_published.astimezone(UTC)
        if earliest <= utc <= latest:
            dated.append(Dated(utc, "minute", "feed"))
    if not dated:
        return None
    timed = [d for d in dated if d.precision == "minute"]
    days = {d.value.date() for d in dated if d.precision == "day"}
    if timed:
        # a time of day the day-only sources do not contradict, the most agreed first
        def support(d: Dated) -> int:
            return sum(abs((o.value - d.value).total_seconds()) < 120 for o in timed)

        def same_minute(d: Dated) -> int:
            minute = d.value.replace(second=0, microsecond=0)
            return sum(o.value.replace(second=0, microsecond=0) == minute for o in timed)

        def local_days(d: Dated) -> set[date]:
            # the dates the time can have somewhere between UTC-12 and UTC+14
            return {
                d.value.date(),
                (d.value + timedelta(hours=14)).date(),
                (d.value - timedelta(hours=12)).date(),
            }

        # a date in the article's URL is the day it first went up: when the
        # page's times disagree, those on that day are the first publication's
        # (the others an update's)
        url_days = {d.value.date() for d in dated if d.source == "url"}
        on_url_day = [d for d in timed if local_days(d) & url_days]
        choices = on_url_day or timed
        best = max(choices, key=lambda d: (support(d), same_minute(d), -timed.index(d)))
        if not days or days & local_days(best) or support(best) > 1:
            return best
    return next(d for d in dated if d.precision == "day") if days else dated[0]


def decide_modified(page: Page, published: Dated | None) -> datetime | None:
    main = page.main or {}
    for value in (
        clean(main.get("dateModified") or ""),
        _meta(page, "article:modified_time", "og:updated_time", "dateModified", "last-modified"),
        _prop(page, "datemodified"),
    ):
        stamp = parse_stamp(value)
        if stamp is None or not stamp.has_time:
            continue
        offset = stamp.offset
        if offset is None and published is not None:
            continue
        when = stamp.aware(timezone(offset or timedelta(0)))
        if when is None:
            continue
        utc = when.astimezone(UTC)
        if published is None or utc >= published.value:
            return utc
    return None


# --------------------------------------------------------------------------- other fields


def decide_description(page: Page) -> tuple[str | None, str | None]:
    main = page.main or {}
    return _first(
        (_meta(page, "og:description"), "og"),
        (clean(main.get("description") or ""), "jsonld"),
        (_meta(page, "description", "twitter:description"), "meta"),
    )


def decide_image(page: Page) -> tuple[str | None, str | None]:
    main = page.main or {}
    images = _values(main.get("image")) if main.get("image") else []
    return _first(
        (_meta(page, "og:image", "og:image:url", "og:image:secure_url"), "og"),
        (images[0] if images else None, "jsonld"),
        (_meta(page, "twitter:image", "twitter:image:src"), "meta"),
    )


def decide_section(page: Page) -> tuple[str | None, str | None]:
    main = page.main or {}
    sections = _values(main.get("articleSection"))
    return _first(
        (_meta(page, "article:section"), "og"),
        (sections[0] if sections else None, "jsonld"),
        (_meta(page, "section", "parsely-section", "article.section", "sailthru.section"), "meta"),
        (_prop(page, "articlesection"), "microdata"),
    )


def decide_keywords(page: Page) -> tuple[tuple[str, ...], str | None]:
    main = page.main or {}
    options: list[tuple[list[str], str]] = [
        (page.meta.get("article:tag", []), "og"),
        (_values(main.get("keywords")), "jsonld"),
        (page.meta.get("news_keywords", []) + page.meta.get("keywords", []), "meta"),
    ]
    for values, source in options:
        words: list[str] = []
        for value in values:
            for raw in re.split(r"\s*[,;]\s*", value):
                word = clean(raw)
                if word and len(word) <= 60 and word not in words:
                    words.append(word)
        if words:
            return tuple(words[:30]), source
    return (), None


# --------------------------------------------------------------------------- all fields


VISIBLE_LIMIT = 40_000


class Visible:
    """A page's visible text, read on first use (most pages never need it)."""

    def __init__(self, tree: HtmlElement | None, text: str | None = None) -> None:
        self._tree = tree
        self._text = text

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = visible_text(self._tree) if self._tree is not None else ""
        return self._text


def visible_text(tree: HtmlElement, limit: int = VISIBLE_LIMIT) -> str:
    """The page's visible text (scripts, styles and templates left out), spaces
    collapsed, up to ``limit`` characters. Block elements are separated by a
    space; read from a copy, so that the page itself is left as it is."""
    body = tree.find(".//body")
    root = deepcopy(body if body is not None else tree)
    etree.strip_elements(root, "script", "style", "noscript", "template", with_tail=False)
    for el in root.iter(*_BLOCKS):
        el.tail = " " + el.tail if el.tail else " "
    return " ".join(root.xpath("string()").split())[:limit]


# Elements after which text is a new run of words (for visible_text).
_BLOCKS = (
    "p", "div", "br", "li", "td", "th", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
    "span", "time", "a", "section", "article", "header", "footer", "ul", "ol", "dd", "dt",
)  # fmt: skip


_CLOCK = (
    r"(?P<h>[01]?\d|2[0-3])\s*(?::|時|시|h\b|h(?=\d)|\.)\s*(?P<m>[0-5]\d)"
    r"(?:\s*(?::|分)\s*(?P<s>[0-5]\d))?\s*(?:分|秒)?\s*(?P<ampm>[aApP]\.?\s?[mM]\.?(?!\w)|午前|午後|오전|오후|صباحا|صباحًا|صباحاً|مساء|مساءً|مساءا)?"
)


def _day_patterns(day: date) -> list[str]:
    y, m, d = day.year, day.month, day.day
    mm, dd = rf"0?{m}", rf"0?{d}"
    yy = f"{y % 100:02d}"
    return [
        rf"{y}\s*[-./年]\s*{mm}\s*[-./月]\s*{dd}\s*日?",
        rf"{y}\s*년\s*{mm}\s*월\s*{dd}\s*일",
        rf"(?<!\d){dd}\s*[./-]\s*{mm}\s*[./-]\s*(?:{y}|{yy}(?!\d))",
        rf"(?<!\d){mm}\s*/\s*{dd}\s*/\s*(?:{y}|{yy}(?!\d))",
        # a month written out: "24 أغسطس 2020", "18 novembre 2019", "November 18, 2019"
        # (and two names of one month: "24 نيسان / أبريل 2020")
        rf"(?<![\d.:]){dd}\.?,?\s+[^\W\d_]{{3,12}}\.?(?:\s*/\s*[^\W\d_]{{3,12}})?,?\s+{y}",
        rf"[^\W\d_]{{3,12}}\.?\s+{dd},?\s+{y}",
        # without the year, when a time follows at once: "3/9(木) 18:45",
        # "March 18 at 3:57 PM"
        rf"(?<![\d/]){mm}/{dd}(?:\([^)]{{1,3}}\))?(?=\s*\d{{1,2}}[:時])",
        rf"[^\W\d_]{{3,12}}\.?\s+{dd}(?=\s+(?:at|um|à|a las|alle|kl\.?)\s+\d)",
    ]


_UTC_MARK = re.compile(r"\s*(?:Z\b|UTC|GMT|\+00:?00)", re.IGNORECASE)


@lru_cache(maxsize=256)
def _day_regexes(day: date) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(the date spelled with its year, without it, a time followed by the
    date), compiled once per day."""
    patterns = _day_patterns(day)
    with_year = re.compile("|".join(f"(?:{p})" for p in patterns[:6]))
    no_year = re.compile("|".join(f"(?:{p})" for p in patterns[6:]))
    time_first = re.compile(
        _CLOCK + r"\s*(?:[A-Z]{2,5}\s*)?[,|]?\s*(?:" + "|".join(patterns[4:6]) + ")"
    )
    return with_year, no_year, time_first


def _clock_of(found: re.Match[str]) -> time:
    hour, minute = int(found.group("h")), int(found.group("m"))
    ampm = (found.group("ampm") or "").casefold().replace(".", "").replace(" ", "")
    if (ampm in ("pm", "午後", "오후") or ampm.startswith("مساء")) and hour < 12:
        hour += 12
    if (ampm in ("am", "午前", "오전") or ampm.startswith("صباح")) and hour == 12:
        hour = 0
    return time(hour, minute, int(found.group("s") or 0))


_CLOCK_AFTER = re.compile(r"[\s,|(\-–—]*(?:[^\W\d]{1,6}\.?[\s,]*)?" + _CLOCK)


def printed_times(text: str, day: date) -> list[tuple[time, bool]]:
    """Times of day printed next to ``day`` in the page's text ("2020.03.04
    16:52", "2019年6月24日 11時30分", "24.06.2019, 11:30", "Nov. 20, 2019, 9:28
    AM UTC", "10:02 AM EST Nov 19, 2019"), each with whether it is marked as
    UTC/GMT. Only the text around each mention of the year is read (a scan of
    the whole page per spelling cost milliseconds), and the first 5,000
    characters for dates written without their year."""
    with_year, no_year, time_first = _day_regexes(day)
    out: list[tuple[time, bool]] = []
    seen: set[int] = set()

    def clock_after(end: int) -> None:
        after = text[end : end + 40]
        clock = _CLOCK_AFTER.match(after)
        if clock is not None:
            marked = bool(_UTC_MARK.match(after[clock.end() : clock.end() + 8]))
            out.append((_clock_of(clock), marked))

    for year in {str(day.year), f"{day.year % 100:02d}"}:
        start = text.find(year)
        while start >= 0:
            lo = max(0, start - 60)
            window = text[lo : start + len(year) + 16]
            for found in with_year.finditer(window):
                if lo + found.end() not in seen:
                    seen.add(lo + found.end())
                    clock_after(lo + found.end())
            if len(year) == 4:
                out += [(_clock_of(m), False) for m in time_first.finditer(window)]
            start = text.find(year, start + 1)
    for found in no_year.finditer(text[:5000]):
        clock_after(found.end())
    return out


_CLOCK_ALONE = re.compile(r"[\s,|·•\-–—]{1,6}" + _CLOCK + r"(?![\d.:/])")


def time_after_byline(text: str, authors: Sequence[str]) -> time | None:
    """A time of day printed right after the byline's first name ("Par E.
    NURDIN - 05:01 - Temps de lecture"), where pages that give the date in
    their markup print only the time; None when the byline is not followed by one."""
    if not authors or not text:
        return None
    found = text[:VISIBLE_LIMIT].casefold().find(authors[0].casefold())
    if found < 0:
        return None
    clock = _CLOCK_ALONE.match(text, found + len(authors[0]))
    return _clock_of(clock) if clock is not None else None


def time_in_text(text: str, day: date) -> time | None:
    """The first time of day printed next to ``day``, or None."""
    found = printed_times(text, day)
    return found[0][0] if found else None


# "Published: Monday, November 18th, 2019 at 11:08 a.m.", "Publié le 12/03/2020
# à 14h05", "Veröffentlicht am 12.03.2020 um 14:05": a date the page itself
# calls the publication's (the first one, near the top).
_PUBLISHED_LABEL = re.compile(
    r"(?:\b(?:Published|Posted)(?: on|:)|\bPublié(?: le|:)|\bPublicado(?: el| em|:)|"
    r"\bVeröffentlicht(?: am|:)|\bPubblicato(?: il|:)|\bOpublikowano:?|\bGepubliceerd(?: op|:)|"
    r"\bPublicerad:?|\bJulkaistu:?|\bYayınlanma(?: Tarihi)?:?|发布时间[:：]?|發布時間[:：]?|"
    r"发表时间[:：]?|입력\s?:?)\s*(?P<rest>.{6,60})"
)
# "2019年02月22日 14時30分 公開", "2020/03/09 18:45 配信": the label after the date
_PUBLISHED_AFTER = re.compile(
    r"(?P<rest>\d{4}\s*[年./-]\s*\d{1,2}\s*[月./-]\s*\d{1,2}\s*日?"
    r"(?:\s*(?:\([^)]{1,3}\)|（[^）]{1,3}）)?\s*\d{1,2}\s*[時:]\s*\d{2}\s*分?)?)"
    r"\s*(?:公開|配信|掲載|発行|发布|發布)"
)
_CJK_DATE_MARKS = str.maketrans({"年": "-", "月": "-", "日": " ", "時": ":", "分": " "})
_NUMERIC_DATE = re.compile(
    r"(?P<a>\d{1,4})[./-](?P<b>\d{1,2})[./-](?P<c>\d{2,4})(?:\D{1,6}" + _CLOCK + ")?"
)


# Countries whose numeric dates put the month first (03/09/2020 is 9 March).
MONTH_FIRST = frozenset({"US", "PH", "FM", "MH", "PW", "BZ", "PR", "GU", "AS", "VI"})


def _numeric_date(numeric: re.Match[str], month_first: bool = False) -> str | None:
    """A matched ``_NUMERIC_DATE`` as ISO 8601 (naive; with its time when one
    follows): year first when the first number is one, else day first (month
    first where the country writes it so, or when the day-first reading has
    no such month)."""
    a, b, c = (int(numeric.group(k)) for k in ("a", "b", "c"))
    if a > 31:
        year, month, day = a, b, c
    else:
        year = c if c > 99 else 2000 + c
        day, month = (b, a) if month_first else (a, b)
        if month > 12 >= day:
            day, month = month, day
    try:
        when = date(year, month, day)
    except ValueError:
        return None
    if numeric.group("h") is None:
        return when.isoformat()
    return datetime.combine(when, _clock_of(numeric)).isoformat()


def byline_date(text: str, authors: Sequence[str], month_first: bool = False) -> str | None:
    """A numeric date printed just after the byline's first name ("Patricio
    Candia | Palma de Mallorca | 08/01/2014"), as ISO 8601, or None."""
    if not authors or not text:
        return None
    found = text[:VISIBLE_LIMIT].casefold().find(authors[0].casefold())
    if found < 0:
        return None
    after = text[found + len(authors[0]) : found + len(authors[0]) + 80]
    digit = re.search(r"\d", after)
    if digit is None or digit.start() > 50 or re.search(r"[.!?]\s", after[: digit.start()]):
        return None  # no date, or a sentence between the name and the number
    numeric = _NUMERIC_DATE.match(after, digit.start())
    return _numeric_date(numeric, month_first) if numeric is not None else None


def labelled_date(text: str, month_first: bool = False) -> str | None:
    """The first date the page labels as its publication's, as ISO 8601
    (naive; with the time when one follows), or None."""
    head = text[:20_000]
    found = _PUBLISHED_LABEL.search(head)
    after = _PUBLISHED_AFTER.search(head)
    if after is not None and (found is None or after.start() < found.start()):
        found = after
    if found is None:
        return None
    rest = found.group("rest")
    if found is after:
        rest = re.sub(r"\([^)]*\)|（[^）]*）", " ", rest.translate(_CJK_DATE_MARKS))
    numeric = _NUMERIC_DATE.match(rest.strip())
    if numeric is not None:
        return _numeric_date(numeric, month_first)
    # a date written out in English ("Monday, November 18th, 2019 at 11:08 a.m.")
    words = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", rest)
    words = re.sub(r"\b([ap])\.m\.", r"\1m", words, flags=re.IGNORECASE)
    words = re.split(r"\s[|•–—]\s|\bUpdated\b|\bby\b", words, maxsplit=1, flags=re.IGNORECASE)[0]
    stamp = _loose_stamp(words.replace(" at ", " ").strip(" ,."))
    if stamp is None:
        return None
    if stamp.clock is None:
        return stamp.day.isoformat()
    return datetime.combine(stamp.day, stamp.clock).isoformat()


# The Solar Hijri (Persian) calendar of Iranian and Afghan pages: its month
# names (Persian and Arabic letter forms), digits, and the afternoon and
# morning marks (ب.ظ, ق.ظ).
_JALALI_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("فروردین", "فروردين"),
            ("اردیبهشت", "ارديبهشت"),
            ("خرداد",),
            ("تیر", "تير"),
            ("مرداد", "امرداد"),
            ("شهریور", "شهريور"),
            ("مهر",),
            ("آبان", "ابان"),
            ("آذر", "اذر"),
            ("دی", "دي"),
            ("بهمن",),
            ("اسفند",),
        ),
        start=1,
    )
    for name in names
}
_JALALI = re.compile(
    r"(?<!\d)(?P<d>\d{1,2})\s+(?P<month>"
    + "|".join(sorted(_JALALI_MONTHS, key=len, reverse=True))
    + r")\s+(?P<y>1[34]\d\d)(?!\d)"
    + r"(?:[\s,\-–—|]{1,6}(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?"
    + r"\s*(?P<half>ب\.?\s?ظ|ق\.?\s?ظ)?)?"
)
_PERSIAN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def _jalali_days(year: int, month: int, day: int) -> int:
    shifted = year + 1595
    days = 365 * shifted + (shifted // 33) * 8 + ((shifted % 33) + 3) // 4 + day
    return days + ((month - 1) * 31 if month < 7 else (month - 7) * 30 + 186)


def jalali_to_gregorian(year: int, month: int, day: int) -> date:
    """A Solar Hijri date as a Gregorian one (the 33-year arithmetic rule,
    exact for the years pages print, 1178-1633): counted in days from 1
    Farvardin 1399, which was 20 March 2020."""
    if not 1 <= month <= 12 or not 1 <= day <= (31 if month < 7 else 30):
        raise ValueError(f"no such Solar Hijri date: {year}-{month}-{day}")
    return date(2020, 3, 20) + timedelta(days=_jalali_days(year, month, day) - _JALALI_EPOCH)


_JALALI_EPOCH = _jalali_days(1399, 1, 1)


def jalali_date(text: str) -> str | None:
    """The first Solar Hijri date with a time in the text (else the first
    date: a page's header often prints the day's date alone), as a Gregorian
    ISO 8601 naive date-time or date, or None."""
    dates = list(_JALALI.finditer(text[:20_000].translate(_PERSIAN_DIGITS)))
    found = next((d for d in dates if d.group("h") is not None), dates[0] if dates else None)
    if found is None:
        return None
    try:
        day = jalali_to_gregorian(
            int(found.group("y")), _JALALI_MONTHS[found.group("month")], int(found.group("d"))
        )
    except (ValueError, OverflowError):
        return None
    if found.group("h") is None:
        return day.isoformat()
    hour = int(found.group("h"))
    half = (found.group("half") or "").replace(".", "").replace(" ", "")
    if half == "بظ" and hour < 12:
        hour += 12
    elif half == "قظ" and hour == 12:
        hour = 0
    clock = time(hour, int(found.group("m")), int(found.group("s") or 0))
    return datetime.combine(day, clock).isoformat()


# dateparser's names for languages whose ISO 639-1 code it does not use
DATEPARSER_NAMES = {"no": "nb"}


@lru_cache(maxsize=32)
def _date_parser(language: str | None) -> Any:
    """dateparser (htmldate's parser of free-form dates) restricted to the
    page's language and English. Unrestricted, it tries every one of its 200
    locales on a string, compiling each locale's patterns the first time:
    about 6 s of CPU in each new process for a handful of pages, more than
    extracting a hundred. None when dateparser does not know the language
    (then every locale is tried, as before)."""
    from dateparser import DateDataParser  # noqa: PLC0415 - only when a page needs it
    from dateparser.languages.loader import default_loader  # noqa: PLC0415
    from htmldate.extractors import get_external_parser  # noqa: PLC0415

    known = default_loader.get_locale_map()
    name = DATEPARSER_NAMES.get(language or "", language)
    if name is None or name not in known:
        return None
    everywhere = get_external_parser()  # htmldate's own, for its settings
    return DateDataParser(
        languages=list(dict.fromkeys([name, "en"])),
        settings=everywhere._settings,  # a Settings object is taken as it is
    )


def text_date(tree: HtmlElement, url: str, language: str | None = None) -> str | None:
    """A date found in the page's text and markup by htmldate (the original
    publication date; with a time of day when the page gives one), its
    free-form dates read in the page's ``language`` (and English)."""
    from htmldate import extractors, find_date  # noqa: PLC0415 - only when the markup has no date

    parser = _date_parser(language)
    saved = extractors.get_external_parser
    if parser is not None:
        extractors.get_external_parser = lambda: parser  # type: ignore[assignment]
    # htmldate caches each string's reading: a reading in another language
    # must not be reused for this page
    extractors.try_date_expr.cache_clear()
    try:
        return find_date(
            tree,
            original_date=True,
            extensive_search=True,
            outputformat="%Y-%m-%dT%H:%M:%S%z",
            url=url,
        )
    except Exception:
        return None
    finally:
        extractors.get_external_parser = saved
        extractors.try_date_expr.cache_clear()


def describe(
    page: Page,
    context: Context,
    now: datetime,
    *,
    tree: HtmlElement | None = None,
    visible: Visible | None = None,
    body_text: str = "",
    text_author: str | None = None,
    language: tuple[str | None, str | None] = (None, None),
) -> Metadata:
    """Every field decided, with where each came from. ``text_author`` and
    ``text_date`` are what the extractor found in the text (used last)."""
    sources: dict[str, str] = {}

    def note(name: str, source: str | None) -> None:
        if source:
            sources[name] = source

    title, source = decide_title(page, context)
    note("title", source)
    if visible is None:
        visible = Visible(tree)
    authors, source = decide_authors(
        page, context, text_author, text=body_text, visible=visible, headline=title
    )
    note("authors", source)
    extra: list[tuple[str | None, str]] = []
    url_day = _url_date(context.url or page.url)
    if url_day is not None:
        extra.append((url_day.isoformat(), "url"))
    if visible is None:
        visible = Visible(tree)
    published = decide_published(page, context, now, extra, visible)
    if tree is not None and (published is None or published.precision == "day"):
        month_first = (context.country or "").upper() in MONTH_FIRST
        found = (
            labelled_date(visible.text, month_first)
            or byline_date(visible.text, authors, month_first)
            or jalali_date(visible.text)
            or text_date(tree, context.url or page.url, language[0])
        )
        if found:
            stamp = parse_stamp(found)
            if stamp is not None and stamp.clock == time(0, 0) and stamp.offset is None:
                found = stamp.day.isoformat()  # htmldate's midnight means "no time"
            better = decide_published(page, context, now, [*extra, (found, "text")], visible)
            if better is not None and (
                published is None
                or (better.precision == "minute" and better.value.date() == published.value.date())
            ):
                published = better
    if tree is not None and published is not None and published.precision == "day":
        # a date without a time: the page may print the time beside the date
        clock = time_in_text(visible.text, published.value.date())
        if clock is None:
            clock = time_after_byline(visible.text, authors)
        if clock is not None:
            stamp = Stamp(published.value.date(), clock)
            timed = decide_published(
                page,
                context,
                now,
                [*extra, (datetime.combine(stamp.day, clock).isoformat(), "text")],
                visible,
            )
            if timed is not None and timed.precision == "minute":
                published = timed
    if published is not None:
        note("published_at", published.source)
    modified = decide_modified(page, published)
    if modified is not None:
        note("modified_at", "page")
    lang, source = language
    note("language", source)
    description, source = decide_description(page)
    note("description", source)
    image, source = decide_image(page)
    note("image_url", source)
    section, source = decide_section(page)
    note("section", source)
    keywords, source = decide_keywords(page)
    note("keywords", source)
    names = page.meta.get("og:site_name") or page.publisher_names
    return Metadata(
        title=title,
        authors=authors,
        published_at=published.value if published else None,
        published_precision=published.precision if published else None,
        modified_at=modified,
        language=lang,
        description=description,
        image_url=image,
        section=section,
        keywords=keywords,
        canonical=page.canonical,
        sitename=names[0] if names else context.source_name,
        sources=sources,
    )
