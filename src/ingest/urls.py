"""URL canonical forms and registered domains.

Two links to the same article should compare equal after :func:`canonicalize`:
lower-case scheme and host, no default port, no fragment, no tracking
parameters, sorted query, normalised percent-encoding (w3lib does the last two).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Parameters that identify a click, a campaign or a session, never the
# document. The list follows what link-cleaning tools strip (utm_* family,
# ad-click ids of the big platforms, newsletter ids).
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ocid",
        "cmpid",
        "ito",
        "at_medium",
        "at_campaign",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "sr_share",
        "smid",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "xtor",
    }
)
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "hsa_", "__twitter", "_hs")
DEFAULT_PORTS = {"http": 80, "https": 443}

# tldextract with its bundled Public Suffix List snapshot: no download at run
# time, no cache directory.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class BadURL(ValueError):
    """A URL we refuse to fetch or store (wrong scheme, no host, garbage)."""


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k in TRACKING_PARAMS or k.startswith(TRACKING_PREFIXES)


def _host_port(parts: SplitResult) -> tuple[str, int | None]:
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:  # bad port, bad IPv6 literal
        raise BadURL(str(exc)) from exc
    if not host:
        raise BadURL("no host")
    host = host.rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise BadURL(f"bad host {host!r}") from exc
    return host, port


def canonicalize(url: str, base: str | None = None) -> str:
    """The canonical form of an absolute http(s) URL; raises :class:`BadURL`."""
    url = (url or "").strip()
    if base is not None and url and "://" not in url:
        from urllib.parse import urljoin  # noqa: PLC0415 - rare path

        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BadURL(f"scheme {scheme or '(none)'!r} is not http(s)")
    host, port = _host_port(parts)
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    query = "&".join(
        p for p in parts.query.split("&") if p and not _is_tracking(p.split("=", 1)[0])
    )
    path = parts.path or "/"
    rebuilt = urlunsplit((scheme, netloc, path, query, ""))
    # w3lib sorts the query and normalises percent-encoding; it keeps the
    # netloc we built (host lower-cased, default port dropped).
    return str(canonicalize_url(rebuilt, keep_blank_values=True))


def host_of(url: str) -> str:
    return _host_port(urlsplit(url))[0]


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """eTLD+1 of a host ("news.bbc.co.uk" -> "bbc.co.uk").

    IP addresses are their own domain. Hosts under a suffix the list does not
    know (".test", ".internal", "localhost") fall back to their last two labels.
    """
    host = host.strip("[]").rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    ext = _EXTRACT(host)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}"
    labels = host.split(".")
    return ".".join(labels[-2:])


def on_domain(host: str, domain: str) -> bool:
    host = host.lower().rstrip(".")
    domain = domain.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)
