"""Completeness alerts on simulated weeks of history (a real warehouse, the
clock given to each evaluation): each kind opens within one expected interval
of its condition, closes when it clears, and stays quiet on a normal weekend
dip and without enough history; `ingest status --problems/--check` show them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest import alerts
from ingest.cli import app
from ingest.store import connection

MONDAY = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class World:
    """A warehouse filled with synthetic history, evaluated at chosen times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.n = 0

    def feed(self, feed_id: str, source: str) -> None:
        with connection.writer(self.path) as con:
            con.execute(
                "INSERT INTO feeds (feed_id, source_id, url, registry_url) VALUES (?, ?, ?, ?)",
                [feed_id, source, f"https://{source}.example/{feed_id}", feed_id],
            )

    def articles(
        self,
        source: str,
        times: list[datetime],
        *,
        status: str = "page",
        wire: str | None = None,
        feed: str | None = None,
    ) -> None:
        rows = []
        for t in times:
            self.n += 1
            rows.append((f"a{self.n}", source, t, status, wire, feed))
        with connection.writer(self.path) as con:
            con.executemany(
                "INSERT INTO articles (article_id, canonical_url, url, source_id, body, "
                "word_count, content_hash, cluster_id, extractor, first_seen_at, last_seen_at, "
                "body_status, wire_service) "
                "VALUES (?, 'u' || ?, 'u' || ?, ?, 'b', 1, ?, ?, 'x', ?, ?, ?, ?)",
                [(a, a, a, s, a, a, t, t, st, w) for a, s, t, st, w, _ in rows],
            )
            with_feed = [(a, f, s, t, f"run-{t:%Y%m%d%H}") for a, s, t, _, _, f in rows if f]
            if with_feed:
                con.executemany(
                    "INSERT INTO sightings (article_id, feed_id, source_id, seen_at, run_id) "
                    "VALUES (?, ?, ?, ?, ?)",
                    with_feed,
                )

    def fetch(self, feed: str, at: datetime, kind: str = "feed", status: int = 200) -> None:
        with connection.writer(self.path) as con:
            con.execute(
                "INSERT INTO fetch_log (run_id, url, kind, status, outcome, fetched_at, feed_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [f"run-{at:%Y%m%d%H}", f"https://x/{feed}/{at:%H%M%S}", kind, status,
                 "ok" if status < 400 else "error", at, feed],
            )  # fmt: skip

    def evaluate(self, now: datetime) -> list[alerts.Change]:
        with connection.writer(self.path) as con, connection.transaction(con):
            return alerts.evaluate(con, now)

    def open(self) -> set[tuple[str, str]]:
        with connection.writer(self.path) as con:
            rows = con.execute("SELECT kind, subject FROM alerts WHERE closed_at IS NULL")
            return {(k, s) for k, s in rows.fetchall()}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "wh.duckdb")


def weekday_rhythm(start: datetime, days: int) -> list[datetime]:
    """Every 2 hours from 06:00 to 22:00 on weekdays; at 10:00 and 18:00 on weekends."""
    out = []
    for d in range(days):
        day = start + d * DAY
        hours = range(6, 23, 2) if day.weekday() < 5 else (10, 18)
        out += [day + h * HOUR for h in hours]
    return out


def test_silent_source_opens_after_three_usual_gaps_and_closes_when_articles_return(
    world: World,
) -> None:
    history = weekday_rhythm(MONDAY, 21)  # three weeks, Monday to Sunday
    world.articles("daily", history)
    last = history[-1]  # Sunday 18:00; the usual Monday rhythm follows
    # a normal weekend: Saturday evening to Sunday morning is a usual gap
    assert world.evaluate(datetime(2026, 10, 25, 9, tzinfo=UTC)) == []
    assert world.open() == set()
    # Monday: articles every 2 hours are usual; nothing since Sunday 18:00
    monday = last + DAY - 12 * HOUR  # Monday 06:00
    world.articles("daily", [monday + 2 * HOUR * i for i in range(3)])  # to 10:00
    assert world.evaluate(monday + 6 * HOUR) == []  # 16:00? no: 12:00, 2 h late is fine
    changes = world.evaluate(monday + 11 * HOUR)  # 17:00: 7 h of silence on a weekday
    assert [(c.action, c.kind, c.subject) for c in changes] == [
        ("opened", "silent_source", "daily")
    ]
    assert changes[0].evidence["usual_gap_hours"] == 2.0
    # still silent: the same alert stays open, nothing new opens
    assert world.evaluate(monday + 12 * HOUR) == []
    world.articles("daily", [monday + 13 * HOUR])
    closed = world.evaluate(monday + 13 * HOUR + 10 * 60 * timedelta(seconds=1))
    assert [(c.action, c.kind) for c in closed] == [("closed", "silent_source")]
    assert world.open() == set()


def test_no_alert_without_two_weeks_of_history(world: World) -> None:
    world.articles("young", weekday_rhythm(MONDAY, 10))
    assert world.evaluate(MONDAY + 12 * DAY) == []


def test_empty_feed_after_three_polls_without_items(world: World) -> None:
    world.feed("f1", "paper")
    start = MONDAY
    for i in range(20):  # polls that bring items
        at = start + i * HOUR
        world.fetch("f1", at)
        world.articles("paper", [at], feed="f1")
    t = start + 20 * HOUR
    for i in range(2):
        world.fetch("f1", t + i * HOUR)
    assert world.evaluate(t + 2 * HOUR) == []  # two empty polls: not yet
    world.fetch("f1", t + 2 * HOUR)
    changes = world.evaluate(t + 2 * HOUR + 60 * timedelta(seconds=1))
    assert [(c.action, c.kind, c.subject) for c in changes] == [("opened", "empty_feed", "f1")]
    world.fetch("f1", t + 3 * HOUR)
    world.articles("paper", [t + 3 * HOUR], feed="f1")
    assert [c.action for c in world.evaluate(t + 3 * HOUR + HOUR / 2)] == ["closed"]


def test_fallback_jump_and_error_jump(world: World) -> None:
    world.feed("f1", "paper")
    days = 15
    for d in range(days):
        day = MONDAY + d * DAY
        times = [day + h * HOUR for h in range(8, 20)]
        world.articles("paper", times[:11])
        world.articles("paper", times[11:], status="provisional")  # 1 in 12 usual
        for t in times:
            world.fetch("f1", t, kind="page", status=200 if t.hour != 9 else 503)
    now = MONDAY + days * DAY
    assert world.evaluate(now) == []
    # the next day: half the bodies are the feed's text, half the pages fail
    times = [now + h * HOUR for h in range(8, 20)]
    world.articles("paper", times[:6])
    world.articles("paper", times[6:], status="provisional")
    for i, t in enumerate(times):
        world.fetch("f1", t, kind="page", status=200 if i % 2 else 502)
    changes = world.evaluate(now + 20 * HOUR)
    kinds = sorted(c.kind for c in changes if c.action == "opened")
    assert kinds == ["error_jump", "fallback_jump"], changes
    evidence = next(c.evidence for c in changes if c.kind == "fallback_jump")
    assert evidence["share_24h"] == 0.5 and evidence["count_24h"] == 12


def test_wire_share_shift(world: World) -> None:
    for w in range(5):
        week = MONDAY + w * 7 * DAY
        times = [week + i * 12 * HOUR for i in range(14)]
        world.articles("paper", times[:3], wire="ap")  # about a fifth from the wire
        world.articles("paper", times[3:])
    now = MONDAY + 35 * DAY
    assert world.evaluate(now) == []
    week = [now + i * 12 * HOUR for i in range(14)]
    world.articles("paper", week[:12], wire="ap")  # now nearly all
    world.articles("paper", week[12:])
    changes = world.evaluate(now + 7 * DAY)
    assert [(c.kind, c.subject) for c in changes] == [("wire_share_shift", "paper")]


def test_status_problems_and_check(world: World, tmp_path: Path) -> None:
    world.articles("daily", weekday_rhythm(MONDAY, 21))
    world.evaluate(MONDAY + 25 * DAY)  # four days of silence
    runner = CliRunner()
    base = ["--warehouse", str(world.path), "status"]
    check = runner.invoke(app, [*base, "--check"])
    assert check.exit_code == 3 and "alerts: 1 open" in check.output
    problems = runner.invoke(app, [*base, "--problems"])
    assert problems.exit_code == 0 and problems.output.startswith("silent_source daily since ")
    data = json.loads(runner.invoke(app, [*base, "--json"]).output)
    assert data["alerts"][0]["kind"] == "silent_source" and data["healthy"] is False
    # the report shows it too
    from ingest import report

    report.write_report(world.path, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<td>silent_source</td><td>daily</td>" in page
