"""Every resource of the demo news site, rendered for one port.

:class:`NewsSite` turns the stories of :mod:`ingest.demo.content` into feeds
(RSS 2.0 and Atom 1.0), article pages (one template per source, 20-60 KB of
realistic markup each), homepages and a ``robots.txt``. Rendering is pure: the
same port always gives byte-identical resources.
"""

from __future__ import annotations

import json
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from xml.sax.saxutils import escape as xml_text
from xml.sax.saxutils import quoteattr

from ingest.demo.content import (
    COMMENTS_EN,
    COMMENTS_FR,
    SITES,
    STORIES,
    WIRE_CREDIT,
    Comment,
    SiteInfo,
    Story,
)
from ingest.records import Source
from ingest.registry import dump_registry

HTML_TYPE = "text/html; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"

# Fixed date of the files that do not depend on a story (robots.txt).
SITE_EPOCH = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Resource:
    body: bytes
    content_type: str  # e.g. "text/html; charset=utf-8"
    last_modified: datetime  # aware, UTC


@dataclass(frozen=True)
class DemoSource:
    id: str
    name: str
    kind: str
    host: str
    homepage: str
    feed_url: str
    country: str
    language: str
    credits: tuple[str, ...]


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _e(text: str) -> str:
    """Escape text for HTML content and double-quoted attributes."""
    return escape(text, quote=True)


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = "".join(ch if ch.isalnum() else "-" for ch in plain.lower())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _js(value: object) -> str:
    """JSON for embedding in an inline <script>."""
    return json.dumps(value, ensure_ascii=False, indent=None).replace("</", "<\\/")


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
MONTHS_FR = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _date_ht(m: datetime) -> str:
    m = _utc(m)
    return f"{DAYS_EN[m.weekday()]} {m.day} {MONTHS_EN[m.month - 1]} {m.year}, {m:%H:%M} GMT"


def _date_vc(m: datetime) -> str:
    hour = m.hour % 12 or 12
    half = "a.m." if m.hour < 12 else "p.m."
    return f"{MONTHS_EN[m.month - 1]} {m.day}, {m.year} at {hour}:{m:%M} {half} {m.tzname()}"


def _date_lq(m: datetime) -> str:
    return f"{DAYS_FR[m.weekday()]} {m.day} {MONTHS_FR[m.month - 1]} {m.year} à {m:%H}h{m:%M}"


def _date_cp(m: datetime) -> str:
    return f"{_utc(m):%Y-%m-%d %H:%M} GMT"


def _link_list(items: Iterable[tuple[str, str]], li_class: str = "", a_class: str = "") -> str:
    li = f' class="{li_class}"' if li_class else ""
    a = f' class="{a_class}"' if a_class else ""
    return "\n".join(
        f'<li{li}><a{a} href="{_e(href)}">{_e(label)}</a></li>' for label, href in items
    )


def _section_links(labels: Sequence[str], pattern: str) -> list[tuple[str, str]]:
    return [(label, pattern.format(slug=_slug(label))) for label in labels]


def _utility_css(p: str, accent: str, unit: str = "rem") -> str:
    """A block of utility classes of the kind CSS frameworks inline into pages."""
    rules: list[str] = []
    sides = {
        "": ("",), "t": ("-top",), "r": ("-right",), "b": ("-bottom",), "l": ("-left",),
        "x": ("-left", "-right"), "y": ("-top", "-bottom"),
    }  # fmt: skip
    for prop, short in (("margin", "m"), ("padding", "p")):
        for side, suffixes in sides.items():
            for n in range(13):
                decl = ";".join(f"{prop}{s}:{n * 0.25:g}{unit}" for s in suffixes)
                rules.append(f".{p}{short}{side}-{n}{{{decl}}}")
    for n in range(1, 13):
        rules.append(f".{p}col-{n}{{grid-column:span {n}/span {n}}}")
    for n, size in enumerate((0.75, 0.875, 1, 1.125, 1.25, 1.5, 1.875, 2.25, 3), start=1):
        rules.append(f".{p}text-{n}{{font-size:{size}rem;line-height:{size * 1.4:.3g}rem}}")
    for name, value in (
        ("accent", accent), ("ink", "#111"), ("muted", "#6b6b6b"), ("rule", "#d9d9d9"),
        ("paper", "#fffdf8"), ("alert", "#b00020"), ("ok", "#1b7f3b"),
    ):  # fmt: skip
        rules.append(f".{p}fg-{name}{{color:{value}}}.{p}bg-{name}{{background:{value}}}")
    cols = "\n".join(f".{p}md-col-{n}{{grid-column:span {n}/span {n}}}" for n in range(1, 13))
    rules.append(f"@media (min-width:48em){{\n{cols}\n}}")
    hide = "\n".join(f".{p}hide-{bp}{{display:none!important}}" for bp in ("sm", "md", "lg"))
    rules.append(f"@media print{{\n{hide}\n}}")
    return "\n".join(rules)


ICONS = {
    "search": "M15.5 14h-.79l-.28-.27A6.47 6.47 0 0 0 16 9.5 6.5 6.5 0 1 0 9.5 16c1.61 0 "
    "3.09-.59 4.23-1.57l.27.28v.79l5 4.99L20.49 19l-4.99-5zm-6 0C7.01 14 5 11.99 5 9.5S7.01 "
    "5 9.5 5 14 7.01 14 9.5 11.99 14 9.5 14z",
    "menu": "M3 18h18v-2H3v2zm0-5h18v-2H3v2zm0-7v2h18V6H3z",
    "mail": "M20 4H4c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h16c1.1 0 2-.9 2-2V6c0-1.1-.9-2-2-2zm0 "
    "4-8 5-8-5V6l8 5 8-5v2z",
    "share": "M18 16.08c-.76 0-1.44.3-1.96.77L8.91 12.7c.05-.23.09-.46.09-.7s-.04-.47-.09-.7l7."
    "05-4.11A2.99 2.99 0 0 0 21 5a3 3 0 1 0-5.91.7L8.04 9.81A2.99 2.99 0 0 0 3 12a3 3 0 0 0 5"
    ".04 2.19l7.12 4.16c-.05.21-.08.43-.08.65 0 1.61 1.31 2.92 2.92 2.92s2.92-1.31 2.92-2.92-"
    "1.31-2.92-2.92-2.92z",
    "comment": "M21.99 4c0-1.1-.89-2-1.99-2H4c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h14l4 4-.01-18zM1"
    "8 14H6v-2h12v2zm0-3H6V9h12v2zm0-3H6V6h12v2z",
    "print": "M19 8H5c-1.66 0-3 1.34-3 3v6h4v4h12v-4h4v-6c0-1.66-1.34-3-3-3zm-3 11H8v-5h8v5zm3"
    "-7c-.55 0-1-.45-1-1s.45-1 1-1 1 .45 1 1-.45 1-1 1zm-1-9H6v4h12V3z",
    "bookmark": "M17 3H7c-1.1 0-1.99.9-1.99 2L5 21l7-3 7 3V5c0-1.1-.9-2-2-2z",
    "close": "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 1"
    "9 19 17.59 13.41 12z",
}


def _svg_sprite(prefix: str) -> str:
    symbols = "\n".join(
        f'<symbol id="{prefix}icon-{name}" viewBox="0 0 24 24"><path d="{path}"/></symbol>'
        for name, path in ICONS.items()
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" aria-hidden="true" '
        f'style="position:absolute;width:0;height:0;overflow:hidden">\n{symbols}\n</svg>'
    )


def _icon(prefix: str, name: str) -> str:
    return f'<svg class="{prefix}icon" aria-hidden="true"><use href="#{prefix}icon-{name}"/></svg>'


def _ad_config(site: str, slots: Sequence[str]) -> str:
    config = {
        "network": f"/21{_crc(site) % 100000:05d}/{site}",
        "lazyLoad": {"fetchMarginPercent": 200, "renderMarginPercent": 100},
        "consentRequired": True,
        "slots": [
            {
                "id": f"{site}-{slot}",
                "path": f"{site}/{slot}",
                "sizes": [[300, 250], [300, 600]] if "side" in slot else [[728, 90], [970, 250]],
                "targeting": {"pos": slot, "refresh": index % 2 == 0},
            }
            for index, slot in enumerate(slots)
        ],
    }
    return _js(config)


# ---------------------------------------------------------------------------
# Page context and shared fragments
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    site: SiteInfo
    story: Story
    url: str  # absolute canonical URL
    home: str  # absolute homepage URL
    image: str  # absolute URL of the lead image
    related: tuple[Story, ...]
    comments: tuple[tuple[Comment, datetime], ...]
    wire: DemoSource | None  # the wire service, when the story is a syndicated copy


def _jsonld(page: _Page, logo: str) -> str:
    story, site = page.story, page.site
    published = story.published.isoformat()
    is_org = story.author == WIRE_CREDIT
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": page.url},
        "url": page.url,
        "headline": story.title,
        "description": story.summary,
        "image": [page.image],
        "datePublished": published,
        "dateModified": published,
        "inLanguage": site.locale,
        "articleSection": story.section,
        "keywords": list(story.tags),
        "wordCount": story.word_count,
        "isAccessibleForFree": True,
        "author": [{"@type": "Organization" if is_org else "Person", "name": story.author}],
        "publisher": {
            "@type": "NewsMediaOrganization",
            "name": site.name,
            "url": page.home,
            "logo": {"@type": "ImageObject", "url": logo, "width": 600, "height": 60},
        },
    }
    if page.wire is not None:
        data["sourceOrganization"] = {
            "@type": "NewsMediaOrganization",
            "name": page.wire.name,
            "url": page.wire.homepage,
        }
    return f'<script type="application/ld+json">{_js(data)}</script>'


def _meta(page: _Page, logo: str, title_suffix: str) -> str:
    story, site = page.story, page.site
    published = story.published.isoformat()
    tags = "\n".join(f'<meta property="article:tag" content="{_e(t)}">' for t in story.tags)
    return f"""<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(story.title)}{_e(title_suffix)}</title>
<meta name="description" content="{_e(story.summary)}">
<meta name="author" content="{_e(story.author)}">
<meta name="robots" content="index, follow, max-image-preview:large">
<link rel="canonical" href="{_e(page.url)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{_e(story.title)}">
<meta property="og:description" content="{_e(story.summary)}">
<meta property="og:url" content="{_e(page.url)}">
<meta property="og:site_name" content="{_e(site.name)}">
<meta property="og:locale" content="{site.locale.replace("-", "_")}">
<meta property="og:image" content="{_e(page.image)}">
<meta property="og:image:width" content="1200">
<meta property="og:image:height" content="675">
<meta property="article:published_time" content="{published}">
<meta property="article:modified_time" content="{published}">
<meta property="article:section" content="{_e(story.section)}">
{tags}
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{_e(story.title)}">
<meta name="twitter:description" content="{_e(story.summary)}">
<meta name="twitter:image" content="{_e(page.image)}">
<link rel="icon" href="{_e(page.home)}favicon.ico">
<link rel="preload" as="image" href="{_e(page.image)}">
{_jsonld(page, logo)}"""


def _body_paragraphs(story: Story, quote_after: int, quote_html: str, ad_html: str = "") -> str:
    parts: list[str] = []
    for index, paragraph in enumerate(story.paragraphs, start=1):
        parts.append(f"<p>{_e(paragraph)}</p>")
        if index == quote_after:
            parts.append(quote_html)
        if ad_html and index == quote_after + 2 and index < len(story.paragraphs):
            parts.append(ad_html)
    return "\n".join(parts)


def _data_layer(page: _Page, extra: dict[str, object]) -> str:
    story = page.story
    payload: dict[str, object] = {
        "event": "page_view",
        "pageType": "article",
        "contentId": story.key,
        "section": _slug(story.section),
        "author": story.author,
        "publishedAt": story.published.isoformat(),
        "wordCount": story.word_count,
        "syndicated": story.syndicated_from is not None,
        "tags": [_slug(t) for t in story.tags],
    }
    payload.update(extra)
    return _js(payload)


# ---------------------------------------------------------------------------
# The Harbour Times template
# ---------------------------------------------------------------------------

HT_NAV = (
    "Home", "News", "Portville", "Calder Valley", "Belcôte & the bay", "Politics",
    "Business", "Sport", "Football", "Rugby", "Cricket", "Sailing", "Science",
    "Environment", "Health", "Education", "Culture", "Food & Drink", "Travel", "Property",
    "Opinion", "Letters", "Obituaries", "Puzzles", "Weather", "Podcasts", "Jobs",
)  # fmt: skip
HT_FOOTER = {
    "News": (
        "Portville", "Calder Valley", "Belcôte & the bay", "Politics", "Business", "Courts",
        "Education", "Health", "Environment", "Science", "Transport",
    ),
    "Sport": (
        "Football", "Portville Athletic", "Rugby", "Cricket", "Sailing", "Athletics",
        "Results and fixtures",
    ),
    "Life": (
        "Culture", "Arts", "Food & Drink", "Travel", "Property", "Motoring", "Puzzles",
        "Horoscopes", "Family notices",
    ),
    "The Harbour Times": (
        "About us", "Contact us", "Advertise with us", "Jobs at the Times", "Editorial code",
        "Complaints", "Corrections and clarifications", "Subscribe", "Digital edition",
        "Archive", "Sitemap",
    ),
    "Legal": (
        "Privacy notice", "Cookie policy", "Terms of use", "Accessibility",
        "Modern slavery statement",
    ),
}  # fmt: skip

HT_CSS = """
:root{--ht-navy:#0b2545;--ht-sea:#13315c;--ht-sand:#f4efe6;--ht-red:#c0392b;
--ht-serif:Georgia,'Times New Roman',serif;--ht-sans:'Helvetica Neue',Arial,sans-serif}
*,*::before,*::after{box-sizing:border-box}
html{font-size:100%;-webkit-text-size-adjust:100%}
body.ht-body{margin:0;background:var(--ht-sand);color:#1a1a1a;font-family:var(--ht-serif)}
.ht-skip{position:absolute;left:-999px}.ht-skip:focus{left:1rem;top:1rem;z-index:99}
.ht-topbar{display:flex;justify-content:space-between;padding:.4rem 1rem;font:
.8rem var(--ht-sans);background:var(--ht-navy);color:#fff}
.ht-topbar a{color:#fff;text-decoration:none;margin-left:1rem}
.ht-masthead{background:#fff;border-bottom:4px double var(--ht-navy)}
.ht-logo{display:block;text-align:center;font:700 3rem/1.1 var(--ht-serif);
color:var(--ht-navy);text-decoration:none;padding:1rem 0 .2rem}
.ht-tagline{text-align:center;margin:0 0 .6rem;font:italic .9rem var(--ht-serif)}
.ht-nav ul{display:flex;flex-wrap:wrap;justify-content:center;list-style:none;margin:0;
padding:.3rem 1rem;border-top:1px solid #ddd}
.ht-nav a{display:block;padding:.45rem .6rem;font:600 .85rem var(--ht-sans);
color:var(--ht-sea);text-decoration:none}
.ht-nav a:hover,.ht-nav a:focus{text-decoration:underline}
.ht-consent{position:fixed;bottom:0;left:0;right:0;z-index:50;background:#fff;
box-shadow:0 -2px 12px rgba(0,0,0,.2);padding:1rem 1.5rem;font:.9rem var(--ht-sans)}
.ht-consent button{margin-right:.5rem;padding:.5rem 1rem;border:0;border-radius:3px;
background:var(--ht-navy);color:#fff;cursor:pointer}
.ht-consent button.ht-secondary{background:#e5e5e5;color:#222}
.ht-breadcrumb ol{display:flex;list-style:none;margin:1rem auto;padding:0 1rem;
max-width:72rem;font:.8rem var(--ht-sans)}
.ht-breadcrumb li+li::before{content:"/";padding:0 .4rem;color:#999}
.ht-grid{display:grid;grid-template-columns:minmax(0,1fr);gap:2rem;max-width:72rem;
margin:0 auto;padding:0 1rem}
@media (min-width:60em){.ht-grid{grid-template-columns:minmax(0,2fr) minmax(0,1fr)}}
.ht-kicker a{font:700 .8rem var(--ht-sans);text-transform:uppercase;color:var(--ht-red)}
.ht-headline{font:700 2.4rem/1.15 var(--ht-serif);margin:.3rem 0 .8rem;color:var(--ht-navy)}
.ht-standfirst{font-size:1.25rem;line-height:1.45;color:#333}
.ht-byline{font:.9rem var(--ht-sans);color:#555;border-top:1px solid #ccc;
border-bottom:1px solid #ccc;padding:.5rem 0}
.ht-byline a{color:var(--ht-sea);font-weight:700}
.ht-share{display:flex;list-style:none;padding:0;gap:.5rem}
.ht-share button{background:none;border:1px solid #bbb;border-radius:50%;width:2.2rem;
height:2.2rem}
.ht-icon{width:1.1rem;height:1.1rem;fill:currentColor}
.ht-lead-image img{width:100%;height:auto;background:#cfd8e3}
.ht-article-body p{font-size:1.125rem;line-height:1.7;margin:0 0 1.2rem}
.ht-pullquote{margin:2rem 0;padding:1rem 1.5rem;border-left:6px solid var(--ht-red);
font:italic 1.5rem/1.4 var(--ht-serif);color:var(--ht-navy)}
.ht-inline-ad{min-height:250px;margin:2rem 0;background:#eee;text-align:center}
.ht-inline-ad::before{content:"Advertisement";display:block;font:.7rem var(--ht-sans)}
.ht-tags{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0}
.ht-tags a{display:inline-block;padding:.2rem .6rem;border:1px solid var(--ht-sea);
border-radius:2px;font:.8rem var(--ht-sans);color:var(--ht-sea)}
.ht-rail section{background:#fff;padding:1rem;margin-bottom:1.5rem}
.ht-related h2,.ht-newsletter h2{font:700 1.1rem var(--ht-sans);border-bottom:3px solid
var(--ht-navy);padding-bottom:.4rem}
.ht-related li{margin-bottom:.8rem}
.ht-newsletter input[type=email]{width:100%;padding:.6rem;border:1px solid #999}
.ht-newsletter button{margin-top:.5rem;width:100%;padding:.6rem;background:var(--ht-red);
color:#fff;border:0}
.ht-comments{max-width:72rem;margin:2rem auto;padding:1rem;background:#fff}
.ht-comment{border-bottom:1px solid #eee;padding:.8rem 0}
.ht-comment-meta{font:.8rem var(--ht-sans);color:#666}
.ht-footer{margin-top:3rem;background:var(--ht-navy);color:#dde;padding:2rem 1rem;
font:.85rem var(--ht-sans)}
.ht-footer-cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));
gap:1.5rem;max-width:72rem;margin:0 auto}
.ht-footer a{color:#dde;text-decoration:none}.ht-footer ul{list-style:none;padding:0}
.ht-footer li{margin:.3rem 0}.ht-legal{text-align:center;margin-top:2rem;color:#aab}
"""

HT_CONSENT_JS = """
(function () {
  var KEY = "ht_consent_v3";
  var banner = document.getElementById("ht-consent");
  function store(value) {
    try { window.localStorage.setItem(KEY, JSON.stringify({v: value, t: Date.now()})); }
    catch (e) { document.cookie = KEY + "=" + value + ";path=/;max-age=31536000"; }
  }
  function decided() {
    try { return !!window.localStorage.getItem(KEY); } catch (e) { return false; }
  }
  if (!banner) { return; }
  if (decided()) { banner.hidden = true; return; }
  banner.addEventListener("click", function (event) {
    var choice = event.target && event.target.getAttribute("data-consent");
    if (!choice) { return; }
    store(choice);
    banner.hidden = true;
    window.dataLayer = window.dataLayer || [];
    window.dataLayer.push({event: "consent_update", consent: choice});
  });
})();
"""


def _ht_comments(page: _Page) -> str:
    items = "\n".join(
        f"""<li class="ht-comment" id="c{_crc(page.story.key + c.name) % 100000}">
<p class="ht-comment-meta"><strong>{_e(c.name)}</strong> \u00b7
<time datetime="{when.isoformat()}">{_date_ht(when)}</time></p>
<p class="ht-comment-text">{_e(c.text)}</p>
<p class="ht-comment-actions"><button type="button">Reply</button>
<button type="button">Report</button></p>
</li>"""
        for c, when in page.comments
    )
    return f"""<section id="comments" class="ht-comments" aria-labelledby="ht-comments-title">
<h2 id="ht-comments-title">{_icon("ht-", "comment")} Comments ({len(page.comments)})</h2>
<p class="ht-comments-note">Comments are moderated. Please read our
<a href="/ht/community-guidelines">community guidelines</a> before posting.</p>
<ol class="ht-comment-list">
{items}
</ol>
<form class="ht-comment-form" action="/ht/comments/post" method="post">
<input type="hidden" name="article" value="{_e(page.story.key)}">
<label for="ht-comment-body">Join the conversation</label>
<textarea id="ht-comment-body" name="body" rows="4" required></textarea>
<button type="submit">Post comment</button>
</form>
</section>"""


def _render_ht(page: _Page) -> str:
    story, site = page.story, page.site
    nav = _link_list(_section_links(HT_NAV, "/ht/section/{slug}/"))
    section_href = f"/ht/section/{_slug(story.section)}/"
    quote = (
        f'<blockquote class="ht-pullquote"><p>\u201c{_e(story.pull_quote)}\u201d</p></blockquote>'
    )
    ad = '<div class="ht-inline-ad" data-slot="ht-mpu-1" aria-hidden="true"></div>'
    body = _body_paragraphs(story, 2, quote, ad)
    tags = _link_list((t, f"/ht/topic/{_slug(t)}/") for t in story.tags)
    related = "\n".join(
        f'<li><a href="{_e(r.path)}">{_e(r.title)}</a> '
        f'<time datetime="{r.published.isoformat()}">{_date_ht(r.published)}</time></li>'
        for r in page.related
    )
    footer = "\n".join(
        f'<div class="ht-footer-col"><h3>{_e(title)}</h3><ul>\n'
        f"{_link_list((label, f'/ht/info/{_slug(label)}') for label in labels)}\n</ul></div>"
        for title, labels in HT_FOOTER.items()
    )
    author_href = f"/ht/profile/{_slug(story.author)}"
    share = "\n".join(
        f'<li><button type="button" data-share="{kind}" aria-label="{label}">'
        f"{_icon('ht-', icon)}</button></li>"
        for kind, label, icon in (
            ("email", "Share by email", "mail"),
            ("native", "Share", "share"),
            ("print", "Print", "print"),
            ("save", "Save", "bookmark"),
        )
    )
    logo = f"{page.home}static/img/harbour-times-logo.png"
    ads = _ad_config("harbourtimes", ("top", "mpu-1", "side-1", "side-2", "footer"))
    return f"""<!doctype html>
<html lang="{site.locale}" class="no-js">
<head>
{_meta(page, logo, " | The Harbour Times")}
<style>{HT_CSS}</style>
<style id="ht-utilities">
{_utility_css("ht-u-", "#0b2545")}
</style>
<script>document.documentElement.className = "js";
window.dataLayer = window.dataLayer || [];
window.dataLayer.push({_data_layer(page, {"site": "harbour-times"})});
window.htAds = {ads};
</script>
</head>
<body class="ht-body ht-section-{_slug(story.section)}">
{_svg_sprite("ht-")}
<a class="ht-skip" href="#ht-main">Skip to content</a>
<div id="ht-consent" class="ht-consent" role="dialog" aria-live="polite" aria-label="Cookies">
<p>We and our partners use cookies to run this site, measure our audience and show you
relevant adverts. You can accept all cookies, reject the ones that are not essential, or
choose what you allow. See our <a href="/ht/info/cookie-policy">cookie policy</a>.</p>
<button type="button" data-consent="all">Accept all</button>
<button type="button" class="ht-secondary" data-consent="essential">Reject non-essential</button>
<button type="button" class="ht-secondary" data-consent="manage">Manage choices</button>
</div>
<header class="ht-masthead">
<div class="ht-topbar"><span>{_date_ht(story.published)[:-11]}</span>
<span><a href="/ht/info/subscribe">Subscribe</a><a href="/ht/account/sign-in">Sign in</a>
<a href="/ht/search" aria-label="Search">{_icon("ht-", "search")}</a></span></div>
<a class="ht-logo" href="/ht/">The Harbour Times</a>
<p class="ht-tagline">{_e(site.tagline)}</p>
<nav class="ht-nav" aria-label="Sections">
<button class="ht-menu-toggle" type="button" aria-expanded="false">{_icon("ht-", "menu")}
Menu</button>
<ul>
{nav}
</ul>
</nav>
</header>
<nav class="ht-breadcrumb" aria-label="Breadcrumb">
<ol>
<li><a href="/ht/">Home</a></li>
<li><a href="{section_href}">{_e(story.section)}</a></li>
<li aria-current="page">{_e(story.title)}</li>
</ol>
</nav>
<main id="ht-main" class="ht-main">
<div class="ht-grid">
<article class="ht-article" id="ht-article-{_e(story.key)}">
<header class="ht-article-header">
<p class="ht-kicker"><a href="{section_href}">{_e(story.section)}</a></p>
<h1 class="ht-headline">{_e(story.title)}</h1>
<p class="ht-standfirst">{_e(story.summary)}</p>
<div class="ht-byline">By <a rel="author" href="{author_href}">{_e(story.author)}</a>
<span class="ht-sep">|</span>
<time datetime="{story.published.isoformat()}">{_date_ht(story.published)}</time></div>
<ul class="ht-share" aria-label="Share this article">
{share}
</ul>
</header>
<figure class="ht-lead-image">
<img src="{_e(page.image)}" alt="" width="1200" height="675" loading="eager" decoding="async">
</figure>
<div class="ht-article-body">
{body}
</div>
<footer class="ht-article-footer">
<h2 class="ht-visually-hidden">Topics</h2>
<ul class="ht-tags">
{tags}
</ul>
</footer>
</article>
<aside class="ht-rail" aria-label="More from The Harbour Times">
<section class="ht-related" aria-labelledby="ht-related-title">
<h2 id="ht-related-title">Related stories</h2>
<ul>
{related}
</ul>
</section>
<section class="ht-newsletter" aria-labelledby="ht-newsletter-title">
<h2 id="ht-newsletter-title">The Morning Tide</h2>
<p>Portville's news in your inbox before breakfast, every weekday. Free to sign up.</p>
<form action="/ht/newsletters/subscribe" method="post">
<input type="hidden" name="list" value="morning-tide">
<label for="ht-nl-email">Email address</label>
<input id="ht-nl-email" type="email" name="email" autocomplete="email" required>
<button type="submit">Sign me up</button>
<p class="ht-small">You can unsubscribe at any time. See our
<a href="/ht/info/privacy-notice">privacy notice</a>.</p>
</form>
</section>
<div class="ht-side-ad" data-slot="ht-side-1" aria-hidden="true"></div>
</aside>
</div>
{_ht_comments(page)}
</main>
<footer class="ht-footer">
<div class="ht-footer-cols">
{footer}
</div>
<p class="ht-legal">\u00a9 2026 Harbour Times Media Ltd. Registered office: 12 Chandler's Row,
Portville. All rights reserved.</p>
</footer>
<script>{HT_CONSENT_JS}</script>
<script>
(function () {{
  var toggle = document.querySelector(".ht-menu-toggle");
  if (toggle) {{
    toggle.addEventListener("click", function () {{
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      document.body.classList.toggle("ht-menu-open", !open);
    }});
  }}
  document.querySelectorAll("[data-share]").forEach(function (button) {{
    button.addEventListener("click", function () {{
      var kind = button.getAttribute("data-share");
      if (kind === "print") {{ window.print(); return; }}
      if (kind === "native" && navigator.share) {{
        navigator.share({{title: document.title, url: location.href}});
      }}
    }});
  }});
}})();
</script>
</body>
</html>
"""


# ---------------------------------------------------------------------------
# Valley Courier template
# ---------------------------------------------------------------------------

VC_NAV = (
    "Home", "News", "Local", "Millbrook", "Ashford Falls", "Calder County", "Politics",
    "Elections", "Schools", "Business", "Farm & Ranch", "Outdoors", "Science", "Weather",
    "Sports", "High School Sports", "Obituaries", "Opinion", "Letters", "Community",
    "Events", "Food", "Classifieds", "E-Edition", "Subscribe",
)  # fmt: skip
VC_FOOTER = {
    "Sections": (
        "Local News", "Calder County", "Politics", "Schools", "Business", "Science",
        "Sports", "Opinion", "Obituaries", "Community", "Weather",
    ),
    "Services": (
        "Subscribe", "Manage subscription", "E-Edition", "Place an ad", "Classifieds",
        "Submit an obituary", "Submit an event", "Send a news tip", "Newsletters",
    ),
    "Company": (
        "About the Courier", "Staff directory", "Careers", "Ethics policy", "Corrections",
        "Contact us", "Advertise",
    ),
    "Legal": (
        "Privacy policy", "Terms of service", "Do not sell or share my information",
        "Accessibility", "Site map",
    ),
}  # fmt: skip

VC_CSS = """
:root{--green:#2f5d3a;--green-dark:#1e3d26;--cream:#fbf8f1;--gray:#5c5c5c;
--font-head:'Franklin Gothic Medium','Arial Narrow',Arial,sans-serif;
--font-body:'Source Serif Pro',Georgia,serif}
*{box-sizing:border-box}
body{margin:0;font-family:var(--font-body);background:var(--cream);color:#222}
#vc-app{min-height:100vh;display:flex;flex-direction:column}
.gdpr-notice{position:fixed;top:0;left:0;right:0;z-index:1000;background:#222;color:#eee;
font:14px/1.4 var(--font-head)}
.gdpr-notice__inner{max-width:1100px;margin:0 auto;padding:12px 20px;display:flex;
gap:16px;align-items:center}
.gdpr-notice a{color:#9fd3a8}
.btn{display:inline-block;border:0;border-radius:4px;padding:8px 16px;cursor:pointer;
font:600 14px var(--font-head)}
.btn--primary{background:var(--green);color:#fff}.btn--ghost{background:none;color:inherit;
border:1px solid currentColor}
.site-header{background:#fff;border-bottom:1px solid #ddd}
.site-header__bar{display:flex;align-items:center;justify-content:space-between;
max-width:1100px;margin:0 auto;padding:12px 20px}
.site-logo{font:700 34px/1 var(--font-head);color:var(--green-dark);text-decoration:none;
letter-spacing:-.5px}
.site-logo span+span{color:var(--green)}
.site-header__weather{font:13px var(--font-head);color:var(--gray)}
.primary-menu{background:var(--green-dark)}
.primary-menu__list{display:flex;flex-wrap:wrap;list-style:none;margin:0 auto;
max-width:1100px;padding:0 12px}
.menu-item__link{display:block;padding:10px 8px;color:#fff;text-decoration:none;
font:600 13px var(--font-head);text-transform:uppercase}
.menu-item__link:hover{background:var(--green)}
.site-main{flex:1;max-width:1100px;width:100%;margin:0 auto;padding:20px}
.breadcrumbs ul{list-style:none;display:flex;gap:6px;padding:0;font:13px var(--font-head)}
.breadcrumbs a{color:var(--green)}
.layout--two-col{display:grid;grid-template-columns:1fr;gap:32px}
@media (min-width:900px){.layout--two-col{grid-template-columns:minmax(0,1fr) 300px}}
.story__section a{font:700 13px var(--font-head);text-transform:uppercase;color:var(--green)}
.story__headline{font:700 40px/1.1 var(--font-head);margin:8px 0 12px}
.story__dek{font-size:20px;line-height:1.4;color:#444}
.story__meta{display:flex;flex-wrap:wrap;gap:12px;align-items:baseline;
font:14px var(--font-head);color:var(--gray)}
.story__byline{margin:0;font-weight:700;color:#222}
.story__share{display:flex;gap:8px;margin:16px 0}
.story__share a{display:inline-flex;width:36px;height:36px;align-items:center;
justify-content:center;border-radius:50%;background:#e9efe9;color:var(--green-dark)}
.vc-icon{width:18px;height:18px;fill:currentColor}
.story__image img{width:100%;height:auto;background:#c9d6c4}
.story__text p{font-size:19px;line-height:1.65;margin:0 0 20px}
.story__pullquote{float:right;width:40%;margin:0 0 16px 24px;padding:16px 0;
border-top:4px solid var(--green);border-bottom:1px solid #ccc;
font:italic 600 22px/1.35 var(--font-head);color:var(--green-dark)}
@media (max-width:700px){.story__pullquote{float:none;width:auto;margin:24px 0}}
.story__tags{clear:both;font:14px var(--font-head)}
.story__tags a{color:var(--green);margin-right:8px}
.ad-unit{background:#eee;min-height:250px;margin:24px 0;text-align:center}
.ad-unit__label{font:11px var(--font-head);text-transform:uppercase;color:#999}
.more-stories h3,.signup h3{font:700 18px var(--font-head);margin:0 0 12px;
border-bottom:2px solid var(--green);padding-bottom:6px}
.more-stories ol{padding-left:20px}.more-stories li{margin-bottom:12px}
.more-stories a{color:#222;font-weight:600}
.signup{background:#fff;border:1px solid #ddd;padding:16px;margin-top:24px}
.signup input{width:100%;padding:10px;border:1px solid #bbb;border-radius:4px}
.signup .btn{margin-top:8px;width:100%}
.discussion{margin-top:40px;border-top:3px solid #222;padding-top:16px}
.discussion__item{padding:12px 0;border-bottom:1px solid #ddd}
.discussion__author{font:700 14px var(--font-head)}
.discussion__time{font:12px var(--font-head);color:var(--gray);margin-left:8px}
.site-footer{background:#1b1b1b;color:#ccc;padding:32px 20px;font:14px var(--font-head)}
.site-footer__inner{max-width:1100px;margin:0 auto;display:grid;
grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:24px}
.site-footer a{color:#ccc;text-decoration:none}.site-footer ul{list-style:none;padding:0}
.site-footer__copy{max-width:1100px;margin:24px auto 0;color:#888;font-size:12px}
"""


def _vc_comments(page: _Page) -> str:
    items = "\n".join(
        f"""<div class="discussion__item">
<span class="discussion__author">{_e(c.name)}</span>
<span class="discussion__time">{_date_vc(when.astimezone(page.story.published.tzinfo))}</span>
<div class="discussion__body"><p>{_e(c.text)}</p></div>
<div class="discussion__actions"><a href="#" data-action="like">Like</a> \u00b7
<a href="#" data-action="reply">Reply</a> \u00b7 <a href="#" data-action="flag">Flag</a></div>
</div>"""
        for c, when in page.comments
    )
    return f"""<div class="discussion" id="discussion">
<h2 class="discussion__title">{len(page.comments)} comments</h2>
<p class="discussion__rules">Keep it civil and stay on topic. Comments that break our
<a href="/vc/page/community-standards/">community standards</a> will be removed.</p>
{items}
<p><a class="btn btn--ghost" href="/vc/account/login/?next=discussion">Log in to comment</a></p>
</div>"""


def _render_vc(page: _Page) -> str:
    story, site = page.story, page.site
    nav = _link_list(_section_links(VC_NAV, "/vc/category/{slug}/"), "menu-item", "menu-item__link")
    section_href = f"/vc/category/{_slug(story.section)}/"
    quote = f'<aside class="story__pullquote"><q>{_e(story.pull_quote)}</q></aside>'
    ad = (
        '<div class="ad-unit ad-unit--inline" data-ad="vc-inline-1">'
        '<span class="ad-unit__label">Advertisement</span></div>'
    )
    body = _body_paragraphs(story, 3, quote, ad)
    tags = ", ".join(f'<a href="/vc/tag/{_slug(t)}/">{_e(t)}</a>' for t in story.tags)
    more = "\n".join(f'<li><a href="{_e(r.path)}">{_e(r.title)}</a></li>' for r in page.related)
    footer = "\n".join(
        f'<div class="site-footer__col"><h4>{_e(title)}</h4><ul>\n'
        f"{_link_list((label, f'/vc/page/{_slug(label)}/') for label in labels)}\n</ul></div>"
        for title, labels in VC_FOOTER.items()
    )
    logo = f"{page.home}assets/valley-courier-logo.svg"
    when = _date_vc(story.published)
    ads = _ad_config("valleycourier", ("leaderboard", "inline-1", "side-rail", "sticky"))
    return f"""<!DOCTYPE html>
<html lang="{site.locale}" dir="ltr">
<head>
{_meta(page, logo, " - Valley Courier")}
<meta name="theme-color" content="#1e3d26">
<style id="vc-theme">{VC_CSS}</style>
<style id="vc-grid">
{_utility_css("u-", "#2f5d3a", "px")}
</style>
<script>
var vcPage = {_data_layer(page, {"site": "valley-courier", "paywall": "metered"})};
var googletagQueue = [];
window.vcAds = {ads};
</script>
</head>
<body class="single single-post postid-{_crc(story.key) % 90000 + 10000} vc">
{_svg_sprite("vc-")}
<div id="vc-app">
<div class="gdpr-notice" id="gdpr-notice" role="region" aria-label="Privacy notice">
<div class="gdpr-notice__inner">
<p>We use cookies and similar technologies to improve your experience, analyze traffic
and personalize ads. By clicking "I agree" you consent to our use of cookies. Read our
<a href="/vc/page/privacy-policy/">privacy policy</a> to learn more.</p>
<button class="btn btn--primary js-gdpr-accept" type="button">I agree</button>
<a class="btn btn--ghost" href="/vc/page/privacy-settings/">Privacy settings</a>
</div>
</div>
<header class="site-header">
<div class="site-header__bar">
<a class="site-logo" href="/vc/"><span>Valley</span> <span>Courier</span></a>
<div class="site-header__weather" aria-label="Current weather">Millbrook 41\u00b0F Rain</div>
<div class="site-header__actions"><a class="btn btn--primary" href="/vc/category/subscribe/">
Subscribe for $1</a> <a href="/vc/account/login/">Log in</a></div>
</div>
<nav class="primary-menu" role="navigation" aria-label="Main menu">
<ul class="primary-menu__list">
{nav}
</ul>
</nav>
</header>
<main id="main-content" class="site-main">
<nav class="breadcrumbs" aria-label="Breadcrumbs">
<ul>
<li><a href="/vc/">Home</a> \u203a</li>
<li><a href="{section_href}">{_e(story.section)}</a> \u203a</li>
<li><span>{_e(story.title)}</span></li>
</ul>
</nav>
<div class="layout layout--two-col">
<div class="layout__main">
<article class="story story--standard" id="story-{_e(story.key)}">
<div class="story__header">
<span class="story__section"><a href="{section_href}">{_e(story.section)}</a></span>
<h1 class="story__headline">{_e(story.title)}</h1>
<p class="story__dek">{_e(story.summary)}</p>
<div class="story__meta">
<p class="story__byline">By <span class="author-name">{_e(story.author)}</span></p>
<time class="story__date" datetime="{story.published.isoformat()}">{when}</time>
</div>
</div>
<div class="story__share">
<a href="mailto:?subject={_e(story.title)}" aria-label="Email">{_icon("vc-", "mail")}</a>
<a href="#discussion" aria-label="Comments">{_icon("vc-", "comment")}</a>
<a href="javascript:window.print()" aria-label="Print">{_icon("vc-", "print")}</a>
</div>
<figure class="story__image">
<img src="{_e(page.image)}" alt="" width="1200" height="675">
</figure>
<section class="story__text">
{body}
</section>
<div class="story__tags">Topics: {tags}</div>
</article>
{_vc_comments(page)}
</div>
<aside class="layout__sidebar">
<div class="ad-unit ad-unit--sidebar" data-ad="vc-side-rail">
<span class="ad-unit__label">Advertisement</span></div>
<div class="more-stories">
<h3>More from the Courier</h3>
<ol>
{more}
</ol>
</div>
<form class="signup" action="/vc/newsletters/signup/" method="post">
<h3>Get the Daily Courier</h3>
<p>Top stories from Calder County, delivered to your inbox every morning.</p>
<input type="email" name="email" placeholder="you@example.com" aria-label="Email address">
<input type="hidden" name="list" value="daily">
<button class="btn btn--primary" type="submit">Sign up</button>
</form>
</aside>
</div>
</main>
<footer class="site-footer">
<div class="site-footer__inner">
{footer}
</div>
<p class="site-footer__copy">\u00a9 2026 Valley Courier Publishing Co., 210 Main St.,
Millbrook. All rights reserved.</p>
</footer>
</div>
<script>
document.addEventListener("DOMContentLoaded", function () {{
  var notice = document.getElementById("gdpr-notice");
  var accept = document.querySelector(".js-gdpr-accept");
  if (document.cookie.indexOf("vc_gdpr=1") !== -1 && notice) {{ notice.remove(); }}
  if (accept) {{
    accept.addEventListener("click", function () {{
      document.cookie = "vc_gdpr=1; path=/; max-age=" + 60 * 60 * 24 * 365;
      if (notice) {{ notice.remove(); }}
    }});
  }}
  var meter = parseInt(localStorage.getItem("vc_meter") || "0", 10) + 1;
  localStorage.setItem("vc_meter", String(meter));
  vcPage.meterCount = meter;
}});
</script>
</body>
</html>
"""


# ---------------------------------------------------------------------------
# Le Quotidien du Port template (French)
# ---------------------------------------------------------------------------

LQ_NAV = (
    "Accueil", "Actualités", "Belcôte", "La baie", "Politique", "Économie",
    "Port et mer", "Société", "Faits divers", "Justice", "Sports", "Voile", "Football",
    "Culture", "Sorties", "Festival des Voiles", "Sciences", "Environnement", "Santé",
    "Éducation", "Opinions", "Courrier des lecteurs", "Nécrologie", "Météo", "Marées",
    "Jeux", "Podcasts",
)  # fmt: skip
LQ_FOOTER = {
    "Rubriques": (
        "Belcôte", "La baie", "Politique", "Économie", "Port et mer", "Société",
        "Sports", "Culture", "Sciences", "Environnement", "Opinions",
    ),
    "Services": (
        "S'abonner", "Espace abonné", "Journal numérique", "Petites annonces",
        "Avis de décès", "Annonces légales", "Lettres d'information", "Applications mobiles",
    ),
    "Le journal": (
        "Qui sommes-nous", "La rédaction", "Charte de déontologie", "Nous contacter",
        "Recrutement", "Publicité", "Archives",
    ),
    "Informations légales": (
        "Mentions légales", "Politique de confidentialité", "Gestion des cookies",
        "Conditions générales d'utilisation", "Accessibilité : non conforme", "Plan du site",
    ),
}  # fmt: skip

LQ_CSS = """
:root{--bleu:#003b5c;--bleu-clair:#e6f0f5;--rouge:#d62d20;--texte:#1d1d1b;
--titres:'Playfair Display',Georgia,serif;--corps:'Merriweather',Georgia,serif;
--interface:'Roboto',Arial,sans-serif}
*{box-sizing:border-box}
body.lq-page{margin:0;font-family:var(--corps);color:var(--texte);background:#fff}
.bandeau-cookies{position:fixed;left:1rem;right:1rem;bottom:1rem;z-index:100;
max-width:44rem;margin:0 auto;padding:1.25rem;background:#fff;border:1px solid #ccc;
border-radius:8px;box-shadow:0 4px 24px rgba(0,0,0,.25);font:.9rem/1.5 var(--interface)}
.bandeau-cookies .bouton{border:0;border-radius:4px;padding:.6rem 1.2rem;margin:.25rem;
cursor:pointer;font:600 .9rem var(--interface)}
.bouton.accepter{background:var(--bleu);color:#fff}.bouton.refuser{background:#eee}
.lq-entete__haut{display:flex;justify-content:space-between;padding:.5rem 1.5rem;
font:.8rem var(--interface);background:var(--bleu-clair)}
.lq-entete__haut a{color:var(--bleu);margin-left:1rem}
.lq-logo{margin:0;text-align:center;padding:1.2rem 0}
.lq-logo a{font:900 2.8rem/1 var(--titres);color:var(--bleu);text-decoration:none}
.menu-principal{display:flex;flex-wrap:wrap;justify-content:center;gap:.15rem .9rem;
padding:.6rem 1rem;border-top:2px solid var(--bleu);border-bottom:1px solid #ddd;
font:500 .85rem var(--interface)}
.menu-principal .rubrique{color:var(--texte);text-decoration:none;white-space:nowrap}
.menu-principal .rubrique:hover{color:var(--rouge)}
.conteneur{display:grid;grid-template-columns:minmax(0,1fr);gap:2.5rem;max-width:70rem;
margin:0 auto;padding:1rem 1.5rem}
@media (min-width:64rem){.conteneur{grid-template-columns:minmax(0,1fr) 20rem}}
.ariane{grid-column:1/-1;font:.8rem var(--interface);color:#666}
.ariane a{color:var(--bleu)}
.surtitre{font:700 .8rem var(--interface);text-transform:uppercase;color:var(--rouge);
letter-spacing:.05em}
.titre{font:700 2.3rem/1.2 var(--titres);margin:.4rem 0 1rem}
.chapo{font-weight:700;font-size:1.15rem;line-height:1.55}
.signature{font:.85rem var(--interface);color:#555;padding:.6rem 0;
border-top:1px solid #e3e3e3;margin-bottom:1.5rem}
.signature .auteur a{color:var(--bleu);font-weight:700}
.illustration img{width:100%;height:auto;background:#d5e3ea}
.corps p{font-size:1.05rem;line-height:1.8;margin:0 0 1.3rem}
.citation{margin:2rem 0;padding:0 0 0 1.5rem;border-left:4px solid var(--rouge);
font:italic 1.35rem/1.5 var(--titres)}
.encart-pub{min-height:250px;background:#f3f3f3;margin:2rem 0;text-align:center;
font:.7rem var(--interface);color:#999}
.mots-cles{font:.85rem var(--interface)}.mots-cles a{color:var(--bleu)}
.a-lire-aussi{background:var(--bleu-clair);padding:1rem 1.5rem;margin:2rem 0}
.a-lire-aussi h2,.commentaires h2{font:700 1.2rem var(--interface)}
.a-lire-aussi li{margin:.5rem 0}.a-lire-aussi a{color:var(--bleu)}
.commentaires .commentaire{padding:1rem 0;border-bottom:1px solid #eee}
.commentaire .pseudo{font:700 .9rem var(--interface)}
.commentaire .horodatage{font:.8rem var(--interface);color:#888}
.colonne-droite .infolettre{border:2px solid var(--bleu);padding:1rem}
.infolettre input{width:100%;padding:.6rem;margin:.5rem 0;border:1px solid #aaa}
.infolettre button{width:100%;padding:.6rem;background:var(--rouge);color:#fff;border:0}
.pied{background:var(--bleu);color:#dfe9ef;padding:2.5rem 1.5rem;margin-top:3rem;
font:.85rem var(--interface)}
.pied__colonnes{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));
gap:2rem;max-width:70rem;margin:0 auto}
.pied a{color:#dfe9ef;text-decoration:none}.pied ul{list-style:none;padding:0}
.pied__mentions{text-align:center;margin-top:2rem;opacity:.75}
"""


def _lq_comments(page: _Page) -> str:
    items = "\n".join(
        f"""<div class="commentaire">
<p><span class="pseudo">{_e(c.name)}</span>
<span class="horodatage">le {_date_lq(when.astimezone(page.story.published.tzinfo))}</span></p>
<p class="texte">{_e(c.text)}</p>
<p class="actions"><a href="#">Répondre</a> \u00b7 <a href="#">Signaler un abus</a></p>
</div>"""
        for c, when in page.comments
    )
    return f"""<section class="commentaires" id="commentaires">
<h2>Commentaires ({len(page.comments)})</h2>
<p class="charte">Les commentaires sont modérés a posteriori. Merci de respecter notre
<a href="/lq/fr/pages/charte-de-moderation.html">charte de modération</a>.</p>
{items}
<p><a class="bouton" href="/lq/fr/connexion.html">Connectez-vous pour réagir</a></p>
</section>"""


def _render_lq(page: _Page) -> str:
    story = page.story
    nav = "\n".join(
        f'<a class="rubrique" href="{_e(href)}">{_e(label)}</a>'
        for label, href in _section_links(LQ_NAV, "/lq/fr/rubrique/{slug}/")
    )
    section_href = f"/lq/fr/rubrique/{_slug(story.section)}/"
    quote = f'<blockquote class="citation"><p>« {_e(story.pull_quote)} »</p></blockquote>'
    ad = '<div class="encart-pub" data-emplacement="pave-article-1">Publicité</div>'
    body = _body_paragraphs(story, 2, quote, ad)
    tags = ", ".join(f'<a href="/lq/fr/tag/{_slug(t)}/">{_e(t)}</a>' for t in story.tags)
    related = "\n".join(f'<li><a href="{_e(r.path)}">{_e(r.title)}</a></li>' for r in page.related)
    footer = "\n".join(
        f'<div class="pied__colonne"><p class="pied__titre">{_e(title)}</p><ul>\n'
        f"{_link_list((label, f'/lq/fr/pages/{_slug(label)}.html') for label in labels)}\n"
        "</ul></div>"
        for title, labels in LQ_FOOTER.items()
    )
    logo = f"{page.home}images/logo-quotidien-du-port.png"
    ads = _ad_config("lequotidienduport", ("banniere", "pave-article-1", "side-pave", "pied"))
    return f"""<!doctype html>
<html lang="fr" prefix="og: https://ogp.me/ns#">
<head>
{_meta(page, logo, " - Le Quotidien du Port")}
<style>{LQ_CSS}</style>
<style>
{_utility_css("lq-", "#003b5c")}
</style>
<script>
window.lqConfig = {{"rubrique": {_js(_slug(story.section))}, "abonnement": false,
"version": "4.12.0"}};
window.lqStats = {_data_layer(page, {"site": "le-quotidien-du-port"})};
window.lqPub = {ads};
</script>
</head>
<body class="lq-page lq-article rubrique-{_slug(story.section)}">
{_svg_sprite("lq-")}
<div class="bandeau-cookies" id="bandeau-cookies" role="dialog" aria-modal="false"
aria-label="Gestion des cookies">
<p><strong>Votre vie privée nous importe.</strong> Le Quotidien du Port et ses
partenaires utilisent des cookies pour mesurer l'audience, proposer des publicités
adaptées et vous permettre de partager nos articles. Vous pouvez accepter, refuser ou
paramétrer vos choix à tout moment.</p>
<button class="bouton accepter" type="button" data-choix="accepter">Tout accepter</button>
<button class="bouton refuser" type="button" data-choix="refuser">Continuer sans
accepter</button>
<a href="/lq/fr/pages/gestion-des-cookies.html">Paramétrer</a>
</div>
<header class="lq-entete">
<div class="lq-entete__haut">
<span class="date-du-jour">{_date_lq(story.published).split(" à ")[0]}</span>
<span><a class="abonnement" href="/lq/fr/pages/s-abonner.html">S'abonner</a>
<a href="/lq/fr/connexion.html">Se connecter</a></span>
</div>
<p class="lq-logo"><a href="/lq/">Le Quotidien du Port</a></p>
<nav class="menu-principal" aria-label="Rubriques">
{nav}
</nav>
</header>
<div class="conteneur">
<nav class="ariane" aria-label="Fil d'Ariane">
<a href="/lq/">Accueil</a> \u203a <a href="{section_href}">{_e(story.section)}</a> \u203a
<span>{_e(story.title)}</span>
</nav>
<main class="colonne-principale">
<article class="article-principal">
<p class="surtitre">{_e(story.section)}</p>
<h1 class="titre">{_e(story.title)}</h1>
<p class="chapo">{_e(story.summary)}</p>
<div class="signature">
<span class="auteur">Par
<a href="/lq/fr/auteur/{_slug(story.author)}.html">{_e(story.author)}</a></span>
\u2013 <span class="date">Publié le <time datetime="{story.published.isoformat()}">
{_date_lq(story.published)}</time></span>
</div>
<figure class="illustration">
<img src="{_e(page.image)}" alt="" width="1200" height="675" loading="lazy">
</figure>
<div class="corps">
{body}
</div>
<p class="mots-cles">Mots-clés : {tags}</p>
</article>
<section class="a-lire-aussi">
<h2>À lire aussi</h2>
<ul>
{related}
</ul>
</section>
{_lq_comments(page)}
</main>
<aside class="colonne-droite">
<div class="infolettre">
<h3>La lettre du Port</h3>
<p>Chaque matin, l'essentiel de l'actualité de Belcôte et de la baie dans votre boîte
mail.</p>
<form action="/lq/fr/infolettre/inscription" method="post">
<label for="lq-courriel">Votre adresse e-mail</label>
<input id="lq-courriel" type="email" name="courriel" required>
<button type="submit">Je m'inscris</button>
</form>
</div>
<div class="encart-pub" data-emplacement="side-pave">Publicité</div>
</aside>
</div>
<footer class="pied">
<div class="pied__colonnes">
{footer}
</div>
<p class="pied__mentions">\u00a9 Le Quotidien du Port 2026 \u2013 Tous droits de
reproduction réservés.</p>
</footer>
<script>
(function () {{
  var bandeau = document.getElementById("bandeau-cookies");
  if (!bandeau) {{ return; }}
  if (/lq_choix=/.test(document.cookie)) {{ bandeau.style.display = "none"; }}
  bandeau.addEventListener("click", function (evenement) {{
    var choix = evenement.target.getAttribute("data-choix");
    if (!choix) {{ return; }}
    document.cookie = "lq_choix=" + choix + "; path=/; max-age=15552000; SameSite=Lax";
    bandeau.style.display = "none";
  }});
}})();
</script>
</body>
</html>
"""


# ---------------------------------------------------------------------------
# Continental Press template (wire service)
# ---------------------------------------------------------------------------

CP_NAV = (
    "Top News", "Regional", "Portville", "Calder Valley", "Belcôte", "Politics", "Elections",
    "Business", "Markets", "Transport", "Energy", "Shipping", "Courts", "Crime", "Health",
    "Science", "Environment", "Weather", "Sport", "Culture", "Photos", "Video",
    "Fact Check", "Corrections", "Style Guide",
)  # fmt: skip
CP_FOOTER = {
    "Services": (
        "Text wire", "Photo service", "Video service", "Data and graphics", "Regional desk",
        "Elections service", "Customer support", "Become a subscriber",
    ),
    "About": (
        "About CP", "Our journalists", "Standards and ethics", "Corrections", "Style guide",
        "Careers", "Press office", "Contact",
    ),
    "Legal": (
        "Terms of use", "Privacy", "Cookies", "Copyright and licensing", "Accessibility",
    ),
}  # fmt: skip

CP_CSS = """
body.cp{margin:0;font:15px/1.5 'IBM Plex Sans','Segoe UI',Arial,sans-serif;color:#141414;
background:#f2f2f2}
.cp-wrap{max-width:1040px;margin:0 auto;background:#fff;min-height:100vh}
.cp-cookie{background:#ffd200;padding:10px 16px;font-size:13px;display:flex;gap:12px;
align-items:center;justify-content:center}
.cp-cookie button{background:#141414;color:#ffd200;border:0;padding:6px 12px;
font-weight:700;cursor:pointer}
.cp-top{display:flex;flex-wrap:wrap;align-items:center;gap:16px;padding:14px 20px;
border-bottom:3px solid #141414}
.cp-brand{font:800 22px/1 'IBM Plex Sans',Arial,sans-serif;color:#141414;
text-decoration:none;text-transform:uppercase;letter-spacing:1px}
.cp-brand abbr{background:#ffd200;padding:2px 6px;text-decoration:none;margin-right:6px}
.cp-tagline{font-size:12px;color:#666}
.cp-desk-nav{width:100%}
.cp-desk-nav ul{display:flex;flex-wrap:wrap;gap:4px 14px;list-style:none;margin:0;
padding:0;font-size:13px}
.cp-desk-nav a{color:#141414;text-decoration:none;border-bottom:2px solid transparent}
.cp-desk-nav a:hover{border-color:#ffd200}
.cp-path{display:flex;gap:8px;list-style:none;margin:0;padding:10px 20px;font-size:12px;
color:#666}
.cp-path li+li::before{content:"\\203a";margin-right:8px}
.cp-columns{display:grid;grid-template-columns:minmax(0,1fr);gap:28px;padding:0 20px 20px}
@media (min-width:820px){.cp-columns{grid-template-columns:minmax(0,1fr) 280px}}
.cp-head{font:700 32px/1.2 'IBM Plex Serif',Georgia,serif;margin:12px 0}
.cp-meta{font-size:13px;color:#555;padding:8px 0;border-top:1px solid #ddd;
border-bottom:1px solid #ddd}
.cp-copy p{font:17px/1.7 'IBM Plex Serif',Georgia,serif;margin:0 0 16px}
.cp-quote blockquote{margin:24px 0;padding:12px 18px;background:#fff8d6;
border-left:5px solid #ffd200;font:italic 20px/1.4 'IBM Plex Serif',Georgia,serif}
.cp-more h2,.cp-alerts h2,.cp-feedback h2{font-size:14px;text-transform:uppercase;
letter-spacing:1px;border-bottom:2px solid #141414;padding-bottom:4px}
.cp-more ul{list-style:square;padding-left:18px}.cp-more a{color:#0044aa}
.cp-alerts{background:#141414;color:#fff;padding:16px}
.cp-alerts input{width:100%;padding:8px;margin:6px 0;border:0}
.cp-alerts button{background:#ffd200;border:0;padding:8px;width:100%;font-weight:700}
.cp-licence{font-size:12px;color:#777;padding:0 20px}
.cp-feedback{padding:0 20px 20px}.cp-note{border-left:3px solid #ddd;padding:4px 12px;
margin:12px 0}
.cp-foot{background:#141414;color:#bbb;padding:24px 20px;font-size:13px}
.cp-foot-cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:20px}
.cp-foot a{color:#ddd;text-decoration:none}.cp-foot ul{list-style:none;padding:0}
"""


def _cp_comments(page: _Page) -> str:
    items = "\n".join(
        f"""<div class="cp-note">
<p class="cp-note-meta"><b>{_e(c.name)}</b> \u2014 {_date_cp(when)}</p>
<p>{_e(c.text)}</p>
</div>"""
        for c, when in page.comments
    )
    return f"""<section class="cp-feedback" id="feedback">
<h2>Comments ({len(page.comments)})</h2>
{items}
<p><a href="/cp/account/login">Sign in to comment</a></p>
</section>"""


def _render_cp(page: _Page) -> str:
    story, site = page.story, page.site
    nav = _link_list(_section_links(CP_NAV, "/cp/desk/{slug}"))
    desk_href = f"/cp/desk/{_slug(story.section)}"
    quote = (
        f'<aside class="cp-quote"><blockquote>\u201c{_e(story.pull_quote)}\u201d</blockquote>'
        "</aside>"
    )
    body = _body_paragraphs(story, 4, quote)
    more = "\n".join(
        f'<li><a href="{_e(r.path)}">{_e(r.title)}</a> <small>{_date_cp(r.published)}</small></li>'
        for r in page.related
    )
    footer = "\n".join(
        f"<div><h3>{_e(title)}</h3><ul>\n"
        f"{_link_list((label, f'/cp/about/{_slug(label)}') for label in labels)}\n</ul></div>"
        for title, labels in CP_FOOTER.items()
    )
    logo = f"{page.home}static/cp-logo.png"
    slug_line = story.path.rsplit("/", 1)[-1].upper().replace("-", " ")
    return f"""<!doctype html>
<html lang="{site.locale}">
<head>
{_meta(page, logo, " | Continental Press")}
<style>{CP_CSS}</style>
<style>
{_utility_css("cp-", "#ffd200", "px")}
</style>
<script>
window.CP = {{"desk": {_js(_slug(story.section))}, "slug": {_js(slug_line)},
"analytics": {_data_layer(page, {"site": "continental-press"})}}};
</script>
</head>
<body class="cp">
{_svg_sprite("cp-")}
<div class="cp-cookie" data-cp-consent>
<span>This site uses cookies for analytics and to remember your preferences.
<a href="/cp/about/cookies">Learn more</a></span>
<button type="button" data-cp-accept>OK</button>
<button type="button" data-cp-decline>Decline</button>
</div>
<div class="cp-wrap">
<header class="cp-top">
<a class="cp-brand" href="/cp/"><abbr title="Continental Press">CP</abbr>Continental Press</a>
<span class="cp-tagline">{_e(site.tagline)}</span>
<nav class="cp-desk-nav" aria-label="Desks">
<ul>
{nav}
</ul>
</nav>
</header>
<ul class="cp-path" aria-label="Breadcrumb">
<li><a href="/cp/">Wire</a></li>
<li><a href="{desk_href}">{_e(story.section)}</a></li>
<li>{_e(slug_line)}</li>
</ul>
<div class="cp-columns">
<article class="cp-story" data-cp-id="{_e(story.key)}">
<h1 class="cp-head">{_e(story.title)}</h1>
<div class="cp-meta"><span class="cp-by">By {_e(story.author)}</span> |
<time class="cp-ts" datetime="{story.published.isoformat()}">{_date_cp(story.published)}</time>
| <a class="cp-desk" href="{desk_href}">{_e(story.section)} desk</a></div>
<div class="cp-copy">
{body}
</div>
</article>
<aside>
<section class="cp-more">
<h2>More from the wire</h2>
<ul>
{more}
</ul>
</section>
<section class="cp-alerts">
<h2>CP Alerts</h2>
<p>Breaking news from the Greywater region, as it happens.</p>
<form action="/cp/alerts/subscribe" method="post">
<input type="email" name="email" placeholder="Email address" aria-label="Email address">
<button type="submit">Get alerts</button>
</form>
</section>
</aside>
</div>
<p class="cp-licence">Copyright 2026 Continental Press. All rights reserved. This material
may be republished by CP subscribers under the terms of their licence.</p>
{_cp_comments(page)}
<footer class="cp-foot">
<div class="cp-foot-cols">
{footer}
</div>
<p>\u00a9 2026 Continental Press Cooperative</p>
</footer>
</div>
<script>
document.querySelectorAll("[data-cp-accept],[data-cp-decline]").forEach(function (b) {{
  b.addEventListener("click", function () {{
    var ok = b.hasAttribute("data-cp-accept");
    document.cookie = "cp_consent=" + (ok ? "yes" : "no") + ";path=/;max-age=31536000";
    var bar = document.querySelector("[data-cp-consent]");
    if (bar) {{ bar.parentNode.removeChild(bar); }}
  }});
}});
</script>
</body>
</html>
"""


RENDERERS = {
    "harbour-times": _render_ht,
    "valley-courier": _render_vc,
    "le-quotidien-du-port": _render_lq,
    "continental-press": _render_cp,
}

HOME_LABELS = {
    "en": ("Latest news", "Read more"),
    "fr": ("Dernières actualités", "Lire la suite"),
}


# ---------------------------------------------------------------------------
# The site
# ---------------------------------------------------------------------------


class NewsSite:
    """Every resource of the demo site, rendered for ``port``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sites: list[SiteInfo] = list(SITES)
        self.stories: list[Story] = list(STORIES)
        self.sources: list[DemoSource] = [
            DemoSource(
                id=site.id,
                name=site.name,
                kind=site.kind,
                host=site.host,
                homepage=self.url(site, site.prefix),
                feed_url=self.url(site, site.feed_path),
                country=site.country,
                language=site.language,
                credits=site.credits,
            )
            for site in self.sites
        ]
        self.hosts: list[str] = [site.host for site in self.sites]
        self.resources: dict[str, Resource] = {}
        self._build()

    # -- lookups -------------------------------------------------------------

    def site(self, site_id: str) -> SiteInfo:
        return next(s for s in self.sites if s.id == site_id)

    def source(self, site_id: str) -> DemoSource:
        return next(s for s in self.sources if s.id == site_id)

    def url(self, site: SiteInfo | str, path: str) -> str:
        """Absolute URL of ``path`` on a site's virtual host, with the port."""
        info = self.site(site) if isinstance(site, str) else site
        return f"http://{info.host}:{self.port}{path}"

    def site_for_host(self, host: str | None) -> SiteInfo | None:
        """The site served on ``host`` (port and a leading "www." are ignored)."""
        if not host:
            return None
        name = host.strip().lower()
        if name.startswith("["):
            return None
        name = name.partition(":")[0].rstrip(".")
        for site in self.sites:
            if name in (site.host, site.host.removeprefix("www.")):
                return site
        return None

    def resolve(self, path: str, host: str | None = None) -> str | None:
        """The resource key serving ``path`` (no query) requested for ``host``.

        Paths are unique across sites, so any host gets any resource. On a
        known virtual host, "/" is that site's homepage and a path without the
        site's prefix (such as "/rss.xml") is tried with it.
        """
        site = self.site_for_host(host)
        if path == "/" and site is not None and site.prefix in self.resources:
            return site.prefix
        if path in self.resources:
            return path
        if site is not None:
            candidate = site.prefix.rstrip("/") + path
            if candidate in self.resources:
                return candidate
        return None

    # -- facts for tests and the CLI --------------------------------------------

    def sources_toml(self) -> str:
        """A source registry (TOML) pointing the pipeline at this site."""
        return dump_registry(
            (
                Source(
                    source_id=src.id,
                    name=src.name,
                    kind=src.kind,
                    homepage=src.homepage,
                    domains=(src.host.removeprefix("www."),),
                    feeds=(src.feed_url,),
                    credits=tuple(src.credits),
                    country=src.country,
                    language=src.language,
                )
                for src in self.sources
            ),
            header=f"Source registry of the news-ingest demo site (port {self.port}).\n"
            "Every host below must resolve to 127.0.0.1.",
        )

    def listings(self, site: SiteInfo) -> list[tuple[Story, str]]:
        """(story, path as listed) for every item of a site's feed, newest first."""
        stories = sorted(
            (s for s in self.stories if s.site == site.id),
            key=lambda s: (_utc(s.published), s.key),
            reverse=True,
        )
        return [(story, link) for story in stories for link in story.listed_paths]

    def article_urls(self) -> list[str]:
        """Every distinct article URL listed in the feeds, as listed (with the port)."""
        urls: list[str] = []
        for site in self.sites:
            for _story, link in self.listings(site):
                url = self.url(site, link)
                if url not in urls:
                    urls.append(url)
        return urls

    def expected_articles(self) -> int:
        """Distinct publications a correct pipeline ends with.

        One per story: a page listed twice in a feed (tracking parameters) or
        reachable under an alias with a canonical link counts once, while a
        wire story republished by another source is a separate publication.
        """
        return len(self.stories)

    # -- rendering ------------------------------------------------------------

    def _build(self) -> None:
        newest = max(_utc(s.published) for s in self.stories)
        self.resources["/robots.txt"] = Resource(ROBOTS_TXT, TEXT_TYPE, SITE_EPOCH)
        self.resources["/"] = Resource(self._render_index().encode(), HTML_TYPE, newest)
        for site in self.sites:
            own = [s for s in self.stories if s.site == site.id]
            latest = max(_utc(s.published) for s in own)
            home = self._render_home(site, own).encode("utf-8")
            self.resources[site.prefix] = Resource(home, HTML_TYPE, latest)
            if site.feed_format == "atom":
                feed = self._render_atom(site)
                self.resources[site.feed_path] = Resource(feed, ATOM_TYPE, latest)
            else:
                feed = self._render_rss(site)
                self.resources[site.feed_path] = Resource(feed, RSS_TYPE, latest)
            for story in own:
                page = self._render_page(site, story).encode("utf-8")
                resource = Resource(page, HTML_TYPE, _utc(story.published))
                for path in story.served_paths:
                    if path in self.resources:
                        raise ValueError(f"duplicate demo path {path}")
                    self.resources[path] = resource

    def _render_page(self, site: SiteInfo, story: Story) -> str:
        related = tuple(
            sorted(
                (s for s in self.stories if s.site == site.id and s.key != story.key),
                key=lambda s: (_utc(s.published), s.key),
                reverse=True,
            )[:4]
        )
        pool = COMMENTS_FR if site.language == "fr" else COMMENTS_EN
        seed = _crc(story.key)
        count = 2 + seed % 2
        comments = tuple(
            (c, story.published + timedelta(minutes=c.minutes_after))
            for c in (pool[(seed + i) % len(pool)] for i in range(count))
        )
        wire = None
        if story.syndicated_from is not None:
            original = next(s for s in self.stories if s.key == story.syndicated_from)
            wire = self.source(original.site)
        page = _Page(
            site=site,
            story=story,
            url=self.url(site, story.path),
            home=self.url(site, site.prefix),
            image=self.url(site, f"{site.prefix}media/2026/03/{_slug(story.key)}-1200x675.jpg"),
            related=related,
            comments=comments,
            wire=wire,
        )
        return RENDERERS[site.id](page)

    def _render_home(self, site: SiteInfo, own: Sequence[Story]) -> str:
        heading, more = HOME_LABELS[site.language]
        ordered = sorted(own, key=lambda s: (_utc(s.published), s.key), reverse=True)
        teasers = "\n".join(
            f"""<li class="teaser teaser--{_slug(s.section)}">
<h2 class="teaser__title"><a href="{_e(s.path)}">{_e(s.title)}</a></h2>
<p class="teaser__meta">{_e(s.author)} \u00b7
<time datetime="{s.published.isoformat()}">{s.published.date().isoformat()}</time></p>
<p class="teaser__summary">{_e(s.summary)}</p>
<a class="teaser__more" href="{_e(s.path)}">{more}</a>
</li>"""
            for s in ordered
        )
        home = self.url(site, site.prefix)
        feed = self.url(site, site.feed_path)
        org = _js(
            {
                "@context": "https://schema.org",
                "@type": "NewsMediaOrganization",
                "name": site.name,
                "url": home,
            }
        )
        feed_type = (ATOM_TYPE if site.feed_format == "atom" else RSS_TYPE).partition(";")[0]
        return f"""<!doctype html>
<html lang="{site.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(site.name)} \u2013 {_e(site.tagline)}</title>
<meta name="description" content="{_e(site.tagline)}">
<link rel="canonical" href="{_e(home)}">
<link rel="alternate" type="{feed_type}" title="{_e(site.name)}" href="{_e(feed)}">
<meta property="og:type" content="website">
<meta property="og:title" content="{_e(site.name)}">
<meta property="og:url" content="{_e(home)}">
<meta property="og:site_name" content="{_e(site.name)}">
<script type="application/ld+json">{org}</script>
<style>body{{font-family:Georgia,serif;max-width:60rem;margin:0 auto;padding:1rem}}
.teaser{{border-bottom:1px solid #ddd;padding:1rem 0}}</style>
</head>
<body class="home home--{site.id}">
<header class="home__header">
<h1 class="home__brand"><a href="{site.prefix}">{_e(site.name)}</a></h1>
<p>{_e(site.tagline)}</p></header>
<main>
<h2 class="home__heading">{heading}</h2>
<ul class="home__teasers">
{teasers}
</ul>
</main>
<footer><a href="{_e(feed)}">Feed</a></footer>
</body>
</html>
"""

    def _render_index(self) -> str:
        items = "\n".join(
            f'<li><a href="{_e(src.homepage)}">{_e(src.name)}</a> ({_e(src.kind)}, '
            f'{_e(src.host)}) \u2013 <a href="{_e(src.feed_url)}">feed</a></li>'
            for src in self.sources
        )
        return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>news-ingest demo site</title></head>
<body>
<h1>news-ingest demo site</h1>
<p>Fictional sources served from 127.0.0.1 port {self.port}. Map these host names to
127.0.0.1 to browse them.</p>
<ul>
{items}
</ul>
</body>
</html>
"""

    # -- feeds ----------------------------------------------------------------

    def _render_rss(self, site: SiteInfo) -> bytes:
        listings = self.listings(site)
        home = self.url(site, site.prefix)
        feed_url = self.url(site, site.feed_path)
        newest = max(_utc(s.published) for s, _ in listings)
        full_text = site.id == "harbour-times"
        items: list[str] = []
        for story, link in listings:
            url = self.url(site, link)
            if site.kind == "wire":
                guid = f'<guid isPermaLink="false">cp:{_e(story.key)}</guid>'
            elif site.language == "fr":
                number = story.path.rsplit("-", 1)[-1].removesuffix(".html")
                guid = f'<guid isPermaLink="false">lqdp-{number}</guid>'
            else:
                guid = f'<guid isPermaLink="true">{xml_text(url)}</guid>'
            lines = [
                "<item>",
                f"<title>{xml_text(story.title)}</title>",
                f"<link>{xml_text(url)}</link>",
                guid,
            ]
            if story.date_in_feed:
                lines.append(f"<pubDate>{format_datetime(story.published)}</pubDate>")
            lines.append(f"<dc:creator>{xml_text(story.author)}</dc:creator>")
            lines.append(f"<category>{xml_text(story.section)}</category>")
            lines.append(f"<description>{xml_text(story.summary)}</description>")
            if full_text:
                html_body = "".join(f"<p>{_e(p)}</p>" for p in story.paragraphs)
                lines.append(f"<content:encoded>{xml_text(html_body)}</content:encoded>")
            lines.append("</item>")
            items.append("\n".join(lines))
        language = site.locale.lower()
        logo = self.url(site, f"{site.prefix}static/feed-logo.png")
        body = "\n".join(items)
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" \
xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{xml_text(site.name)}</title>
<link>{xml_text(home)}</link>
<description>{xml_text(site.tagline)}</description>
<language>{language}</language>
<copyright>{xml_text(f"Copyright 2026 {site.name}")}</copyright>
<lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>
<ttl>15</ttl>
<atom:link href={quoteattr(feed_url)} rel="self" type="application/rss+xml"/>
<image>
<url>{xml_text(logo)}</url>
<title>{xml_text(site.name)}</title>
<link>{xml_text(home)}</link>
</image>
{body}
</channel>
</rss>
""".encode()

    def _render_atom(self, site: SiteInfo) -> bytes:
        listings = self.listings(site)
        home = self.url(site, site.prefix)
        feed_url = self.url(site, site.feed_path)
        newest = max(_utc(s.published) for s, _ in listings)
        domain = site.host.removeprefix("www.")
        entries: list[str] = []
        for story, link in listings:
            url = self.url(site, link)
            lines = [
                "<entry>",
                f'<title type="text">{xml_text(story.title)}</title>',
                f'<link rel="alternate" type="text/html" href={quoteattr(url)}/>',
                f"<id>tag:{domain},2026:{story.key}</id>",
            ]
            if story.date_in_feed:
                stamp = story.published.isoformat()
                lines.append(f"<published>{stamp}</published>")
                lines.append(f"<updated>{stamp}</updated>")
            lines.append(f"<author><name>{xml_text(story.author)}</name></author>")
            lines.append(f"<category term={quoteattr(story.section)}/>")
            lines.append(f'<summary type="text">{xml_text(story.summary)}</summary>')
            lines.append("</entry>")
            entries.append("\n".join(lines))
        body = "\n".join(entries)
        return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{site.locale}">
<title>{xml_text(site.name)}</title>
<subtitle>{xml_text(site.tagline)}</subtitle>
<link rel="alternate" type="text/html" href={quoteattr(home)}/>
<link rel="self" type="application/atom+xml" href={quoteattr(feed_url)}/>
<id>tag:{domain},2026:feed</id>
<updated>{newest.isoformat()}</updated>
<author><name>{xml_text(site.name)}</name></author>
<rights>{xml_text(f"Copyright 2026 {site.name}")}</rights>
<generator>news-ingest demo</generator>
{body}
</feed>
""".encode()
