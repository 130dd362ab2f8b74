"""The source registry: the shipped file is valid, bad files fail clearly, OPML round-trips."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ingest.registry import (
    RegistryError,
    dump_registry,
    export_opml,
    import_opml,
    load_registry,
    parse_registry,
)
from ingest.settings import default_sources_path


def test_shipped_registry_is_valid_and_broad() -> None:
    reg = load_registry(default_sources_path())
    assert len(reg) >= 40
    kinds = {s.kind for s in reg}
    assert {"publisher", "wire"} <= kinds
    assert len({s.language for s in reg if s.language}) >= 4
    assert len({s.country for s in reg if s.country}) >= 8
    for wire_id in ("ap", "reuters", "afp"):
        wire = reg.get(wire_id)
        assert wire is not None and wire.kind == "wire" and wire.credits
    for name in (
        "BBC",
        "NPR",
        "Guardian",
        "Al Jazeera",
        "Al-Monitor",
        "Deutsche Welle",
        "France 24",
        "Times of India",
        "ABC",
        "CBC",
    ):
        assert any(name.lower() in s.name.lower() for s in reg), name
    assert reg.owner_of("www.bbc.co.uk") is not None


def _one(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "ex",
        "name": "Ex",
        "kind": "publisher",
        "homepage": "https://ex.com",
        "domains": ["ex.com"],
        "feeds": ["https://ex.com/rss"],
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ([_one(colour="red")], "unknown keys colour"),
        ([_one(), _one(domains=["other.com"], feeds=[])], "duplicate id"),
        ([_one(feeds=["ftp://ex.com/rss"])], "not a valid http(s) URL"),
        ([_one(kind="blog")], "kind 'blog'"),
        ([_one(id="Not A Slug")], "slug"),
        ([_one(), _one(id="ex2", feeds=[])], "already belongs to ex"),
        ([_one(credits=["AP"])], "wire"),
        ([{"id": "x"}], "missing"),
    ],
)
def test_invalid_registry_says_why(sources: list[dict[str, object]], message: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_registry({"sources": sources}, "test.toml")
    assert message in str(info.value)
    assert "test.toml" in str(info.value)


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(RegistryError) as info:
        parse_registry({"sources": [_one(colour="x", kind="blog", feeds=["nope"])]})
    assert len(info.value.problems) >= 3


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "s.toml"
    bad.write_text("[[sources]\nid=", encoding="utf-8")
    with pytest.raises(RegistryError, match="not valid TOML"):
        load_registry(bad)
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "missing.toml")


def test_dump_round_trips() -> None:
    reg = load_registry(default_sources_path())
    again = parse_registry(tomllib.loads(dump_registry(reg)))
    assert again.sources == reg.sources


def test_opml_export_import_round_trip() -> None:
    reg = load_registry(default_sources_path())
    opml = export_opml(reg).encode()
    merged, notes = import_opml(opml, None)
    feeds_in = sorted(u for s in reg for u in s.feeds)
    assert sorted(u for s in merged for u in s.feeds) == feeds_in
    # grouped by registered domain: never more sources than the registry had
    assert len(merged) <= len([s for s in reg if s.feeds])
    # importing into the same registry adds nothing
    again, notes = import_opml(opml, reg)
    assert again == list(reg.sources)
    assert all(n.startswith("already known") for n in notes)


def test_opml_import_groups_by_domain() -> None:
    opml = b"""<?xml version="1.0"?><opml version="2.0"><head/><body>
      <outline text="Tech"><outline type="rss" text="Ex World" xmlUrl="https://feeds.ex.co.uk/world"
        htmlUrl="https://www.ex.co.uk/"/>
      <outline type="rss" text="Ex Sport" xmlUrl="https://feeds.ex.co.uk/sport" htmlUrl="https://sport.ex.co.uk/"/>
      <outline type="rss" text="Bad" xmlUrl="javascript:alert(1)"/>
      <outline type="rss" text="Other" xmlUrl="https://other.org/feed"/></outline></body></opml>"""
    merged, notes = import_opml(opml, None)
    by_domain = {s.domains[0]: s for s in merged}
    assert set(by_domain) == {"ex.co.uk", "other.org"}
    assert len(by_domain["ex.co.uk"].feeds) == 2
    assert any("skipped" in n for n in notes)
    parse_registry(tomllib.loads(dump_registry(merged)))  # the result is a valid registry


def test_opml_garbage() -> None:
    with pytest.raises(RegistryError, match="not valid XML"):
        import_opml(b"<opml><body>", None)
