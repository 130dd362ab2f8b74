"""Feed fixtures: each file says what it is and what parsing it must give.

Like feedparser's own suite, every fixture carries ``Description:`` and
``Expect:`` in a header comment, and one parametrised test runs them all.
An expectation is ``path=value``, ``path>=n`` or ``path!=None``; ``first``
is the first entry, ``counts.X`` a parse counter.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.feeds import parse_feed
from ingest.records import ParsedFeed

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2026, 3, 10, tzinfo=UTC)
EXPECT = re.compile(rb"^Expect:\s*(.+)$", re.MULTILINE)
TERM = re.compile(r'([\w.]+)(>=|!=|=)("(?:[^"\\]|\\.)*"|\S+)')


def _value(parsed: ParsedFeed, path: str) -> Any:
    obj: Any = parsed
    for part in path.split("."):
        if part == "entries":
            obj = len(parsed.entries)
        elif part == "first":
            obj = parsed.entries[0]
        elif part == "counts":
            obj = parsed.counts
        elif isinstance(obj, dict):
            obj = obj.get(part, 0)
        else:
            obj = getattr(obj, part)
    return obj


def _literal(text: str) -> Any:
    if text == "None":
        return None
    if text in ("True", "False"):
        return text == "True"
    if text.startswith('"'):
        return json.loads(text)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.xml")), ids=lambda p: p.stem)
def test_feed_fixture(fixture: Path) -> None:
    data = fixture.read_bytes()
    match = EXPECT.search(data)
    assert match, f"{fixture.name} has no Expect: line"
    parsed = parse_feed(
        data,
        {},
        feed_id="f1",
        source_id="s1",
        base_url="https://news.example.com/feeds/atom.xml",
        max_items=100,
        now=NOW,
    )
    for path, op, raw in TERM.findall(match.group(1).decode("utf-8")):
        actual = _value(parsed, path)
        if isinstance(actual, datetime):
            actual = actual.isoformat()
        expected = _literal(raw)
        if op == "=":
            assert actual == expected, f"{path}: {actual!r} != {expected!r}"
        elif op == "!=":
            assert actual != expected, f"{path}: {actual!r} == {expected!r}"
        else:
            assert actual >= expected, f"{path}: {actual!r} < {expected!r}"


def test_item_cap_is_counted() -> None:
    items = "".join(
        f"<item><title>{i}</title><link>https://x.example.com/{i}</link></item>" for i in range(50)
    )
    body = f'<rss version="2.0"><channel><title>big</title>{items}</channel></rss>'.encode()
    parsed = parse_feed(
        body,
        {},
        feed_id="f",
        source_id="s",
        base_url="https://x.example.com/",
        max_items=10,
        now=NOW,
    )
    assert len(parsed.entries) == 10
    assert parsed.counts["items_over_cap"] == 40


@pytest.mark.parametrize("body", [b"", b"   \n", b"\x00\x01\x02garbage", b'{"json": true}'])
def test_garbage_never_raises(body: bytes) -> None:
    parsed = parse_feed(
        body,
        {"content-type": "application/rss+xml"},
        feed_id="f",
        source_id="s",
        base_url="https://x.example.com/",
        max_items=10,
        now=NOW,
    )
    assert not parsed.entries
    assert not parsed.is_feed
    assert parsed.problem


def test_charset_from_header() -> None:
    body = (
        '<rss version="2.0"><channel><title>t</title><item><title>Größe</title>'
        "<link>https://x.example.com/1</link></item></channel></rss>".encode("cp1252")
    )
    parsed = parse_feed(
        body,
        {"Content-Type": "application/rss+xml; charset=windows-1252"},
        feed_id="f",
        source_id="s",
        base_url="https://x.example.com/",
        max_items=10,
        now=NOW,
    )
    assert parsed.entries[0].title == "Größe"


def test_utf16_with_bom() -> None:
    text = (
        '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Ünïcode</title><link>https://x.example.com/u</link></item></channel></rss>"
    )
    parsed = parse_feed(
        text.encode("utf-16"),
        {},
        feed_id="f",
        source_id="s",
        base_url="https://x.example.com/",
        max_items=10,
        now=NOW,
    )
    assert parsed.entries[0].title == "Ünïcode"
