"""Arriving from a feed reader: an OPML export (Miniflux-style, with
categories, a feed on a feed domain, two blogs under one private suffix)
imported into a new registry and into the shipped one; the registry file
keeps its comments and order when written back."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ingest.cli import app
from ingest.registry import import_opml, load_registry, write_registry
from ingest.settings import default_sources_path

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Miniflux</title><dateCreated>Mon, 30 Nov 2026 10:00:00 GMT</dateCreated></head>
  <body>
    <outline text="World news">
      <outline title="BBC News - World" text="BBC News - World"
               xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"
               htmlUrl="https://www.bbc.co.uk/news/world" type="rss"/>
      <outline title="Le Monde" text="Le Monde" xmlUrl="https://www.lemonde.fr/rss/une.xml"
               htmlUrl="https://www.lemonde.fr/" type="rss"/>
    </outline>
    <outline text="Blogs">
      <outline text="Ana's notes" xmlUrl="https://ana-notes.blogspot.com/feeds/posts/default"
               htmlUrl="https://ana-notes.blogspot.com/" type="rss"/>
      <outline text="Ben writes" xmlUrl="https://benwrites.blogspot.com/feeds/posts/default"
               htmlUrl="https://benwrites.blogspot.com/" type="rss"/>
    </outline>
    <outline text="Tagesschau" xmlUrl="https://www.tagesschau.de/xml/rss2"
             htmlUrl="https://www.tagesschau.de/" category="/Germany/Public broadcasters"/>
    <outline text="broken" xmlUrl="not a url"/>
  </body>
</opml>
"""


def test_a_new_registry_from_an_opml_alone() -> None:
    sources, notes = import_opml(OPML)
    by_domain = {s.domains[0]: s for s in sources}
    assert set(by_domain) == {
        "bbc.co.uk",
        "lemonde.fr",
        "ana-notes.blogspot.com",
        "benwrites.blogspot.com",
        "tagesschau.de",
    }
    # the feed on feeds.bbci.co.uk belongs to the site its htmlUrl names
    assert by_domain["bbc.co.uk"].feeds == ("https://feeds.bbci.co.uk/news/world/rss.xml",)
    # two blogs under a private suffix stay two sources, with distinct ids
    blogs = [by_domain["ana-notes.blogspot.com"], by_domain["benwrites.blogspot.com"]]
    assert len({b.source_id for b in blogs}) == 2
    assert all(b.tags == ("Blogs",) for b in blogs)
    assert by_domain["lemonde.fr"].tags == ("World news",)
    assert by_domain["tagesschau.de"].tags == ("Germany", "Public broadcasters")
    assert any("skipped 'not a url'" in n for n in notes)


def test_into_the_shipped_registry_feeds_join_their_sources(tmp_path: Path) -> None:
    shipped = load_registry(default_sources_path())
    sources, notes = import_opml(OPML, shipped)
    by_id = {s.source_id: s for s in sources}
    bbc = next(s for s in shipped if "bbc.co.uk" in s.domains)
    assert "https://feeds.bbci.co.uk/news/world/rss.xml" in by_id[bbc.source_id].feeds or (
        any("already known" in n and "bbci" in n for n in notes)
    )
    assert len(sources) > len(shipped)  # the blogs at least are new


def test_writing_back_keeps_comments_and_order(tmp_path: Path) -> None:
    registry = tmp_path / "sources.toml"
    registry.write_text(
        "# My sources: curated by the data desk\n\n"
        "[[sources]]\n"
        'id = "lemonde"  # the paper of record\n'
        'name = "Le Monde"\n'
        'kind = "publisher"\n'
        'homepage = "https://www.lemonde.fr/"\n'
        'domains = ["lemonde.fr"]\n'
        'feeds = ["https://www.lemonde.fr/rss/en_continu.xml"]\n'
        "\n"
        "# wires below\n",
        encoding="utf-8",
    )
    sources, _ = import_opml(OPML, load_registry(registry))
    text = write_registry(registry, sources)
    assert text.startswith("# My sources: curated by the data desk\n")
    assert 'id = "lemonde"  # the paper of record' in text and "# wires below" in text
    again = load_registry(registry)
    lemonde = again.get("lemonde")
    assert lemonde is not None and lemonde.feeds == (
        "https://www.lemonde.fr/rss/en_continu.xml",
        "https://www.lemonde.fr/rss/une.xml",
    )
    assert lemonde.tags == ("World news",)
    assert next(s.source_id for s in again) == "lemonde"  # order kept, new ones after
    assert len(again) == 5


def test_sources_import_command(tmp_path: Path) -> None:
    runner = CliRunner()
    opml = tmp_path / "miniflux.opml"
    opml.write_bytes(OPML)
    new = tmp_path / "new.toml"
    result = runner.invoke(app, ["sources", "import", str(opml), "--new", "--output", str(new)])
    assert result.exit_code == 0, result.output
    assert len(load_registry(new)) == 5
    again = runner.invoke(app, ["sources", "import", str(opml), "--new", "--output", str(new)])
    assert again.exit_code == 2 and "exists" in again.output
    no_output = runner.invoke(app, ["sources", "import", str(opml), "--new"])
    assert no_output.exit_code == 2
    # into the shipped registry: written to another file, with the shipped comments
    target = tmp_path / "mine.toml"
    merged = runner.invoke(app, ["sources", "import", str(opml), "--output", str(target)])
    assert merged.exit_code == 0, merged.output
    shipped_head = default_sources_path().read_text(encoding="utf-8").splitlines()[0]
    assert target.read_text(encoding="utf-8").splitlines()[0] == shipped_head
    assert len(load_registry(target)) > len(load_registry(default_sources_path()))
