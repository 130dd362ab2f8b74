"""Rights signals and provenance per article (ingest.rights, ingest explain).

The parsers on the protocols' own examples, then a loopback site with one
page per signal (each header, meta tag, tdmrep.json case, paywall marking,
licence form) run through the whole poll: each signal lands in its column,
the withholding policy keeps metadata and story without text or raw page,
an export respecting rights redacts or leaves out what is reserved, and
``ingest explain`` tells one row's whole history.
"""

from __future__ import annotations

import json
import random
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import run_once
from typer.testing import CliRunner

from ingest import explain, export, rights
from ingest.cli import app
from ingest.demo.server import Reply, RequestInfo, SiteServer
from ingest.records import OriginRights, Rights
from ingest.registry import Registry, parse_registry
from ingest.settings import Settings
from ingest.store import read

# --------------------------------------------------------------------------- the parsers

# The shape of the TDMRep report's tdmrep.json examples: rules by path, the
# first matching rule applies.
TDMREP_JSON = json.dumps(
    [
        {
            "location": "/images/*",
            "tdm-reservation": 1,
            "tdm-policy": "https://provider.com/policies/policy.json",
        },
        {"location": "/*.pdf$", "tdm-reservation": 1},
        {"location": "/open/", "tdm-reservation": 0},
        {"location": "/bad/", "tdm-reservation": "maybe"},  # invalid: skipped
    ]
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/images/photo.jpg", (1, "https://provider.com/policies/policy.json")),
        ("/docs/report.pdf", (1, None)),
        ("/docs/report.pdf?page=2", None),  # "$": the path (with its query) ends there
        ("/open/story.html", (0, None)),
        ("/bad/story.html", None),
        ("/news/story.html", None),
    ],
)
def test_tdmrep_json_rules_by_path(path: str, expected: tuple[int, str | None] | None) -> None:
    assert rights.tdmrep_rule(TDMREP_JSON, "https://provider.com" + path) == expected


def test_tdmrep_json_first_matching_rule_wins_and_garbage_is_no_declaration() -> None:
    doc = json.dumps(
        [{"location": "/", "tdm-reservation": 0}, {"location": "/a/", "tdm-reservation": 1}]
    )
    assert rights.tdmrep_rule(doc, "https://x.test/a/b") == (0, None)
    assert rights.tdmrep_rule("<html>not json</html>", "https://x.test/a") is None
    assert rights.tdmrep_rule('{"location": "/", "tdm-reservation": 1}', "https://x.test/a") == (
        1,
        None,
    )


def test_tdm_precedence_file_then_headers_then_meta() -> None:
    page = Rights(tdm_reservation=1, tdm_policy="https://meta.example/p")
    headers = {"tdm-reservation": "0", "tdm-policy": "https://header.example/p"}
    from_file = OriginRights(tdm_reservation=1, tdm_policy="https://file.example/p")
    decided = rights.decide(page, headers, from_file, "news-ingest")
    assert (decided.tdm_reservation, decided.tdm_policy, decided.tdm_source) == (
        1,
        "https://file.example/p",
        "tdmrep.json",
    )
    decided = rights.decide(page, headers, OriginRights(), "news-ingest")
    assert (decided.tdm_reservation, decided.tdm_source) == (0, "header")
    assert rights.reuse(decided) == "unknown"
    decided = rights.decide(page, {}, None, "news-ingest")
    assert (decided.tdm_reservation, decided.tdm_source) == (1, "meta")
    assert rights.reuse(decided) == "reserved"


def test_robots_directives_for_every_crawler_or_ours() -> None:
    token = "news-ingest"
    assert rights.directives(["noindex, nofollow"], token) == ("noindex", "nofollow")
    assert rights.directives(["googlebot: noarchive, nosnippet"], token) == ()
    assert rights.directives(["news-ingest: noarchive"], token) == ("noarchive",)
    assert rights.directives(["NoAI, noimageai"], token) == ("noai", "noimageai")
    assert rights.directives(
        ["max-snippet:0, unavailable_after: 25 Jun 2010 15:00:00 PST"], token
    ) == (
        "max-snippet:0",
        "unavailable_after",
    )
    assert rights.directives(["", "garbage words"], token) == ()


def test_ai_crawlers_named_and_disallowed_for_the_url() -> None:
    robots = (
        "User-agent: GPTBot\nDisallow: /\n\n"
        "User-agent: CCBot\nUser-agent: ClaudeBot\nDisallow: /private/\n\n"
        "User-agent: *\nDisallow: /admin/\n"
    )
    ai = rights.AiCrawlers(robots, rights.AI_CRAWLERS)
    assert ai.disallowed("https://x.test/news/1") == ("GPTBot",)
    assert ai.disallowed("https://x.test/private/1") == ("GPTBot", "CCBot", "ClaudeBot")
    # a crawler only covered by "*" is not counted: that group is about everyone
    assert ai.disallowed("https://x.test/admin/1") == ("GPTBot",)
    assert rights.AiCrawlers(None, rights.AI_CRAWLERS).disallowed("https://x.test/") == ()


def test_reuse_summary() -> None:
    assert rights.reuse(None) == "unknown"
    assert rights.reuse(Rights()) == "unknown"
    assert rights.reuse(Rights(robots_meta=("noarchive",))) == "reserved"
    assert rights.reuse(Rights(x_robots_tag=("noai",))) == "reserved"
    assert rights.reuse(Rights(ai_disallowed=("CCBot",))) == "reserved"
    assert rights.reuse(Rights(robots_meta=("noindex",))) == "unknown"
    open_ = Rights(license="https://creativecommons.org/licenses/by/4.0/")
    assert rights.reuse(open_) == "open"
    assert rights.reuse(replace(open_, tdm_reservation=1, tdm_source="header")) == "reserved"
    assert rights.reuse(Rights(license="https://example.com/terms")) == "unknown"


# --------------------------------------------------------------------------- the site

HOST = "rights-news.test"
COPY_HOST = "copy-news.test"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC_BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"
CC_BY_NC = "https://creativecommons.org/licenses/by-nc/4.0/"
TDM_POLICY = "https://rights-news.test/tdm-policy.json"

# slug -> (extra headers, extra <head> markup, extra JSON-LD fields)
PAGES: dict[str, tuple[dict[str, str], str, dict[str, Any]]] = {
    "plain": ({}, "", {}),
    "x-robots-noai": ({"X-Robots-Tag": "noai, noimageai"}, "", {}),
    "x-robots-other-bot": ({"X-Robots-Tag": "googlebot: noarchive"}, "", {}),
    "meta-noarchive": ({}, '<meta name="robots" content="noarchive">', {}),
    "tdm-header": ({"tdm-reservation": "1", "tdm-policy": TDM_POLICY}, "", {}),
    "tdm-meta": ({}, '<meta name="tdm-reservation" content="1">', {}),
    "reserved/by-file": ({}, "", {}),
    "open/by-file": ({}, '<meta name="tdm-reservation" content="1">', {}),
    "ai/blocked": ({}, "", {}),
    "paywall": (
        {},
        "",
        {
            "isAccessibleForFree": False,
            "hasPart": {
                "@type": "WebPageElement",
                "isAccessibleForFree": False,
                "cssSelector": ".paywall",
            },
        },
    ),
    "license-jsonld": ({}, "", {"license": CC_BY}),
    "license-link": ({}, f'<link rel="license" href="{CC_BY_SA}">', {}),
    "license-cc-anchor": ({}, "", {}),
    "license-header": ({"Link": f'<{CC_BY}>; rel="license"'}, "", {}),
}
TDMREP = json.dumps(
    [
        {"location": "/r/reserved/*", "tdm-reservation": 1, "tdm-policy": TDM_POLICY},
        {"location": "/r/open/*", "tdm-reservation": 0},
    ]
)
ROBOTS = "User-agent: GPTBot\nDisallow: /r/ai/\n\nUser-agent: *\nAllow: /\n"
WORDS = [
    "council",
    "harbour",
    "budget",
    "river",
    "festival",
    "school",
    "railway",
    "museum",
    "election",
    "bridge",
    "library",
    "hospital",
    "market",
    "stadium",
    "orchestra",
    "factory",
    "airport",
    "vineyard",
    "mayor",
    "teacher",
    "farmer",
    "nurse",
    "engineer",
    "painter",
    "lawyer",
    "baker",
    "pilot",
    "sailor",
    "miner",
    "doctor",
    "ferry",
    "tunnel",
    "canal",
    "forest",
    "mountain",
    "valley",
    "island",
    "village",
    "garden",
    "theatre",
    "chapel",
    "castle",
    "prison",
    "tower",
    "quarry",
    "mill",
    "brewery",
    "bakery",
    "harvest",
    "storm",
    "drought",
    "flood",
    "winter",
    "summer",
    "spring",
    "autumn",
    "lantern",
    "anchor",
    "compass",
    "ledger",
    "archive",
    "ballot",
    "charter",
    "treaty",
    "verdict",
    "tariff",
    "subsidy",
    "pension",
    "salary",
    "contract",
    "permit",
    "licence",
    "petition",
    "protest",
    "strike",
    "merger",
    "auction",
    "lottery",
    "census",
    "survey",
]


def _text(slug: str, version: int = 1) -> str:
    """An article's paragraphs: words drawn at random, seeded by slug and
    version, so that no two pages are near-duplicates of each other."""
    rng = random.Random(f"{slug}/{version}")
    sentences = [
        "The " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(9, 14))) + "."
        for _ in range(40)
    ]
    return "".join(f"<p>{' '.join(sentences[i : i + 4])}</p>" for i in range(0, 40, 4))


def _page(slug: str, version: int = 1, title: str | None = None) -> bytes:
    _, head, ld = PAGES.get(slug, ({}, "", {}))
    title = title or f"Rights story {slug}"
    data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title, **ld}
    anchor = f'<p class="licence"><a href="{CC_BY_NC}">Some rights reserved</a></p>'
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>{head}'
        f'<script type="application/ld+json">{json.dumps(data)}</script></head><body>'
        f"<article><h1>{title}</h1>{_text(slug, version)}"
        f'<div class="paywall"><p>Subscriber part.</p></div></article>'
        f"{anchor if slug == 'license-cc-anchor' else ''}</body></html>"
    )
    return body.encode()


class RightsSite:
    """The signals' pages on ``HOST``; a copy of one of them on ``COPY_HOST``."""

    def __init__(self, site: SiteServer) -> None:
        self.site = site
        self.versions: dict[str, int] = {}
        self.titles: dict[str, str] = {}
        site.route("/robots.txt", self._robots)
        site.route("/.well-known/tdmrep.json", self._tdmrep)
        site.route("/r/feed.xml", self._feed)
        site.route("/c/feed.xml", self._copy_feed)
        site.route("/c/copy", lambda _: Reply(200, {"Content-Type": "text/html"}, _copy()))
        for slug, (headers, _, _) in PAGES.items():
            site.route(f"/r/{slug}", self._handler(slug, headers))

    def url(self, slug: str) -> str:
        return self.site.url(f"/r/{slug}", host=HOST)

    def _robots(self, req: RequestInfo) -> Reply:
        return (
            Reply(200, {"Content-Type": "text/plain"}, ROBOTS.encode())
            if req.host == HOST
            else Reply(404)
        )

    def _tdmrep(self, req: RequestInfo) -> Reply:
        if req.host == HOST:
            return Reply(200, {"Content-Type": "application/json"}, TDMREP.encode())
        return Reply(404, {"Content-Type": "text/html"}, b"not here")

    def _handler(self, slug: str, headers: dict[str, str]) -> Any:
        def page(_: RequestInfo) -> Reply:
            body = _page(slug, self.versions.get(slug, 1), self.titles.get(slug))
            return Reply(200, {"Content-Type": "text/html; charset=utf-8", **headers}, body)

        return page

    def _feed(self, _: RequestInfo) -> Reply:
        items = "".join(
            f"<item><title>{self.titles.get(slug, f'Rights story {slug}')}</title>"
            f"<link>{self.url(slug)}</link><description>Summary of {slug}.</description></item>"
            for slug in PAGES
        )
        feed = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Rights</title>'
            f"{items}</channel></rss>"
        )
        return Reply(200, {"Content-Type": "application/rss+xml"}, feed.encode())

    def _copy_feed(self, _: RequestInfo) -> Reply:
        link = self.site.url("/c/copy", host=COPY_HOST)
        feed = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Copy</title>'
            f"<item><title>A copy</title><link>{link}</link></item></channel></rss>"
        )
        return Reply(200, {"Content-Type": "application/rss+xml"}, feed.encode())

    def registry(self) -> Registry:
        r, c = self.site.url("/r", host=HOST), self.site.url("/c", host=COPY_HOST)
        return parse_registry(
            tomllib.loads(
                '[[sources]]\nid = "rights-news"\nname = "Rights News"\nkind = "publisher"\n'
                f'homepage = "{r}/"\ndomains = ["{HOST}"]\nfeeds = ["{r}/feed.xml"]\n\n'
                '[[sources]]\nid = "copy-news"\nname = "Copy News"\nkind = "publisher"\n'
                f'homepage = "{c}/"\ndomains = ["{COPY_HOST}"]\nfeeds = ["{c}/feed.xml"]\n'
            )
        )


def _copy() -> bytes:
    """The meta-noarchive story republished by another source, without any signal."""
    return _page("meta-noarchive").replace(b'<meta name="robots" content="noarchive">', b"")


@pytest.fixture
def rights_site(site: SiteServer) -> RightsSite:
    return RightsSite(site)


@pytest.fixture
def rights_settings(settings: Settings) -> Settings:
    return replace(settings, resolve={HOST: "127.0.0.1", COPY_HOST: "127.0.0.1"})


def _rows(settings: Settings) -> dict[str, dict[str, Any]]:
    result = read.query(
        settings.warehouse,
        "SELECT url, reuse, rights, body_status, length(body) AS body_chars, provenance, "
        "cluster_id, content_hash, word_count FROM articles",
    )
    out = {}
    for row in result.rows:
        item = dict(zip(result.columns, row, strict=True))
        key = item["url"].split("/r/", 1)[1] if "/r/" in item["url"] else "copy"
        out[key] = item
    return out


def test_each_signal_lands_in_its_column(
    rights_site: RightsSite, rights_settings: Settings
) -> None:
    run_once(rights_settings, rights_site.registry())
    rows = _rows(rights_settings)
    assert set(rows) == {*PAGES, "copy"}
    r = {slug: row["rights"] for slug, row in rows.items()}
    reuse = {slug: row["reuse"] for slug, row in rows.items()}
    assert reuse["plain"] == "unknown" and r["plain"]["x_robots_tag"] == []
    assert r["x-robots-noai"]["x_robots_tag"] == ["noai", "noimageai"]
    assert reuse["x-robots-noai"] == "reserved"
    assert (
        r["x-robots-other-bot"]["x_robots_tag"] == [] and reuse["x-robots-other-bot"] == "unknown"
    )
    assert r["meta-noarchive"]["robots_meta"] == ["noarchive"]
    assert reuse["meta-noarchive"] == "reserved"
    assert (r["tdm-header"]["tdm_reservation"], r["tdm-header"]["tdm_source"]) == (1, "header")
    assert r["tdm-header"]["tdm_policy"] == TDM_POLICY
    assert (r["tdm-meta"]["tdm_reservation"], r["tdm-meta"]["tdm_source"]) == (1, "meta")
    assert (r["reserved/by-file"]["tdm_reservation"], r["reserved/by-file"]["tdm_source"]) == (
        1,
        "tdmrep.json",
    )
    assert r["reserved/by-file"]["tdm_policy"] == TDM_POLICY
    # the file's rule outranks the page's own meta tag (TDMRep's order)
    assert (r["open/by-file"]["tdm_reservation"], r["open/by-file"]["tdm_source"]) == (
        0,
        "tdmrep.json",
    )
    assert reuse["open/by-file"] == "unknown"
    assert r["ai/blocked"]["ai_disallowed"] == ["GPTBot"] and reuse["ai/blocked"] == "reserved"
    assert r["plain"]["ai_disallowed"] == []
    assert r["paywall"]["accessible_for_free"] is False
    assert r["paywall"]["paywalled_parts"] == [".paywall"]
    assert r["plain"]["accessible_for_free"] is None
    assert (r["license-jsonld"]["license"], r["license-jsonld"]["license_source"]) == (
        CC_BY,
        "jsonld",
    )
    assert (r["license-link"]["license"], r["license-link"]["license_source"]) == (CC_BY_SA, "link")
    assert (r["license-cc-anchor"]["license"], r["license-cc-anchor"]["license_source"]) == (
        CC_BY_NC,
        "cc-link",
    )
    assert (r["license-header"]["license"], r["license-header"]["license_source"]) == (
        CC_BY,
        "link",
    )
    assert {reuse[s] for s in ("license-jsonld", "license-link", "license-cc-anchor")} == {"open"}
    # recorded, not enforced: every body is stored by default
    assert {row["body_status"] for row in rows.values()} == {"page"}
    assert min(row["body_chars"] for row in rows.values()) > 500
    # tdmrep.json asked once per origin, and cached for the next run
    assert rights_site.site.count("/.well-known/tdmrep.json") == 2
    run_once(rights_settings, rights_site.registry())
    assert rights_site.site.count("/.well-known/tdmrep.json") == 2
    cached = read.query(
        rights_settings.warehouse, "SELECT origin, outcome FROM tdmrep ORDER BY origin"
    ).rows
    assert [o for _, o in cached] == ["missing", "ok"]


def test_withholding_keeps_metadata_and_story_but_no_text_or_raw_page(
    rights_site: RightsSite, rights_settings: Settings
) -> None:
    settings = replace(rights_settings, withhold_reserved=True)
    run_once(settings, rights_site.registry())
    rows = _rows(settings)
    withheld = {s for s, row in rows.items() if row["body_status"] == "withheld"}
    # noarchive and TDM reserved opt out of archiving; noai or AI crawlers alone do not
    assert withheld == {"meta-noarchive", "tdm-header", "tdm-meta", "reserved/by-file"}
    for slug in withheld:
        assert rows[slug]["body_chars"] == 0
        assert rows[slug]["word_count"] > 100  # counted before the text was dropped
        assert rows[slug]["provenance"]["raw_sha256"]  # the page's hash is known ...
    raw = {
        url.split("/r/", 1)[1]
        for (url,) in read.query(settings.warehouse, "SELECT url FROM raw_pages").rows
        if "/r/" in url
    }
    assert raw == set(PAGES) - withheld  # ... but it is not in the archive
    for slug in withheld:
        sha = rows[slug]["provenance"]["raw_sha256"]
        assert not any(settings.raw_path.rglob(f"{sha}*"))
    reasons = dict(
        read.query(
            settings.warehouse,
            "SELECT url, body_reason FROM articles WHERE body_status = 'withheld'",
        ).rows
    )
    assert reasons[rights_site.url("meta-noarchive")] == (
        "publisher opted out of archiving: noarchive (robots meta)"
    )
    # the fingerprint, computed before the body was dropped, joins the copy to its story
    assert rows["copy"]["cluster_id"] == rows["meta-noarchive"]["cluster_id"]
    story = rows["copy"]["cluster_id"]
    assert {s for s, row in rows.items() if row["cluster_id"] == story} == {
        "meta-noarchive",
        "copy",
    }
    assert rows["copy"]["body_chars"] > 500
    # a re-run doubles nothing and keeps them withheld
    run_once(settings, rights_site.registry())
    again = _rows(settings)
    assert len(again) == len(rows)
    assert {s for s, row in again.items() if row["body_status"] == "withheld"} == withheld


def test_export_respecting_rights_redacts_or_omits_what_is_reserved(
    rights_site: RightsSite, rights_settings: Settings, tmp_path: Path
) -> None:
    run_once(rights_settings, rights_site.registry())
    day = read.query(
        rights_settings.warehouse, "SELECT max(first_seen_at)::DATE FROM articles"
    ).rows[0][0]
    reserved = {
        url
        for (url,) in read.query(
            rights_settings.warehouse, "SELECT url FROM articles WHERE reuse = 'reserved'"
        ).rows
    }
    assert len(reserved) == 6  # noai, noarchive, TDM by header, meta and file, GPTBot

    def exported(mode: export.RightsMode) -> dict[str, dict[str, Any]]:
        out = tmp_path / mode
        spec = export.ExportSpec(since=day, until=day, rights=mode, partition="source")
        export.export(rights_settings.warehouse, out, spec)
        rows = [
            json.loads(line)
            for f in sorted(out.glob("articles/*/data.jsonl"))
            for line in f.read_text().splitlines()
        ]
        assert json.loads((out / "manifest.json").read_text())["filters"]["respect_rights"] == mode
        return {r["url"]: r for r in rows}

    everything = exported("all")
    assert len(everything) == len(PAGES) + 1
    assert all(everything[u]["body"] for u in reserved)
    redacted = exported("redact")
    assert set(redacted) == set(everything)
    for url, row in redacted.items():
        if url in reserved:
            assert row["body"] is None and row["description"] is None
            assert row["title"] and row["rights"] is not None  # metadata and evidence stay
        else:
            assert row["body"] == everything[url]["body"]
    assert set(exported("omit")) == set(everything) - reserved
    sheet = (tmp_path / "omit" / "datasheet.md").read_text()
    assert "Rights: articles whose publisher reserved their reuse are left out" in sheet
    assert "| unknown | " in sheet and "| reserved |" not in sheet
    assert "| reserved | 6 |" in (tmp_path / "all" / "datasheet.md").read_text()


def test_explain_tells_the_whole_history_of_a_row(
    rights_site: RightsSite, rights_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = rights_site.registry()
    run_once(rights_settings, registry)
    # the publisher rewrites the story and its headline: a revision
    rights_site.versions["license-jsonld"] = 2
    rights_site.titles["license-jsonld"] = "Rights story rewritten"
    run_once(rights_settings, registry)
    url = rights_site.url("license-jsonld")
    found = explain.explain(rights_settings.warehouse, url)
    assert found.article["provenance"]["found_via"] == "feed"
    assert found.article["provenance"]["found_in"] == found.article["feed_id"]
    assert found.article["provenance"]["extraction"].startswith("fast: fast=True")
    assert [r["revision"] for r in found.revisions] == [1]
    assert set(found.revisions[0]["changed"].split(",")) >= {"title", "body"}
    text = explain.render(found)
    for expected in (
        found.article["article_id"],
        f"via feed {found.article['feed_id']} ({rights_site.site.url('/r/feed.xml', host=HOST)})",
        f"{url}: ok HTTP 200",  # its fetches
        "archived",  # its raw pages
        f"extractor {found.article['extractor']}: fast",  # extractor and settings
        "metadata sources: ",
        "title=",
        "reuse: open",
        f"licence: {CC_BY}",
        "revisions (1)",
        "#1 ",
        "Rights story rewritten",
    ):
        assert expected in text, expected
    # the command: by id or URL, as text or JSON; an unknown key is one clear error
    monkeypatch.setenv("INGEST_WAREHOUSE", str(rights_settings.warehouse))
    runner = CliRunner()
    by_id = runner.invoke(app, ["explain", found.article["article_id"]])
    assert by_id.exit_code == 0, by_id.output
    assert "revisions (1)" in by_id.output
    as_json = runner.invoke(app, ["explain", url, "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["article"]["article_id"] == found.article["article_id"]
    missing = runner.invoke(app, ["explain", "https://nowhere.test/x"])
    assert missing.exit_code == 1
    assert "no article has the id or URL" in missing.output
