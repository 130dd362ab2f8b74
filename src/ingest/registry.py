"""The source registry: a TOML file of publishers, wire services and their feeds.

Loading validates everything a typo could break (unknown keys, duplicate ids
or domains, bad URLs) and reports every problem at once with its location.
OPML import and export let users move feed lists in and out of other readers.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.records import Source
from ingest.urls import BadURL, canonicalize, host_of, on_domain, registered_domain, site_domain

KINDS = ("publisher", "wire", "aggregator")
KEYS = frozenset(
    {
        "id",
        "name",
        "kind",
        "homepage",
        "domains",
        "country",
        "language",
        "timezone",
        "feeds",
        "sitemaps",
        "credits",
        "tags",
    }
)
REQUIRED = ("id", "name", "kind", "homepage", "domains")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class RegistryError(ValueError):
    """The registry file is invalid; ``problems`` lists every reason."""

    def __init__(self, origin: str, problems: Sequence[str]) -> None:
        self.origin = origin
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid source registry {origin}:\n{lines}")


def feed_id_for(url: str) -> str:
    """Stable id of a feed: a short hash of the URL the registry gives for it."""
    return "f" + hashlib.sha1(url.encode("utf-8"), usedforsecurity=False).hexdigest()[:15]


@dataclass(frozen=True)
class Registry:
    sources: tuple[Source, ...]
    origin: str = "<memory>"  # the file it was read from
    sha256: str = ""  # of the file's bytes (of the parsed data when not from a file)
    # source_id -> source: every parsed feed asks for its source, and a
    # registry may hold tens of thousands
    _by_id: Mapping[str, Source] = field(init=False, repr=False, compare=False)
    # domain -> the first source that lists it (every fetched page asks)
    _by_domain: Mapping[str, Source] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Source] = {}
        by_domain: dict[str, Source] = {}
        for source in self.sources:
            by_id.setdefault(source.source_id, source)
            for domain in source.domains:
                by_domain.setdefault(domain.lower().rstrip("."), source)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_by_domain", by_domain)

    def __iter__(self) -> Iterator[Source]:
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)

    def get(self, source_id: str) -> Source | None:
        return self._by_id.get(source_id)

    def owner_of(self, host: str) -> Source | None:
        """The source whose registered domain the host is on (longest match wins)."""
        labels = host.lower().rstrip(".").split(".")
        for i in range(len(labels)):  # the host itself, then each parent domain
            if (source := self._by_domain.get(".".join(labels[i:]))) is not None:
                return source
        return None

    def wires(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.kind == "wire")

    def feeds(self) -> Iterator[tuple[str, Source, str]]:
        """(feed_id, source, url) for every feed of every source."""
        for source in self.sources:
            for url in source.feeds:
                yield feed_id_for(url), source, url


def _str_list(value: object, where: str, key: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: {key} must be a list of strings")
        return ()
    return tuple(v.strip() for v in value)


def _check_url(url: str, where: str, key: str, problems: list[str]) -> None:
    try:
        canonicalize(url)
    except BadURL as exc:
        problems.append(f"{where}: {key} {url!r} is not a valid http(s) URL ({exc})")


def parse_registry(data: dict[str, object], origin: str = "<memory>") -> Registry:
    problems: list[str] = []
    raw = data.get("sources")
    extra = set(data) - {"sources"}
    if extra:
        problems.append(f"unknown top-level keys: {', '.join(sorted(extra))}")
    if not isinstance(raw, list):
        raise RegistryError(origin, [*problems, "expected [[sources]] tables"])
    sources: list[Source] = []
    seen_ids: dict[str, int] = {}
    seen_domains: dict[str, str] = {}
    seen_feeds: dict[str, str] = {}
    for index, item in enumerate(raw, start=1):
        where = f"source #{index}"
        if not isinstance(item, dict):
            problems.append(f"{where}: not a table")
            continue
        if isinstance(item.get("id"), str):
            where = f"source #{index} ({item['id']})"
        unknown = set(item) - KEYS
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        missing = [k for k in REQUIRED if k not in item]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        wrong_types = [
            k
            for k in ("id", "name", "kind", "homepage", "country", "language", "timezone")
            if k in item and not isinstance(item[k], str)
        ]
        if wrong_types:
            problems.extend(f"{where}: {k} must be a string" for k in wrong_types)
            continue
        source_id = str(item["id"])
        kind = str(item["kind"])
        if not SLUG.match(source_id):
            problems.append(f"{where}: id must be a slug (a-z, 0-9, '-')")
        if source_id in seen_ids:
            problems.append(f"{where}: duplicate id (first at source #{seen_ids[source_id]})")
        seen_ids.setdefault(source_id, index)
        if kind not in KINDS:
            problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        _check_url(str(item["homepage"]), where, "homepage", problems)
        domains = tuple(
            d.lower() for d in _str_list(item.get("domains"), where, "domains", problems)
        )
        if not domains:
            problems.append(f"{where}: domains must list at least one domain")
        for domain in domains:
            if not domain or "/" in domain or ":" in domain:
                problems.append(f"{where}: domain {domain!r} must be a bare host name")
            if domain in seen_domains:
                problems.append(
                    f"{where}: domain {domain} already belongs to {seen_domains[domain]}"
                )
            seen_domains.setdefault(domain, source_id)
        feeds = _str_list(item.get("feeds"), where, "feeds", problems)
        sitemaps = _str_list(item.get("sitemaps"), where, "sitemaps", problems)
        for url in feeds:
            _check_url(url, where, "feed", problems)
            if url in seen_feeds:
                problems.append(f"{where}: feed {url} already listed by {seen_feeds[url]}")
            seen_feeds.setdefault(url, source_id)
        for url in sitemaps:
            _check_url(url, where, "sitemap", problems)
        zone = str(item["timezone"]) if item.get("timezone") else None
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"{where}: timezone {zone!r} is not an IANA time zone")
        tags = _str_list(item.get("tags"), where, "tags", problems)
        credits = _str_list(item.get("credits"), where, "credits", problems)
        if credits and kind != "wire":
            problems.append(f'{where}: credits are for kind = "wire" sources only')
        sources.append(
            Source(
                source_id=source_id,
                name=str(item["name"]),
                kind=kind,
                homepage=str(item["homepage"]),
                domains=domains,
                feeds=feeds,
                sitemaps=sitemaps,
                credits=credits,
                country=str(item["country"]) if item.get("country") else None,
                language=str(item["language"]) if item.get("language") else None,
                timezone=zone,
                tags=tags,
            )
        )
    if problems:
        raise RegistryError(origin, problems)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return Registry(tuple(sources), origin, digest)


# The last registry loaded in this process, by (path, sha256 of its bytes):
# a command and the flow it starts both load the registry, and a process that
# serves scheduled runs loads it on every run. Validating every URL of a big
# registry takes seconds (10,000 sources: several, each URL canonicalised);
# the same bytes give the same registry.
_loaded: dict[tuple[str, str], Registry] = {}


def load_registry(path: Path) -> Registry:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise RegistryError(str(path), [f"cannot read: {exc.strerror or exc}"]) from exc
    sha256 = hashlib.sha256(text).hexdigest()
    if (known := _loaded.get((str(path), sha256))) is not None:
        return known
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(str(path), [f"not valid TOML: {exc}"]) from exc
    registry = replace(parse_registry(data, str(path)), sha256=sha256)
    _loaded.clear()
    _loaded[(str(path), sha256)] = registry
    return registry


def _toml_str(value: str) -> str:
    # A JSON string is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def dump_registry(sources: Iterable[Source], header: str = "") -> str:
    """The registry file of these sources (the one writer of the format);
    ``header``: comment lines on top."""
    out: list[str] = [f"# {line}".rstrip() for line in header.splitlines()]
    if out:
        out.append("")
    for s in sources:
        out.append("[[sources]]")
        out.append(f"id = {_toml_str(s.source_id)}")
        out.append(f"name = {_toml_str(s.name)}")
        out.append(f"kind = {_toml_str(s.kind)}")
        out.append(f"homepage = {_toml_str(s.homepage)}")
        out.append(f"domains = {_toml_list(s.domains)}")
        if s.country:
            out.append(f"country = {_toml_str(s.country)}")
        if s.language:
            out.append(f"language = {_toml_str(s.language)}")
        if s.timezone:
            out.append(f"timezone = {_toml_str(s.timezone)}")
        out.append(f"feeds = {_toml_list(s.feeds)}")
        out.append(f"sitemaps = {_toml_list(s.sitemaps)}")
        out.append(f"credits = {_toml_list(s.credits)}")
        if s.tags:
            out.append(f"tags = {_toml_list(s.tags)}")
        out.append("")
    return "\n".join(out)


def export_opml(registry: Registry, title: str = "news-ingest sources") -> str:
    """OPML 2.0 with one category outline per source kind, as feed readers import."""
    now = format_datetime(datetime.now(UTC), usegmt=True)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_xml_text(title)}</title>",
        f"    <dateCreated>{now}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for kind in KINDS:
        members = [s for s in registry if s.kind == kind and s.feeds]
        if not members:
            continue
        lines.append(f"    <outline text={quoteattr(kind)} title={quoteattr(kind)}>")
        for s in members:
            for url in s.feeds:
                lines.append(
                    f'      <outline type="rss" text={quoteattr(s.name)} title={quoteattr(s.name)}'
                    f" xmlUrl={quoteattr(url)} htmlUrl={quoteattr(s.homepage)}/>"
                )
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "source"


def new_source_id(domain: str, taken: set[str]) -> str:
    """A slug for a new source of ``domain`` that no source in ``taken`` has:
    its name without the suffix ("lemonde.fr" -> "lemonde"), a private
    suffix's owner kept apart ("foo.blogspot.com" -> "foo-blogspot")."""
    label = domain.split(".", maxsplit=1)[0]
    if domain.count(".") >= 2 and registered_domain(domain) != domain:
        label = f"{domain.rsplit('.', 2)[0]}-{domain.split('.')[-2]}"
    source_id = base = _slugify(label)
    n = 2
    while source_id in taken:
        source_id, n = f"{base}-{n}", n + 1
    return source_id


def _feed_outlines(
    element: ET.Element, path: tuple[str, ...] = ()
) -> Iterator[tuple[ET.Element, tuple[str, ...]]]:
    """Every feed outline with the categories it sits in: the folders above
    it (outlines without ``xmlUrl``) and its ``category`` attribute
    (comma-separated, "/"-paths)."""
    for outline in element.findall("outline"):
        if (outline.get("xmlUrl") or "").strip():
            extra = [
                part.strip()
                for item in (outline.get("category") or "").split(",")
                for part in item.split("/")
                if part.strip()
            ]
            yield outline, tuple(dict.fromkeys([*path, *extra]))
        else:
            label = (outline.get("title") or outline.get("text") or "").strip()
            yield from _feed_outlines(outline, (*path, label) if label else path)


def opml_feeds(data: bytes) -> list[tuple[str, str | None]]:
    """(feed URL, htmlUrl or None) of every feed outline of an OPML document."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - expat refuses entity expansion bombs; no DTD fetch
    except ET.ParseError as exc:
        raise RegistryError("OPML", [f"not valid XML: {exc}"]) from exc
    body = root.find("body")
    return [
        ((o.get("xmlUrl") or "").strip(), (o.get("htmlUrl") or "").strip() or None)
        for o, _ in _feed_outlines(body if body is not None else root)
    ]


def import_opml(
    data: bytes, existing: Registry | None = None, sites: Mapping[str, str] | None = None
) -> tuple[list[Source], list[str]]:
    """Merge the feed outlines of an OPML document into the registry (or,
    without ``existing``, start a new one from them).

    Feeds are grouped by the domain their site owns (``htmlUrl``, else the
    feed URL; private suffixes count, so ``foo.blogspot.com`` and
    ``bar.blogspot.com`` are two sources). A domain already owned by a source
    adds the feed to that source; a new domain becomes a new ``publisher``
    source. The OPML's categories (folders) become the sources' ``tags``.
    ``sites``: feed URL -> the domain its article links are on, for feeds
    whose outline names no site (:func:`ingest.discover.article_sites`).
    Returns the merged source list and human-readable notes on what was done
    or skipped.
    """
    try:
        root = ET.fromstring(data)  # noqa: S314 - expat refuses entity expansion bombs; no DTD fetch
    except ET.ParseError as exc:
        raise RegistryError("OPML", [f"not valid XML: {exc}"]) from exc
    if root.tag != "opml":
        raise RegistryError("OPML", ["root element is not <opml>"])
    sources = list(existing.sources if existing else ())
    index = {s.source_id: i for i, s in enumerate(sources)}
    known_feeds = {url for s in sources for url in s.feeds}
    notes: list[str] = []
    body = root.find("body")
    for outline, tags in _feed_outlines(body if body is not None else root):
        feed_url = (outline.get("xmlUrl") or "").strip()
        try:
            canonicalize(feed_url)
        except BadURL as exc:
            notes.append(f"skipped {feed_url!r}: {exc}")
            continue
        if feed_url in known_feeds:
            notes.append(f"already known: {feed_url}")
            continue
        site = (outline.get("htmlUrl") or "").strip() or feed_url
        try:
            domain = site_domain(host_of(site))
        except BadURL:
            domain = site_domain(host_of(feed_url))
        if site == feed_url and sites and feed_url in sites and sites[feed_url] != domain:
            notes.append(f"{feed_url}: its articles are on {sites[feed_url]}")
            domain = sites[feed_url]
            site = f"https://{domain}/"
        owner = next(
            (
                s
                for s in sources
                if any(on_domain(domain, d) or on_domain(d, domain) for d in s.domains)
            ),
            None,
        )
        if owner is not None:
            sources[index[owner.source_id]] = replace(
                owner,
                feeds=(*owner.feeds, feed_url),
                tags=tuple(dict.fromkeys([*owner.tags, *tags])),
            )
            notes.append(f"added feed {feed_url} to {owner.source_id}")
        else:
            name = (outline.get("title") or outline.get("text") or domain).strip()
            source_id = new_source_id(domain or name, set(index))
            homepage = site if site != feed_url else f"https://{host_of(feed_url)}/"
            source = Source(
                source_id=source_id,
                name=name,
                kind="publisher",
                homepage=homepage,
                domains=(domain,),
                feeds=(feed_url,),
                tags=tags,
            )
            index[source_id] = len(sources)
            sources.append(source)
            notes.append(f"new source {source_id} ({domain}) with feed {feed_url}")
        known_feeds.add(feed_url)
    return sources, notes


def write_registry(path: Path, sources: Sequence[Source]) -> str:
    """The registry file for ``sources``, written back over ``path`` as it
    was: its comments, order and layout kept (tomlkit), sources it already
    holds updated in place (feeds, tags), new ones appended. Returns the text
    written; it is validated before anything is written."""
    import tomlkit  # noqa: PLC0415 - only the commands that write a registry

    original = path.read_text(encoding="utf-8") if path.exists() else ""
    if not original.strip():
        text = dump_registry(sources)
    else:
        doc = tomlkit.parse(original)
        tables = doc.get("sources")
        if tables is None:
            tables = tomlkit.aot()
            doc["sources"] = tables
        by_id = {str(t.get("id")): t for t in tables}
        for source in sources:
            table = by_id.get(source.source_id)
            if table is None:
                fresh = tomlkit.parse(dump_registry([source]))["sources"][0]
                tables.append(fresh)
                continue
            if list(table.get("feeds", [])) != list(source.feeds):
                table["feeds"] = list(source.feeds)
            if source.tags and list(table.get("tags", [])) != list(source.tags):
                table["tags"] = list(source.tags)
        text = tomlkit.dumps(doc)
    parse_registry(tomllib.loads(text), str(path))  # refuse to write an invalid registry
    path.write_text(text, encoding="utf-8")
    return text
