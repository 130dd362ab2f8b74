"""Rights signals: what a publisher declared about a page when it was fetched.

Recorded as facts, never acted on unless a setting says so (robots.txt for
our own crawler is the exception: it decides what is fetched at all, see
:mod:`ingest.robots`). The signals, and where they are read:

- robots directives for every crawler (``noindex``, ``noarchive``,
  ``nosnippet``, ``noai``, ``noimageai``, ...): ``<meta name="robots">`` and
  the ``X-Robots-Tag`` header; directives addressed to another crawler by
  name (``googlebot: noarchive``) are not ours and are left out, those
  addressed to our own product token are kept.
- the TDM Reservation Protocol (W3C TDMRep): the origin's
  ``/.well-known/tdmrep.json`` (rules by path), the ``tdm-reservation`` and
  ``tdm-policy`` headers, and the same two ``<meta>`` names. The protocol's
  order of processing decides which one applies: the file's first matching
  rule, else the headers, else the meta tags.
- robots.txt groups of the common AI and dataset crawlers: each crawler the
  file names in a ``User-agent`` line and disallows for this URL. A crawler
  that is only covered by ``User-agent: *`` is not counted (that group is
  about every crawler, ours included, and decides our own fetching).
- access: schema.org ``isAccessibleForFree`` and the ``cssSelector`` of each
  ``hasPart`` marked not free (paywalled sections).
- the declared licence: JSON-LD ``license``, ``<link rel="license">`` (or
  ``<a rel="license">``, or a ``Link`` header with ``rel="license"``),
  ``<meta name="license">``, else a link to a Creative Commons licence.

``reuse`` sums them up: ``reserved`` when any reservation applies (TDM rights
reserved, ``noai``, ``noarchive``, an AI crawler disallowed for this URL),
else ``open`` when a Creative Commons licence or public-domain dedication is
declared, else ``unknown``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from protego import Protego

from ingest.records import OriginRights, Rights

if TYPE_CHECKING:
    from lxml.html import HtmlElement

# The crawlers whose robots.txt groups are recorded (a setting extends the list).
AI_CRAWLERS: tuple[str, ...] = (
    "GPTBot",
    "ChatGPT-User",
    "CCBot",
    "Google-Extended",
    "ClaudeBot",
    "anthropic-ai",
    "PerplexityBot",
    "Bytespider",
    "Applebot-Extended",
    "meta-externalagent",
    "cohere-ai",
)

TDMREP_PATH = "/.well-known/tdmrep.json"

# robots directives (Google's, Bing's and the noai convention): a name before
# a colon that is none of these is a crawler the directives are addressed to.
_DIRECTIVES = frozenset(
    {
        "all",
        "none",
        "noindex",
        "index",
        "nofollow",
        "follow",
        "noarchive",
        "nocache",
        "nosnippet",
        "notranslate",
        "noimageindex",
        "noai",
        "noimageai",
        "noodp",
        "noydir",
        "indexifembedded",
        "max-snippet",
        "max-image-preview",
        "max-video-preview",
        "unavailable_after",
    }
)
# Directives that opt a page out of being archived or mined.
ARCHIVE_OPT_OUT = frozenset({"noarchive"})
AI_OPT_OUT = frozenset({"noai"})

_CC = re.compile(r"creativecommons\.org/(licenses|publicdomain)/", re.IGNORECASE)


def directives(values: Iterable[str], token: str) -> tuple[str, ...]:
    """The robots directives of meta contents or header values that apply to
    every crawler or to ``token`` (our product token), lower case, in order,
    once each. ``max-snippet:0`` keeps its value; ``unavailable_after``'s date
    is dropped (it may itself hold commas)."""
    found: dict[str, None] = {}
    for value in values:
        scope: str | None = None
        for part in value.split(","):
            item = part.strip().lower()
            if not item:
                continue
            name, sep, rest = item.partition(":")
            name = name.strip()
            if sep and name not in _DIRECTIVES:
                if " " in name or not re.fullmatch(r"[a-z0-9_.\-]+", name):
                    continue  # a date's tail ("15:00:00 pst"), not a crawler
                scope, item = name, rest.strip()
                name, sep, rest = item.partition(":")
                name = name.strip()
            if name not in _DIRECTIVES:
                continue
            if scope is not None and scope != token:
                continue
            kept = name if name == "unavailable_after" or not sep else f"{name}:{rest.strip()}"
            found[kept] = None
    return tuple(found)


def _flag(value: object) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text in ("0", "1") else None


def _url(value: object) -> str | None:
    text = str(value).strip() if isinstance(value, str) else ""
    return text or None


def _pattern(location: str) -> re.Pattern[str]:
    """A tdmrep.json ``location`` as robots.txt paths are read: a prefix,
    ``*`` any characters, ``$`` the end."""
    anchored = location.endswith("$")
    body = location[:-1] if anchored else location
    regex = ".*".join(re.escape(piece) for piece in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""))


_Rule = tuple[re.Pattern[str], int, str | None]


@lru_cache(maxsize=1024)
def _tdmrep_rules(document: str) -> tuple[_Rule, ...]:
    """A tdmrep.json's valid rules, in order (parsed once per file: every
    page of the origin asks)."""
    try:
        rules = json.loads(document)
    except ValueError:
        return ()
    if isinstance(rules, dict):
        rules = [rules]
    if not isinstance(rules, list):
        return ()
    found: list[_Rule] = []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        location = rule.get("location")
        reservation = _flag(rule.get("tdm-reservation"))
        if not isinstance(location, str) or not location or reservation is None:
            continue  # a rule without a valid reservation is skipped
        if not location.startswith("/"):
            location = "/" + location
        found.append((_pattern(location), reservation, _url(rule.get("tdm-policy"))))
    return tuple(found)


def tdmrep_rule(document: str | None, url: str) -> tuple[int | None, str | None] | None:
    """What an origin's tdmrep.json says of ``url``: the first rule whose
    ``location`` matches its path (with the query), as (reservation, policy);
    None when no rule matches, or the file is missing or unreadable."""
    if not document:
        return None
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    for pattern, reservation, policy in _tdmrep_rules(document):
        if pattern.match(path):
            return reservation, policy
    return None


def _named_agents(robots_txt: str) -> set[str]:
    """Every ``User-agent`` a robots.txt names, lower case."""
    names = set()
    for line in robots_txt.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "user-agent":
            name = value.split("#", 1)[0].strip().lower()
            if name and name != "*":
                names.add(name)
    return names


class AiCrawlers:
    """One origin's robots.txt, asked for the AI crawlers it names."""

    def __init__(self, robots_txt: str | None, crawlers: Sequence[str]) -> None:
        named = _named_agents(robots_txt) if robots_txt else set()
        self.crawlers = tuple(c for c in crawlers if c.lower() in named)
        self._parser = Protego.parse(robots_txt) if robots_txt and self.crawlers else None

    def disallowed(self, url: str) -> tuple[str, ...]:
        """The named crawlers the file disallows for ``url``."""
        if self._parser is None:
            return ()
        return tuple(c for c in self.crawlers if not self._parser.can_fetch(url, c))


def origin_rights(url: str, tdmrep_document: str | None, ai: AiCrawlers | None) -> OriginRights:
    """What the origin's files say of ``url``."""
    rule = tdmrep_rule(tdmrep_document, url)
    return OriginRights(
        tdm_reservation=rule[0] if rule else None,
        tdm_policy=rule[1] if rule else None,
        ai_disallowed=ai.disallowed(url) if ai is not None else (),
    )


def _jsonld_license(value: object) -> str | None:
    if isinstance(value, list):
        for item in value:
            if found := _jsonld_license(item):
                return found
        return None
    if isinstance(value, dict):
        return _url(value.get("url") or value.get("@id") or value.get("name"))
    return _url(value)


def _free(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in ("true", "yes", "1", "https://schema.org/true", "http://schema.org/true"):
        return True
    if text in ("false", "no", "0", "https://schema.org/false", "http://schema.org/false"):
        return False
    return None


def _article_objects(
    jsonld: Sequence[Mapping[str, object]], main: object
) -> list[Mapping[str, object]]:
    objs = [main] if isinstance(main, dict) else []
    return objs + [o for o in jsonld if o is not main]


def page_signals(
    meta: Mapping[str, Sequence[str]],
    jsonld: Sequence[Mapping[str, object]],
    main: Mapping[str, object] | None,
    tree: HtmlElement | None,
    token: str,
) -> Rights:
    """The signals a page's HTML carries (robots and TDM meta tags, access,
    licence), as a :class:`Rights` without a summary yet."""
    robots = directives([*meta.get("robots", ()), *meta.get(token, ())], token)
    objs = _article_objects(jsonld, main)
    free: bool | None = None
    parts: list[str] = []
    license_url, license_from = None, None
    for obj in objs:
        if free is None:
            free = _free(obj.get("isAccessibleForFree"))
        has_part = obj.get("hasPart")
        for part in has_part if isinstance(has_part, list) else [has_part]:
            if isinstance(part, dict) and _free(part.get("isAccessibleForFree")) is False:
                selector = part.get("cssSelector")
                if isinstance(selector, str) and selector.strip():
                    parts.append(selector.strip())
        if license_url is None and (found := _jsonld_license(obj.get("license"))):
            license_url, license_from = found, "jsonld"
    if license_url is None and tree is not None:
        license_url, license_from = _html_license(tree)
    if license_url is None and meta.get("license"):
        license_url, license_from = meta["license"][0], "meta"
    if license_url is None and meta.get("dc.rights") and _CC.search(meta["dc.rights"][0]):
        license_url, license_from = meta["dc.rights"][0], "meta"
    return Rights(
        robots_meta=robots,
        tdm_reservation=_flag(next(iter(meta.get("tdm-reservation", ())), None)),
        tdm_policy=_url(next(iter(meta.get("tdm-policy", ())), None)),
        accessible_for_free=free,
        paywalled_parts=tuple(dict.fromkeys(parts)),
        license=license_url,
        license_source=license_from,
    )


def _html_license(tree: HtmlElement) -> tuple[str | None, str | None]:
    """``rel="license"`` on a link or anchor, else the first link to a
    Creative Commons licence."""
    for el in tree.xpath("//link[@rel and @href] | //a[@rel and @href]"):
        href = (el.get("href") or "").strip()
        if href and "license" in (el.get("rel") or "").lower().split():
            return href, "link"
    for href in tree.xpath("//a/@href[contains(., 'creativecommons.org/')]"):
        if _CC.search(str(href)):
            return str(href).strip(), "cc-link"
    return None, None


def _link_header_license(value: str | None) -> str | None:
    """The target of a ``Link: <url>; rel="license"`` header."""
    for item in (value or "").split(","):
        match = re.match(r"\s*<([^>]+)>(.*)", item)
        if match and re.search(r'rel\s*=\s*"?[^";]*\blicense\b', match.group(2), re.IGNORECASE):
            return match.group(1).strip()
    return None


def is_open_license(license_url: str | None) -> bool:
    """A Creative Commons licence or public-domain dedication (CC0, the PD mark)."""
    if not license_url:
        return False
    text = license_url.lower()
    return bool(_CC.search(text)) or text.replace("-", " ").startswith(("cc by", "cc0"))


def decide(
    page: Rights | None, headers: Mapping[str, str], origin: OriginRights | None, token: str
) -> Rights:
    """Every signal of one fetched page.

    TDMRep's order of processing: the origin's tdmrep.json (its first
    matching rule), else the ``tdm-*`` headers, else the page's meta tags."""
    page = page or Rights()
    origin = origin or OriginRights()
    x_robots = directives([headers["x-robots-tag"]] if headers.get("x-robots-tag") else [], token)
    header_reservation = _flag(headers.get("tdm-reservation"))
    tdm: tuple[int | None, str | None, str | None]
    if origin.tdm_reservation is not None:
        tdm = (origin.tdm_reservation, origin.tdm_policy, "tdmrep.json")
    elif header_reservation is not None:
        tdm = (header_reservation, _url(headers.get("tdm-policy")), "header")
    elif page.tdm_reservation is not None:
        tdm = (page.tdm_reservation, page.tdm_policy, "meta")
    else:
        tdm = (None, None, None)
    license_url, license_from = page.license, page.license_source
    if license_from in (None, "cc-link") and (linked := _link_header_license(headers.get("link"))):
        license_url, license_from = linked, "link"
    return Rights(
        robots_meta=page.robots_meta,
        x_robots_tag=x_robots,
        tdm_reservation=tdm[0],
        tdm_policy=tdm[1],
        tdm_source=tdm[2],
        ai_disallowed=origin.ai_disallowed,
        accessible_for_free=page.accessible_for_free,
        paywalled_parts=page.paywalled_parts,
        license=license_url,
        license_source=license_from,
    )


def _directives_seen(rights: Rights) -> set[str]:
    """Every robots directive the page carried, by meta tag or header."""
    return set(rights.robots_meta) | set(rights.x_robots_tag)


def reservations(rights: Rights) -> list[str]:
    """Why reuse is reserved: every reservation signal present, in words."""
    found = []
    if rights.tdm_reservation == 1:
        found.append(f"TDM rights reserved ({rights.tdm_source})")
    found += sorted(_directives_seen(rights) & (AI_OPT_OUT | ARCHIVE_OPT_OUT))
    if rights.ai_disallowed:
        found.append("robots.txt disallows " + ", ".join(rights.ai_disallowed))
    return found


def reuse(rights: Rights | None) -> str:
    """``reserved`` | ``open`` | ``unknown`` (no page, no signal)."""
    if rights is None:
        return "unknown"
    if reservations(rights):
        return "reserved"
    if is_open_license(rights.license):
        return "open"
    return "unknown"


def archive_opt_out(rights: Rights | None) -> str | None:
    """Why the page must not be archived when the withholding policy is on
    (``noarchive``, TDM rights reserved), else None."""
    if rights is None:
        return None
    if _directives_seen(rights) & ARCHIVE_OPT_OUT:
        source = "X-Robots-Tag" if "noarchive" in rights.x_robots_tag else "robots meta"
        return f"publisher opted out of archiving: noarchive ({source})"
    if rights.tdm_reservation == 1:
        return f"publisher opted out of archiving: TDM rights reserved ({rights.tdm_source})"
    return None
