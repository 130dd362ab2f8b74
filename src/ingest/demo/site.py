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
    CHROME,
    COMMENTS_EN,
    COMMENTS_FR,
    SITES,
    STORIES,
    WIRE_CREDIT,
    Comment,
    SiteInfo,
    Story,
    layout_file,
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

# Each layout's page chrome (navigation, footer, icons), CSS and scripts are
# data files in ``ingest/demo/data/layouts``; the renderers below are markup.
ICONS: dict[str, str] = CHROME["icons"]
HOME_LABELS: dict[str, tuple[str, str]] = {k: tuple(v) for k, v in CHROME["home_labels"].items()}


def _nav(layout: str) -> tuple[str, ...]:
    return tuple(CHROME[layout]["nav"])


def _footer(layout: str) -> dict[str, tuple[str, ...]]:
    return {title: tuple(labels) for title, labels in CHROME[layout]["footer"].items()}


HT_NAV, HT_FOOTER, HT_CSS = _nav("ht"), _footer("ht"), layout_file("ht.css")
HT_CONSENT_JS = layout_file("ht-consent.js")
VC_NAV, VC_FOOTER, VC_CSS = _nav("vc"), _footer("vc"), layout_file("vc.css")
LQ_NAV, LQ_FOOTER, LQ_CSS = _nav("lq"), _footer("lq"), layout_file("lq.css")
CP_NAV, CP_FOOTER, CP_CSS = _nav("cp"), _footer("cp"), layout_file("cp.css")


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


# What some of the demo's publishers declare about the reuse of their pages
# (ingest.rights): the wire reserves text and data mining (TDMRep meta tags),
# the port's paper publishes under a Creative Commons licence.
RIGHTS_MARKUP = {
    "continental-press": (
        '<meta name="tdm-reservation" content="1">\n'
        '<meta name="tdm-policy" content="https://www.continental-press.test/tdm-policy.json">\n'
    ),
    "le-quotidien-du-port": (
        '<link rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">\n'
    ),
}


def _meta(page: _Page, logo: str, title_suffix: str) -> str:
    story, site = page.story, page.site
    published = story.published.isoformat()
    tags = "\n".join(f'<meta property="article:tag" content="{_e(t)}">' for t in story.tags)
    return f"""<meta charset="utf-8">
{RIGHTS_MARKUP.get(site.id, "")}
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
