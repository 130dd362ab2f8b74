"""Completeness alerts: is today's collection as complete as usual?

Each rule compares what came in with the subject's own history and holds
only with enough of it (``MIN_HISTORY_DAYS`` of articles). The rules, stated
once here and in the README:

- **silent_source**: no new article for longer than
  max(3 x the source's median gap between articles that began on the same
  weekday, 6 h); the weekday keeps a normal weekend dip quiet.
- **empty_feed**: the feed's last 3 fetches that returned a feed (not a 304)
  brought no item into the warehouse.
- **fallback_jump**: over the last 24 h, at least 10 articles of the source
  and a share of feed-text bodies (``body_status`` other than ``page``) above
  3 x its daily median of the 14 days before, and above a quarter.
- **error_jump**: the same for the share of the source's page fetches that
  answered 4xx/5xx.
- **wire_share_shift**: over the last 7 days, at least 10 articles of the
  source and a share credited to a wire outside the range of its 4 weeks
  before, widened by 0.15 on each side.

:func:`evaluate` opens a row in ``alerts`` for each condition that holds and
has no open row, closes the open rows whose condition cleared, and returns
what changed (the flow emits a Prefect event for each).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from ingest.store.schema import sql_literal

MIN_HISTORY_DAYS = 14
SILENT_FACTOR, SILENT_FLOOR_HOURS = 3.0, 6.0
EMPTY_POLLS = 3
JUMP_FACTOR, JUMP_FLOOR, JUMP_MIN = 3.0, 0.25, 10
WIRE_WEEKS, WIRE_MARGIN, WIRE_MIN = 4, 0.15, 10


@dataclass(frozen=True)
class Condition:
    kind: str
    subject: str
    source_id: str | None
    feed_id: str | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """An alert opened or closed by one evaluation."""

    action: str  # opened | closed
    alert_id: str
    kind: str
    subject: str
    evidence: dict[str, Any]


def _ts(value: datetime) -> str:
    return f"{sql_literal(value.isoformat())}::TIMESTAMPTZ"


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in con.execute(sql).fetchall()]


def silent_sources(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    sql = f"""
        WITH a AS (
            SELECT source_id, first_seen_at AS t,
                   lead(first_seen_at) OVER (PARTITION BY source_id ORDER BY first_seen_at) AS n
            FROM articles WHERE first_seen_at <= {_ts(now)}
        ),
        history AS (
            SELECT source_id, min(t) AS first, max(t) AS last FROM a GROUP BY source_id
        ),
        gaps AS (
            SELECT source_id, dayofweek(t) AS dow, epoch(n - t) / 3600 AS hours
            FROM a WHERE n IS NOT NULL AND t >= {_ts(now - timedelta(days=28))}
        ),
        usual AS (
            SELECT source_id, dow, median(hours) AS median_hours, count(*) AS gaps
            FROM gaps GROUP BY ALL
        )
        SELECT h.source_id, h.last, epoch({_ts(now)} - h.last) / 3600 AS silent_hours,
               u.median_hours, u.gaps
        FROM history h JOIN usual u
          ON u.source_id = h.source_id AND u.dow = dayofweek(h.last)
        WHERE h.first <= {_ts(now - timedelta(days=MIN_HISTORY_DAYS))}
          AND epoch({_ts(now)} - h.last) / 3600
              > greatest({SILENT_FACTOR} * u.median_hours, {SILENT_FLOOR_HOURS})
        ORDER BY 1
    """
    return [
        Condition(
            "silent_source",
            source,
            source,
            None,
            {
                "last_article_at": last.isoformat(),
                "silent_hours": round(float(hours), 1),
                "usual_gap_hours": round(float(median), 2),
                "gaps_measured": int(gaps),
                "rule": "silent > max(3 x median gap on that weekday, 6 h)",
            },
        )
        for source, last, hours, median, gaps in _rows(con, sql)
    ]


def empty_feeds(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    sql = f"""
        WITH polls AS (
            SELECT l.feed_id, l.run_id, l.fetched_at,
                   row_number() OVER (PARTITION BY l.feed_id ORDER BY l.fetched_at DESC) AS k
            FROM fetch_log l JOIN feeds f ON f.feed_id = l.feed_id
            WHERE l.kind = 'feed' AND l.outcome = 'ok' AND l.fetched_at <= {_ts(now)}
              AND f.in_registry AND NOT f.disabled
        ),
        last AS (SELECT * FROM polls WHERE k <= {EMPTY_POLLS}),
        items AS (
            SELECT p.feed_id, count(s.article_id) AS items, count(DISTINCT p.run_id) AS runs,
                   max(p.fetched_at) AS latest
            FROM last p LEFT JOIN sightings s ON s.feed_id = p.feed_id AND s.run_id = p.run_id
            GROUP BY p.feed_id
        )
        SELECT i.feed_id, f.source_id, f.url, i.latest FROM items i JOIN feeds f USING (feed_id)
        WHERE i.runs >= {EMPTY_POLLS} AND i.items = 0 ORDER BY 1
    """
    return [
        Condition(
            "empty_feed",
            feed_id,
            source_id,
            feed_id,
            {
                "url": url,
                "polls_without_items": EMPTY_POLLS,
                "last_poll_at": latest.isoformat(),
                "rule": "the last 3 fetches that returned a feed brought no item",
            },
        )
        for feed_id, source_id, url, latest in _rows(con, sql)
    ]


def _jumps(
    con: duckdb.DuckDBPyConnection, now: datetime, kind: str, events: str, what: str
) -> list[Condition]:
    """Sources whose share of ``events`` (rows of source_id, ts, hit) over the
    last 24 h is above its usual daily share."""
    day = timedelta(days=1)
    sql = f"""
        WITH e AS ({events}),
        recent AS (
            SELECT source_id, count(*) AS n, avg(hit::INTEGER) AS share
            FROM e WHERE ts > {_ts(now - day)} AND ts <= {_ts(now)} GROUP BY 1
        ),
        daily AS (
            SELECT source_id, date_trunc('day', ts) AS d, avg(hit::INTEGER) AS share
            FROM e WHERE ts > {_ts(now - day * (MIN_HISTORY_DAYS + 1))} AND ts <= {_ts(now - day)}
            GROUP BY ALL
        ),
        usual AS (
            SELECT source_id, median(share) AS median_share, count(*) AS days FROM daily GROUP BY 1
        )
        SELECT r.source_id, r.n, r.share, u.median_share, u.days
        FROM recent r JOIN usual u USING (source_id)
        WHERE r.n >= {JUMP_MIN} AND u.days >= {MIN_HISTORY_DAYS // 2}
          AND r.share > greatest({JUMP_FACTOR} * u.median_share, {JUMP_FLOOR})
        ORDER BY 1
    """
    return [
        Condition(
            kind,
            source,
            source,
            None,
            {
                "share_24h": round(float(share), 3),
                "median_daily_share_14d": round(float(median), 3),
                "count_24h": int(n),
                "days_measured": int(days),
                "rule": f"share of {what} over 24 h > max(3 x 14-day median, 0.25), >= 10",
            },
        )
        for source, n, share, median, days in _rows(con, sql)
    ]


def fallback_jumps(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    events = (
        "SELECT source_id, first_seen_at AS ts, coalesce(body_status, 'page') <> 'page' AS hit "
        "FROM articles"
    )
    return _jumps(con, now, "fallback_jump", events, "feed-text bodies")


def error_jumps(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    events = (
        "SELECT f.source_id, l.fetched_at AS ts, coalesce(l.status, 0) >= 400 AS hit "
        "FROM fetch_log l JOIN feeds f ON f.feed_id = l.feed_id WHERE l.kind = 'page'"
    )
    return _jumps(con, now, "error_jump", events, "4xx/5xx page answers")


def wire_shifts(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    week = timedelta(days=7)
    sql = f"""
        WITH a AS (
            SELECT source_id, first_seen_at AS ts, wire_service IS NOT NULL AS wire
            FROM articles WHERE first_seen_at <= {_ts(now)}
              AND first_seen_at > {_ts(now - week * (WIRE_WEEKS + 1))}
        ),
        recent AS (
            SELECT source_id, count(*) AS n, avg(wire::INTEGER) AS share
            FROM a WHERE ts > {_ts(now - week)} GROUP BY 1
        ),
        weekly AS (
            SELECT source_id, floor(epoch({_ts(now - week)} - ts) / {week.total_seconds()}) AS w,
                   avg(wire::INTEGER) AS share, count(*) AS n
            FROM a WHERE ts <= {_ts(now - week)} GROUP BY ALL
        ),
        usual AS (
            SELECT source_id, min(share) AS low, max(share) AS high, count(*) AS weeks
            FROM weekly WHERE n >= {WIRE_MIN} GROUP BY 1
        )
        SELECT r.source_id, r.n, r.share, u.low, u.high
        FROM recent r JOIN usual u USING (source_id)
        WHERE r.n >= {WIRE_MIN} AND u.weeks >= {WIRE_WEEKS}
          AND (r.share < u.low - {WIRE_MARGIN} OR r.share > u.high + {WIRE_MARGIN})
        ORDER BY 1
    """
    return [
        Condition(
            "wire_share_shift",
            source,
            source,
            None,
            {
                "share_7d": round(float(share), 3),
                "usual_low": round(float(low), 3),
                "usual_high": round(float(high), 3),
                "count_7d": int(n),
                "rule": "wire share over 7 days outside its 4 weeks' range +/- 0.15",
            },
        )
        for source, n, share, low, high in _rows(con, sql)
    ]


RULES = (silent_sources, empty_feeds, fallback_jumps, error_jumps, wire_shifts)


def conditions(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    """Every condition that holds at ``now``."""
    return [c for rule in RULES for c in rule(con, now)]


def evaluate(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Change]:
    """Open and close ``alerts`` rows for the conditions that hold at ``now``
    (inside the caller's transaction); returns what changed."""
    holding = {(c.kind, c.subject): c for c in conditions(con, now)}
    open_rows = {
        (kind, subject): alert_id
        for alert_id, kind, subject in con.execute(
            "SELECT alert_id, kind, subject FROM alerts WHERE closed_at IS NULL"
        ).fetchall()
    }
    changes: list[Change] = []
    for key, condition in holding.items():
        evidence = json.dumps(condition.evidence, sort_keys=True)
        if key in open_rows:
            con.execute(
                "UPDATE alerts SET checked_at = ?, evidence = ? WHERE alert_id = ?",
                [now, evidence, open_rows[key]],
            )
            continue
        alert_id = f"{condition.kind}:{condition.subject}:{now:%Y%m%dT%H%M%S}"
        con.execute(
            "INSERT INTO alerts (alert_id, kind, subject, source_id, feed_id, opened_at, "
            "checked_at, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                alert_id,
                condition.kind,
                condition.subject,
                condition.source_id,
                condition.feed_id,
                now,
                now,
                evidence,
            ],
        )
        changes.append(
            Change("opened", alert_id, condition.kind, condition.subject, condition.evidence)
        )
    for key, alert_id in open_rows.items():
        if key not in holding:
            con.execute(
                "UPDATE alerts SET closed_at = ?, checked_at = ? WHERE alert_id = ?",
                [now, now, alert_id],
            )
            changes.append(Change("closed", alert_id, key[0], key[1], {}))
    return changes
