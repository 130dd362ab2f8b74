"""URL canonical forms and registered domains.

Two links to the same article should compare equal after :func:`canonicalize`:
lower-case scheme and host, no default port, no fragment, no tracking
parameters, sorted query, normalised percent-encoding (w3lib does the last two).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

import httpx
import idna
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


# What a browser strips or drops before parsing a URL (WHATWG URL Standard):
# C0 controls and spaces at either end, tabs and newlines anywhere.
_C0_AND_SPACE = "".join(chr(i) for i in range(0x21))
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
# Code points a host may not contain (WHATWG "forbidden host code point"),
# plus every other ASCII control character.
_FORBIDDEN_HOST = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
_IPV4_PART = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")


def _ipv4(host: str) -> str | None:
    """The dotted-quad form of a host that is an IPv4 address in any spelling
    browsers accept (``0177.0.0.1``, ``127.000.000.001``, ``0x7f.1``,
    ``2130706433``), None when the host is a name; :class:`BadURL` when it
    looks like a number but is not a valid address (WHATWG IPv4 parser)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]
    if not _IPV4_PART.match(parts[-1]):
        return None  # does not end in a number: a domain name
    if len(parts) > 4:
        raise BadURL(f"bad IPv4 address {host!r}")
    numbers = []
    for part in parts:
        if not _IPV4_PART.match(part):
            raise BadURL(f"bad IPv4 address {host!r}")
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            try:
                numbers.append(int(part, 8))
            except ValueError:
                raise BadURL(f"bad IPv4 address {host!r}") from None
        else:
            numbers.append(int(part))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise BadURL(f"IPv4 address out of range {host!r}")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return str(ipaddress.IPv4Address(value))


def _host(raw: str) -> str:
    """A URL's host as browsers read it: percent-decoded, IDNA-mapped to
    ASCII, lower case, an IPv4 address in its dotted-quad form, an IPv6
    address compressed; :class:`BadURL` for anything else."""
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise BadURL(f"bad IPv6 literal {raw!r}")
        try:
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError as exc:
            raise BadURL(f"bad IPv6 literal {raw!r}") from exc
    host = unquote(raw)
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            try:  # IDNA 2003 is more lenient (e.g. with symbols), as browsers were
                host = host.encode("idna").decode("ascii")
            except UnicodeError as exc:
                raise BadURL(f"bad host {raw!r}") from exc
    host = host.lower()
    if _FORBIDDEN_HOST.search(host):
        raise BadURL(f"bad host {raw!r}")
    address = _ipv4(host)
    if address is not None:
        return address
    host = host.removesuffix(".")
    labels = host.split(".")
    if not host or any(not label or len(label) > 63 for label in labels) or len(host) > 253:
        raise BadURL(f"bad host {raw!r}")
    return host


def _netloc(parts: SplitResult) -> tuple[str, str]:
    """(host, netloc without credentials): the host checked, the port
    dropped when it is the scheme's default."""
    netloc = parts.netloc.rpartition("@")[2]  # credentials are never kept
    if netloc.startswith("["):
        raw_host, _, rest = netloc.partition("]")
        raw_host += "]"
        raw_port = rest[1:] if rest.startswith(":") else ("" if not rest else None)
    else:
        raw_host, _, raw_port = netloc.partition(":")
    if raw_port is None or (raw_port and not (raw_port.isascii() and raw_port.isdigit())):
        raise BadURL(f"bad port in {netloc!r}")
    if not raw_host:
        raise BadURL("no host")
    host = _host(raw_host)
    port = int(raw_port) if raw_port else None
    if port is not None and port > 65535:
        raise BadURL("Port out of range 0-65535")
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return host, host
    return host, f"{host}:{port}"


def _slashes(url: str) -> str:
    """Backslashes before the query read as slashes, as browsers read them
    in http(s) URLs (``http:\\\\host\\x`` is ``http://host/x``)."""
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    return url[:cut].replace("\\", "/") + url[cut:]


def checked(url: str, base: str | None = None) -> str:
    """An absolute http(s) URL read the way a browser reads it, in a form the
    HTTP client accepts; raises :class:`BadURL` otherwise.

    The one validation every URL passes before it is fetched or stored, from
    a feed, a sitemap, a URL list, a WARC record, a redirect or a canonical
    link: controls and spaces trimmed, tabs and newlines dropped, ``\\`` read
    as ``/``, the scheme http or https, the host mapped to ASCII (IDNA) and
    an IPv4 address in any spelling turned into its dotted-quad form (so that
    the address guard sees what would be connected to), credentials dropped.
    Tracking parameters and the query order are left alone (see
    :func:`canonicalize`)."""
    url = _slashes(_TAB_NEWLINE.sub("", (url or "").strip(_C0_AND_SPACE)))
    if base is not None and url:
        try:
            url = urljoin(_slashes(_TAB_NEWLINE.sub("", base.strip(_C0_AND_SPACE))), url)
        except ValueError as exc:
            raise BadURL(str(exc)) from exc
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in ALLOWED_SCHEMES:
        raise BadURL(f"scheme {scheme if sep else '(none)'!r} is not http(s)")
    if not rest.startswith("//"):
        raise BadURL("no host")
    try:
        parts = urlsplit(f"{scheme}:{rest}")
    except ValueError as exc:
        raise BadURL(str(exc)) from exc
    host, netloc = _netloc(parts)
    rebuilt = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    try:
        parsed = httpx.URL(rebuilt)
        parsed.host  # noqa: B018 - decodes the host: a malformed A-label fails here
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise BadURL(str(exc)) from exc
    if parsed.raw_host.decode("ascii").lower() != host.strip("[]"):
        raise BadURL(f"ambiguous host in {url!r}")
    return rebuilt


def canonicalize(url: str, base: str | None = None) -> str:
    """The canonical form of an absolute http(s) URL; raises :class:`BadURL`."""
    parts = urlsplit(checked(url, base))
    query = "&".join(
        p for p in parts.query.split("&") if p and not _is_tracking(p.split("=", 1)[0])
    )
    rebuilt = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    # w3lib sorts the query and normalises percent-encoding; it keeps the
    # netloc (host lower-cased, default port dropped).
    out = str(canonicalize_url(rebuilt, keep_blank_values=True))
    try:
        httpx.URL(out)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise BadURL(str(exc)) from exc
    return out


def host_of(url: str) -> str:
    """The host of a URL that passed :func:`checked` (without IPv6 brackets)."""
    return _netloc(urlsplit(url))[0].strip("[]")


@lru_cache(maxsize=4096)
def site_domain(host: str) -> str:
    """The domain a site owns, private suffixes included: ``foo.blogspot.com``
    and ``bar.blogspot.com`` are two sites, ``news.bbc.co.uk`` is bbc.co.uk."""
    host = host.strip("[]").rstrip(".").lower()
    ext = _EXTRACT(host, include_psl_private_domains=True)
    if ext.suffix and ext.domain:
        return f"{ext.domain}.{ext.suffix}"
    return registered_domain(host)


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
