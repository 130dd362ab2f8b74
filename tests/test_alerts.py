"""Completeness alerts on simulated weeks of history (a real warehouse, the
clock given to each evaluation): each kind opens within one expected interval
of its condition, closes when it clears, and stays quiet on a normal weekend
dip, a holiday quiet across the collection, and without enough history;
`ingest status --problems/--check` show them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from ingest import alerts
from ingest.cli import app
from ingest.store import connection

MONDAY = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class World:
    """A warehouse filled with synthetic history, evaluated at chosen times."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.n = 0
        self.polled: set[str] = set()

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
        if source not in self.polled:  # a source of the registry: one of its feeds is polled
            self.polled.add(source)
            self.feed(f"{source}-feed", source)
        ids = [f"a{self.n + i + 1}" for i in range(len(times))]
        self.n += len(times)
        ts = pa.timestamp("us", tz="UTC")
        rows = pa.table(
            {
                "id": ids,
                "source": [source] * len(ids),
                "seen": pa.array(times, ts),
                "status": [status] * len(ids),
                "wire": pa.array([wire] * len(ids), pa.string()),
                "run": [f"run-{t:%Y%m%d%H}" for t in times],
            }
        )
        with connection.writer(self.path) as con:
            con.register("new_rows", rows)
            con.execute(
                "INSERT INTO articles (article_id, canonical_url, url, source_id, body, "
                "word_count, content_hash, cluster_id, extractor, first_seen_at, last_seen_at, "
                "body_status, wire_service) "
                "SELECT id, 'u' || id, 'u' || id, source, 'b', 1, id, id, 'x', seen, seen, "
                "status, wire FROM new_rows"
            )
            if feed:
                con.execute(
                    "INSERT INTO sightings (article_id, feed_id, source_id, seen_at, run_id) "
                    "SELECT id, ?, source, seen, run FROM new_rows",
                    [feed],
                )
            con.unregister("new_rows")

    def fetch(
        self,
        feed: str,
        at: datetime,
        kind: str = "feed",
        status: int = 200,
        entries: int | None = None,
    ) -> None:
        """A fetch of ``feed`` (a poll holding ``entries`` items) or of one of
        its pages, logged by the run of that hour."""
        self.pages(feed, [(at, status)], kind=kind, entries=entries)

    def pages(
        self,
        feed: str,
        answers: list[tuple[datetime, int]],
        kind: str = "page",
        entries: int | None = None,
    ) -> None:
        """Fetches of ``feed``'s pages: (when, HTTP status) each."""
        with connection.writer(self.path) as con:
            con.executemany(
                "INSERT INTO fetch_log (run_id, url, kind, status, outcome, fetched_at, feed_id, "
                "entries) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[f"run-{at:%Y%m%d%H}", f"https://x/{feed}/{at:%H%M%S}", kind, status,
                  "ok" if status < 400 else "error", at, feed, entries]
                 for at, status in answers],
            )  # fmt: skip

    def run(self, at: datetime, entries_new: int) -> None:
        """A poll run at ``at`` that read ``entries_new`` new feed entries."""
        with connection.writer(self.path) as con:
            con.execute(
                "INSERT INTO runs (run_id, flow, started_at, finished_at, status, counts) "
                "VALUES (?, 'ingest_feeds', ?, ?, 'completed', ?)",
                [f"poll-{at:%Y%m%d%H%M}", at, at, json.dumps({"entries_new": entries_new})],
            )

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


def rhythm(start: datetime, days: int, holidays: tuple[int, ...] = ()) -> list[datetime]:
    """Every 20 minutes from 06:00 to 21:40 on weekdays (48 a day); at 10:00,
    14:00 and 18:00 on weekends and on the ``holidays`` (day numbers)."""
    out = []
    for d in range(days):
        day = start + d * DAY
        if day.weekday() < 5 and d not in holidays:
            out += [day + 6 * HOUR + i * 20 * MINUTE for i in range(48)]
        else:
            out += [day + h * HOUR for h in (10, 14, 18)]
    return out


COLLECTION = ("daily", "b", "c", "d", "e")  # sources of the same rhythm


def test_silent_source_opens_when_its_usual_hours_pass_empty_and_closes_when_it_returns(
    world: World,
) -> None:
    for source in COLLECTION:
        world.articles(source, rhythm(MONDAY, 21))  # three weeks, Monday to Sunday
    # a normal weekend night: Saturday 18:00 to Sunday 09:00 is a usual gap
    assert world.evaluate(datetime(2026, 10, 25, 9, tzinfo=UTC)) == []
    monday = MONDAY + 21 * DAY
    day = rhythm(monday, 1)
    world.articles("daily", [t for t in day if t.hour < 10] + [monday + 10 * HOUR])
    for source in COLLECTION[1:]:
        world.articles(source, day)
    assert alerts.SILENT_FLOOR_HOURS == 12
    assert world.evaluate(monday + 16 * HOUR) == []  # 6 h: under the floor
    assert world.evaluate(monday + 21 * HOUR + 50 * MINUTE) == []  # 11 h 50 min
    changes = world.evaluate(monday + 22 * HOUR)  # 12 h; from 11:00 on, the usual 33
    assert [(c.action, c.kind, c.subject) for c in changes] == [
        ("opened", "silent_source", "daily")
    ]
    evidence = changes[0].evidence
    assert evidence["same_hours_weeks_before"] == [33, 33, 33]
    assert evidence["collection_ratio"] == 1.0 and evidence["expected_articles"] == 33.0
    assert world.evaluate(monday + 23 * HOUR) == []  # still silent: the same alert stays open
    world.articles("daily", [monday + 23 * HOUR + 10 * MINUTE])
    closed = world.evaluate(monday + 23 * HOUR + 20 * MINUTE)
    assert [(c.action, c.kind) for c in closed] == [("closed", "silent_source")]
    assert world.open() == set()


def test_a_holiday_quiet_across_the_collection_opens_no_alert(world: World) -> None:
    for source in COLLECTION:
        world.articles(source, rhythm(MONDAY, 21))
    tuesday = MONDAY + 22 * DAY  # a public holiday: every source at its weekend rhythm
    for source in COLLECTION:
        world.articles(source, rhythm(MONDAY + 21 * DAY, 2, holidays=(1,)))
    for hour in range(24):
        assert world.evaluate(tuesday + hour * HOUR + 59 * MINUTE) == [], hour
    # an ordinary Tuesday on which one source brings nothing: a silent source
    other = World(world.path.with_name("other.duckdb"))
    for source in COLLECTION:
        other.articles(source, rhythm(MONDAY, 21))
    other.articles("daily", rhythm(MONDAY + 21 * DAY, 1))
    for source in COLLECTION[1:]:
        other.articles(source, rhythm(MONDAY + 21 * DAY, 2))
    assert other.evaluate(tuesday + 9 * HOUR) == []  # 11 h 20 min
    opened = [c.subject for c in other.evaluate(tuesday + 9 * HOUR + 40 * MINUTE)]
    assert opened == ["daily"]


def test_a_source_that_publishes_in_one_daily_batch_is_not_silent_between_batches(
    world: World,
) -> None:
    """Its batch-mates of other weeks (minutes after the same hour) are not
    counted in the stretch after its last article."""

    def batch(day: datetime) -> list[datetime]:  # 20 articles, first seen within minutes
        late = (day - MONDAY).days < 28  # the weeks before: a poll 10 minutes later
        start = day + 7 * HOUR + (10 * MINUTE if late else timedelta(0))
        return [start + i * timedelta(seconds=9) for i in range(20)]

    for source in COLLECTION[1:]:
        world.articles(source, rhythm(MONDAY, 28))
    world.articles("daily", [t for d in range(28) for t in batch(MONDAY + d * DAY)])
    for d in range(28, 31):
        day = MONDAY + d * DAY
        world.articles("daily", batch(day))
        for source in COLLECTION[1:]:
            world.articles(source, rhythm(day, 1))
        for hour in range(8, 31, 2):  # from the batch to the next morning's
            assert world.evaluate(day + hour * HOUR) == [], (d, hour)


def test_a_source_no_feed_polls_any_more_is_not_silent(world: World) -> None:
    for source in COLLECTION:
        world.articles(source, rhythm(MONDAY, 21))
    with connection.writer(world.path) as con:
        con.execute("UPDATE feeds SET disabled = true WHERE source_id = 'daily'")
    for source in COLLECTION[1:]:
        world.articles(source, rhythm(MONDAY + 21 * DAY, 2))
    assert world.evaluate(MONDAY + 22 * DAY + 12 * HOUR) == []


def test_the_whole_collection_silent_is_one_alert_of_its_own(world: World) -> None:
    """When nothing at all comes in (a pipeline that loads nothing), the
    per-source rule sees every source as quiet as the rest; the collection
    rule opens."""
    for source in COLLECTION:
        world.articles(source, rhythm(MONDAY, 21))
    monday = MONDAY + 21 * DAY
    for hour in range(18):  # the runs poll, but read no new entry: a quiet day, no alert
        world.run(monday + hour * HOUR, entries_new=0)
    assert world.evaluate(monday + 18 * HOUR) == []
    world.run(monday + 18 * HOUR, entries_new=40)  # the feeds bring news, nothing is stored
    changes = world.evaluate(monday + 18 * HOUR + MINUTE)
    assert [(c.kind, c.subject) for c in changes] == [("silent_collection", "*")]
    assert changes[0].evidence["expected_articles"] > 100
    assert changes[0].evidence["new_entries_since"] == 40


def test_no_alert_without_two_weeks_of_history(world: World) -> None:
    world.articles("young", rhythm(MONDAY, 10))
    assert world.evaluate(MONDAY + 12 * DAY) == []


def test_empty_feed_after_three_polls_without_items(world: World) -> None:
    world.feed("f1", "paper")
    start = MONDAY
    for i in range(20):  # polls that bring items
        at = start + i * HOUR
        world.fetch("f1", at, entries=5)
        world.articles("paper", [at], feed="f1")
    t = start + 20 * HOUR
    for i in range(5):  # the same items again, nothing new: a quiet feed, not an empty one
        world.fetch("f1", t + i * HOUR, entries=5)
    assert world.evaluate(t + 5 * HOUR) == []
    t += 5 * HOUR
    for i in range(2):
        world.fetch("f1", t + i * HOUR, entries=0)
    assert world.evaluate(t + 2 * HOUR) == []  # two empty polls: not yet
    world.fetch("f1", t + 2 * HOUR, entries=0)
    changes = world.evaluate(t + 2 * HOUR + MINUTE)
    assert [(c.action, c.kind, c.subject) for c in changes] == [("opened", "empty_feed", "f1")]
    assert changes[0].evidence["items_per_poll"] == [0, 0, 0]
    world.fetch("f1", t + 3 * HOUR, entries=5)
    world.articles("paper", [t + 3 * HOUR], feed="f1")
    assert [c.action for c in world.evaluate(t + 3 * HOUR + HOUR / 2)] == ["closed"]


def test_empty_feed_when_every_link_of_three_polls_fails(world: World) -> None:
    world.feed("f1", "paper")
    for i in range(3):
        at = MONDAY + i * HOUR
        world.fetch("f1", at, entries=4)
        world.pages("f1", [(at + k * MINUTE, 404) for k in range(4)])  # every new link: 404
    changes = world.evaluate(MONDAY + 3 * HOUR)
    assert [(c.kind, c.subject) for c in changes] == [("empty_feed", "f1")]
    assert changes[0].evidence["links_tried"] == 12


def test_fallback_jump_and_error_jump(world: World) -> None:
    world.feed("f1", "paper")
    days = 15
    for d in range(days):
        day = MONDAY + d * DAY
        times = [day + h * HOUR for h in range(8, 20)]
        world.articles("paper", times[:11])
        world.articles("paper", times[11:], status="provisional")  # 1 in 12 usual
        world.pages("f1", [(t, 200 if t.hour != 9 else 503) for t in times])
    now = MONDAY + days * DAY
    assert world.evaluate(now) == []
    # the next day: half the bodies are the feed's text, half the pages fail
    times = [now + h * HOUR for h in range(8, 20)]
    world.articles("paper", times[:6])
    world.articles("paper", times[6:], status="provisional")
    world.pages("f1", [(t, 200 if i % 2 else 502) for i, t in enumerate(times)])
    changes = world.evaluate(now + 20 * HOUR)
    kinds = sorted(c.kind for c in changes if c.action == "opened")
    assert kinds == ["error_jump", "fallback_jump"], changes
    evidence = next(c.evidence for c in changes if c.kind == "fallback_jump")
    assert evidence["share_24h"] == 0.5 and evidence["count_24h"] == 12


def test_withheld_bodies_are_no_fallback(world: World) -> None:
    """A publisher that starts opting out of archiving (with the withholding
    policy on) does not look like a site whose pages broke."""
    world.feed("f1", "paper")
    for d in range(15):
        day = MONDAY + d * DAY
        world.articles("paper", [day + h * HOUR for h in range(8, 20)])
    now = MONDAY + 15 * DAY
    world.articles("paper", [now + h * HOUR for h in range(8, 20)], status="withheld")
    assert world.evaluate(now + 20 * HOUR) == []


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
    world.articles("daily", rhythm(MONDAY, 21))
    world.run(MONDAY + 24 * DAY, entries_new=12)  # its feed brings entries, none is stored
    world.evaluate(MONDAY + 25 * DAY)  # four days of silence
    runner = CliRunner()
    base = ["--warehouse", str(world.path), "status"]
    check = runner.invoke(app, [*base, "--check"])
    # the only source is silent, and so is the whole collection
    assert check.exit_code == 3 and "alerts: 2 open" in check.output
    problems = runner.invoke(app, [*base, "--problems"])
    assert problems.exit_code == 0 and problems.output.startswith("silent_collection * since ")
    assert "\nsilent_source daily since " in problems.output
    data = json.loads(runner.invoke(app, [*base, "--json"]).output)
    kinds = [a["kind"] for a in data["alerts"]]
    assert kinds == ["silent_collection", "silent_source"] and data["healthy"] is False
    # the report shows it too
    from ingest import report

    report.write_report(world.path, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<td>silent_source</td><td>daily</td>" in page
