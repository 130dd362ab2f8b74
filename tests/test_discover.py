"""`ingest sources add URL`: a site's feeds and sitemaps found from its
homepage on the loopback news site (declared feeds, probed common paths,
robots.txt Sitemap: lines), shown, and written as a registry entry."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.clitools import cli_env
from typer.testing import CliRunner

from ingest.cli import app
from ingest.demo.server import Reply, RequestInfo, SiteServer
from ingest.discover import discover
from ingest.registry import Registry, dump_registry, load_registry
from ingest.settings import Settings

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Plain</title>'
    b"<link>http://x/</link><description>d</description><item><title>One</title>"
    b"<link>http://x/1</link></item></channel></rss>"
)


def publisher(registry: Registry) -> tuple[str, str]:
    source = next(s for s in registry if s.kind == "publisher" and s.feeds)
    return source.homepage, source.feeds[0]


def test_declared_feeds_and_robots_sitemaps(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    homepage, feed = publisher(registry)
    origin = homepage.split("/", 3)[:3]
    sitemap = "/".join(origin) + "/sitemap-news.xml"
    site.route(
        "/robots.txt",
        lambda _: Reply(200, {"Content-Type": "text/plain"}, f"Sitemap: {sitemap}\n".encode()),
    )
    found = asyncio.run(discover(homepage, settings))
    assert found.feeds == (feed,)
    assert found.sitemaps == (sitemap,)
    assert found.name and found.domain in homepage and found.language


def test_common_paths_are_probed_when_the_page_declares_nothing(
    site: SiteServer, settings: Settings, registry: Registry
) -> None:
    homepage, _ = publisher(registry)
    root = "/".join(homepage.split("/", 3)[:3])

    def bare(_: RequestInfo) -> Reply:
        page = b"<html lang='de'><head><title>Plain News | Home</title></head><body>x</body></html>"
        return Reply(200, {"Content-Type": "text/html"}, page)

    site.route("/plain/", bare)
    site.route("/rss.xml", lambda _: Reply(200, {"Content-Type": "application/rss+xml"}, RSS))
    site.route("/feed", lambda _: Reply(200, {"Content-Type": "text/html"}, b"<html>no</html>"))
    found = asyncio.run(discover(root + "/plain/", settings))
    assert found.feeds == (root + "/rss.xml",)
    assert found.name == "Plain News" and found.language == "de"
    assert any("not a feed" in note and note.endswith("/feed") for note in found.notes)


def test_sources_add_command(site: SiteServer, registry: Registry, tmp_path: Path) -> None:
    homepage, feed = publisher(registry)
    others = [s for s in registry if s.homepage != homepage]
    mine = tmp_path / "mine.toml"
    mine.write_text("# my sources\n" + dump_registry(others), encoding="utf-8")
    env = cli_env(site, tmp_path / "home", INGEST_SOURCES=str(mine))
    runner = CliRunner()
    dry = runner.invoke(app, ["sources", "add", homepage, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert feed in dry.output and "would add source" in dry.output
    assert len(load_registry(mine)) == len(others)
    added = runner.invoke(app, ["sources", "add", homepage], env=env)
    assert added.exit_code == 0, added.output
    after = load_registry(mine)
    assert len(after) == len(others) + 1
    new = next(s for s in after if feed in s.feeds)
    assert new.homepage.rstrip("/") == homepage.rstrip("/") and new.kind == "publisher"
    assert mine.read_text(encoding="utf-8").startswith("# my sources\n")
    again = runner.invoke(app, ["sources", "add", homepage], env=env)
    assert again.exit_code == 1 and "already belongs to source" in again.output
    bad = runner.invoke(app, ["sources", "add", "not a url"], env=env)
    assert bad.exit_code == 1 and "not a URL" in bad.output


def test_an_imported_feed_without_a_site_joins_the_site_of_its_articles(
    site: SiteServer, registry: Registry, tmp_path: Path
) -> None:
    """A feed served from one host whose items all link to another site (a feed
    host, a CDN) becomes that site's source when the OPML names no site."""
    publishers = [s for s in registry if s.kind == "publisher"]
    feed_host, article_site = publishers[0], publishers[1]
    items = "".join(
        f"<item><title>{i}</title><link>{article_site.homepage.rstrip('/')}/story/{i}</link></item>"
        for i in range(4)
    )
    rss = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    site.route(
        "/ext/feed.xml", lambda _: Reply(200, {"Content-Type": "application/rss+xml"}, rss.encode())
    )
    feed_url = feed_host.homepage.split("/", 3)[:3]
    feed = "/".join(feed_url) + "/ext/feed.xml"
    opml = tmp_path / "reader.opml"
    opml.write_text(
        f'<?xml version="1.0"?><opml version="2.0"><body><outline text="Mystery" xmlUrl="{feed}"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    env = cli_env(site, tmp_path / "home")
    out = tmp_path / "new.toml"
    result = CliRunner().invoke(
        app, ["sources", "import", str(opml), "--new", "--output", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    (only,) = load_registry(out).sources
    assert only.domains == article_site.domains and only.feeds == (feed,)
    # without fetching, the feed's own host decides
    offline = tmp_path / "offline.toml"
    CliRunner().invoke(
        app,
        ["sources", "import", str(opml), "--new", "--no-fetch", "--output", str(offline)],
        env=env,
    )
    (plain,) = load_registry(offline).sources
    assert plain.domains == feed_host.domains
