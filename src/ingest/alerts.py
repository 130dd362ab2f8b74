"""Completeness alerts: is today's collection as complete as usual?

Each rule compares what came in with the subject's own history and holds
only with enough of it (``MIN_HISTORY_DAYS`` of articles). The rules, stated
once here and in the README:

- **silent_source**: a polled source (a feed in the registry, not disabled)
  with no new article for at least 12 h, through hours that brought it at
  least 8 articles in the weeks before: the same weekdays and hours (from the
  first whole hour after its last article) 1 to 4 weeks earlier, their mean
  without the busiest week, scaled down by how much less the rest of the
  collection brought in those hours than usual (a holiday or a quiet news
  day is quiet everywhere). The weekday and hour keep nights and weekends
  quiet.
- **silent_collection**: the whole collection silent by the same rule, while
  the runs since its last article read new feed entries (the pipeline stores
  nothing of what the feeds bring).
- **empty_feed**: the feed's last 3 answers that returned a feed (a 304 does
  not count) held no item, or only items whose pages all failed.
- **fallback_jump**: over the last 24 h, at least 10 articles of the source
  and a share of feed-text bodies (``body_status`` provisional or feed-final;
  a body withheld by the rights policy is the page's, not a fallback) above
  3 x its daily median of the 14 days before, and above 0.35.
- **error_jump**: the same for the share of the source's page fetches that
  answered 4xx/5xx.
- **wire_share_shift**: over the last 7 days, at least 10 articles of the
  source and a share credited to a wire outside the range of its 4 weeks
  before, widened by 0.2 on each side.

The thresholds were chosen on simulated months of history
(``benchmarks/alerts.py``: false alerts per source and month against the
delay to detect an injected fault; the figures are in the README).

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
SILENT_WEEKS, SILENT_FLOOR_HOURS, SILENT_EXPECTED = 4, 12.0, 8.0
COLLECTION_MIN = 20  # the rest of the collection's usual articles in a stretch, to judge by
EMPTY_POLLS = 3
JUMP_FACTOR, JUMP_FLOOR, JUMP_MIN = 3.0, 0.35, 10
WIRE_WEEKS, WIRE_MARGIN, WIRE_MIN = 4, 0.2, 10


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


def _trimmed_mean(counts: tuple[int, ...]) -> float:
    """The mean without the largest (one burst, a backfill or a big news day,
    does not make an ordinary stretch look short)."""
    if len(counts) < 2:
        return 0.0
    return (sum(counts) - max(counts)) / (len(counts) - 1)


@dataclass(frozen=True)
class Silence:
    """A source's stretch without a new article, from ``last`` to now, beside
    the same weekdays and hours k = 1, 2... weeks before (``before[k-1]``:
    the source's articles then), and the whole collection's other sources in
    the stretch (``others_now``) and in those weeks (``others_before``)."""

    source_id: str
    last: datetime
    silent_hours: float
    before: tuple[int, ...]
    others_now: int = 0
    others_before: tuple[int, ...] = ()

    @property
    def usual(self) -> float:
        """Articles the source usually brings in such a stretch."""
        return _trimmed_mean(self.before)

    @property
    def collection_ratio(self) -> float:
        """How much of its usual volume the rest of the collection brought in
        the stretch (at most 1; 1 when the rest is too small to tell): a
        holiday, or a quiet news day, is quiet everywhere."""
        usual = _trimmed_mean(self.others_before)
        if usual < COLLECTION_MIN:
            return 1.0
        return min(1.0, self.others_now / usual)

    @property
    def expected(self) -> float:
        """Articles the source should have brought in the stretch."""
        return self.usual * self.collection_ratio


def silences(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    floor_hours: float = SILENT_FLOOR_HOURS,
    *,
    whole: bool = False,
) -> list[Silence]:
    """Every polled source (a feed in the registry, not disabled) with
    ``MIN_HISTORY_DAYS`` of history and no new article for at least
    ``floor_hours``, with its same stretch in up to ``SILENT_WEEKS`` weeks
    before, and the rest of the collection's. A stretch starts at the first
    whole hour after the last article (its batch-mates of other weeks are not
    counted). ``whole``: the collection as one source, ``*``."""
    week = 7 * 86400
    if whole:
        rows, polled = "(SELECT '*' AS source_id, first_seen_at FROM articles)", ""
    else:
        rows = "articles"
        polled = "AND source_id IN (SELECT source_id FROM feeds WHERE in_registry AND NOT disabled)"
    sql = f"""
        WITH h AS (
            SELECT source_id, min(first_seen_at) AS first, max(first_seen_at) AS last
            FROM {rows} WHERE first_seen_at <= {_ts(now)} GROUP BY 1
        ),
        c AS (
            SELECT source_id, last, epoch({_ts(now)} - last) / 3600 AS silent_hours,
                   least({SILENT_WEEKS}, floor(epoch({_ts(now)} - first) / {week}))::INTEGER
                       AS weeks
            FROM h
            WHERE first <= {_ts(now - timedelta(days=MIN_HISTORY_DAYS))}
              AND epoch({_ts(now)} - last) / 3600 >= {float(floor_hours)} {polled}
        ),
        k AS (SELECT source_id, last, unnest(range(0, weeks + 1)) AS k FROM c),
        w AS (
            SELECT source_id, k,
                   date_trunc('hour', last) + INTERVAL 1 HOUR - to_seconds(k * {week}) AS lo,
                   {_ts(now)} - to_seconds(k * {week}) AS hi
            FROM k
        ),
        own AS (
            SELECT w.source_id, w.k, count(a.source_id) AS n
            FROM w LEFT JOIN {rows} a
              ON a.source_id = w.source_id AND a.first_seen_at >= w.lo AND a.first_seen_at <= w.hi
            WHERE w.k > 0
            GROUP BY ALL
        ),
        hourly AS (
            SELECT source_id, date_trunc('hour', first_seen_at) AS hour, count(*) AS n
            FROM {rows}
            WHERE first_seen_at > {_ts(now - timedelta(days=7 * SILENT_WEEKS + 30))}
              AND first_seen_at <= {_ts(now)}
            GROUP BY ALL
        ),
        total AS (SELECT hour, sum(n) AS n FROM hourly GROUP BY 1),
        all_in AS (  -- whole hours inside each stretch
            SELECT w.source_id, w.k, coalesce(sum(t.n), 0) AS n
            FROM w LEFT JOIN total t ON t.hour >= w.lo AND t.hour + INTERVAL 1 HOUR <= w.hi
            GROUP BY ALL
        ),
        own_in AS (
            SELECT w.source_id, w.k, coalesce(sum(h.n), 0) AS n
            FROM w LEFT JOIN hourly h
              ON h.source_id = w.source_id AND h.hour >= w.lo AND h.hour + INTERVAL 1 HOUR <= w.hi
            GROUP BY ALL
        ),
        others AS (  -- the source itself left out
            SELECT a.source_id, a.k, a.n - o.n AS n
            FROM all_in a JOIN own_in o ON o.source_id = a.source_id AND o.k = a.k
        )
        SELECT c.source_id, c.last, c.silent_hours,
               (SELECT list(n ORDER BY k) FROM own WHERE own.source_id = c.source_id),
               (SELECT list(n ORDER BY k) FROM others o
                WHERE o.source_id = c.source_id AND o.k = 0),
               (SELECT list(n ORDER BY k) FROM others o
                WHERE o.source_id = c.source_id AND o.k > 0)
        FROM c ORDER BY 1
    """
    return [
        Silence(
            source,
            last,
            float(hours),
            tuple(int(x) for x in before or ()),
            int((now_others or [0])[0]),
            tuple(int(x) for x in others or ()),
        )
        for source, last, hours, before, now_others, others in _rows(con, sql)
    ]


def is_silent(
    silence: Silence,
    floor_hours: float = SILENT_FLOOR_HOURS,
    expected: float = SILENT_EXPECTED,
) -> bool:
    """The silent-source rule: quiet for at least ``floor_hours``, through a
    stretch that usually brings at least ``expected`` articles."""
    return silence.silent_hours >= floor_hours and silence.expected >= expected


def _silence_evidence(s: Silence) -> dict[str, Any]:
    return {
        "last_article_at": s.last.isoformat(),
        "silent_hours": round(s.silent_hours, 1),
        "same_hours_weeks_before": list(s.before),
        "collection_ratio": round(s.collection_ratio, 2),
        "expected_articles": round(s.expected, 1),
        "rule": f"silent >= {SILENT_FLOOR_HOURS:g} h through hours that brought "
        f">= {SILENT_EXPECTED:g} articles in the weeks before",
    }


def silent_sources(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    return [
        Condition("silent_source", s.source_id, s.source_id, None, _silence_evidence(s))
        for s in silences(con, now)
        if is_silent(s)
    ]


def silent_collection(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    """The whole collection silent by the same rule (subject ``*``) while the
    runs since its last article read new feed entries: the pipeline stores
    nothing of what the feeds bring (a holiday brings no new entries). The
    per-source rule cannot see this, since it scales each source by the rest."""
    out = []
    for s in silences(con, now, whole=True):
        if not is_silent(s):
            continue
        row = con.execute(
            "SELECT coalesce(sum(TRY_CAST(counts->>'entries_new' AS BIGINT)), 0), count(*) "
            "FROM runs WHERE started_at > ? AND started_at <= ?",
            [s.last, now],
        ).fetchone()
        entries, runs = (int(row[0]), int(row[1])) if row else (0, 0)
        if entries > 0:
            evidence = {**_silence_evidence(s), "runs_since": runs, "new_entries_since": entries}
            evidence["rule"] += ", while the runs since read new feed entries"
            out.append(Condition("silent_collection", "*", None, None, evidence))
    return out


def empty_feeds(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    sql = f"""
        WITH polls AS (
            SELECT l.feed_id, l.run_id, l.fetched_at, l.entries,
                   row_number() OVER (PARTITION BY l.feed_id ORDER BY l.fetched_at DESC) AS k
            FROM fetch_log l JOIN feeds f ON f.feed_id = l.feed_id
            WHERE l.kind = 'feed' AND l.outcome = 'ok' AND l.fetched_at <= {_ts(now)}
              AND l.fetched_at > {_ts(now - timedelta(days=30))}
              AND f.in_registry AND NOT f.disabled
        ),
        last AS (SELECT * FROM polls WHERE k <= {EMPTY_POLLS}),
        pages AS (
            SELECT l.feed_id, l.run_id, count(*) AS tried,
                   count(*) FILTER (WHERE l.outcome = 'ok' AND coalesce(l.status, 0) < 400)
                       AS fetched
            FROM fetch_log l JOIN last p ON p.feed_id = l.feed_id AND p.run_id = l.run_id
            WHERE l.kind = 'page' GROUP BY ALL
        ),
        seen AS (
            SELECT s.feed_id, s.run_id, count(*) AS n
            FROM sightings s JOIN last p ON p.feed_id = s.feed_id AND p.run_id = s.run_id
            GROUP BY ALL
        ),
        judged AS (
            SELECT p.feed_id, p.fetched_at, p.entries, coalesce(g.tried, 0) AS tried,
                   p.entries = 0 OR (p.entries > 0 AND coalesce(g.tried, 0) > 0
                                     AND coalesce(g.fetched, 0) = 0 AND coalesce(e.n, 0) = 0)
                       AS empty
            FROM last p
            LEFT JOIN pages g ON g.feed_id = p.feed_id AND g.run_id = p.run_id
            LEFT JOIN seen e ON e.feed_id = p.feed_id AND e.run_id = p.run_id
        )
        SELECT j.feed_id, f.source_id, f.url, max(j.fetched_at),
               list(j.entries ORDER BY j.fetched_at), sum(j.tried)
        FROM judged j JOIN feeds f USING (feed_id)
        GROUP BY ALL
        HAVING count(*) >= {EMPTY_POLLS} AND bool_and(coalesce(j.empty, false))
        ORDER BY 1
    """
    return [
        Condition(
            "empty_feed",
            feed_id,
            source_id,
            feed_id,
            {
                "url": url,
                "items_per_poll": list(entries),
                "links_tried": int(tried),
                "last_poll_at": latest.isoformat(),
                "rule": f"the last {EMPTY_POLLS} polls that returned a feed held no item, "
                "or only items whose pages all failed",
            },
        )
        for feed_id, source_id, url, latest, entries, tried in _rows(con, sql)
    ]


@dataclass(frozen=True)
class Share:
    """A source's share of some events (feed-text bodies, 4xx/5xx answers,
    wire credits) over a recent window, beside its usual share."""

    source_id: str
    count: int  # events in the window
    share: float
    usual: float  # the median daily share (jumps) or the low end of the range (wire)
    usual_high: float  # the high end of the range (wire); = usual for jumps
    measured: int  # days (jumps) or weeks (wire) the usual share rests on


def jump_shares(con: duckdb.DuckDBPyConnection, now: datetime, events: str) -> list[Share]:
    """Each source's share of ``events`` (rows of source_id, ts, hit) over
    the last 24 h, beside its median daily share of the 14 days before."""
    day = timedelta(days=1)
    sql = f"""
        WITH e AS NOT MATERIALIZED ({events}),
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
        WHERE u.days >= {MIN_HISTORY_DAYS // 2}
        ORDER BY 1
    """
    return [
        Share(source, int(n), float(share), float(median), float(median), int(days))
        for source, n, share, median, days in _rows(con, sql)
    ]


def jumped(
    s: Share, factor: float = JUMP_FACTOR, floor: float = JUMP_FLOOR, least: int = JUMP_MIN
) -> bool:
    """The jump rule: at least ``least`` events, and a share above
    ``factor`` times the usual one and above ``floor``."""
    return s.count >= least and s.share > max(factor * s.usual, floor)


def _jumps(
    con: duckdb.DuckDBPyConnection, now: datetime, kind: str, events: str, what: str
) -> list[Condition]:
    return [
        Condition(
            kind,
            s.source_id,
            s.source_id,
            None,
            {
                "share_24h": round(s.share, 3),
                "median_daily_share_14d": round(s.usual, 3),
                "count_24h": s.count,
                "days_measured": s.measured,
                "rule": f"share of {what} over 24 h > max({JUMP_FACTOR:g} x 14-day median, "
                f"{JUMP_FLOOR:g}), >= {JUMP_MIN}",
            },
        )
        for s in jump_shares(con, now, events)
        if jumped(s)
    ]


FALLBACK_EVENTS = (
    "SELECT source_id, first_seen_at AS ts, "
    "coalesce(body_status, 'page') IN ('provisional', 'feed-final') AS hit FROM articles"
)
ERROR_EVENTS = (
    "SELECT f.source_id, l.fetched_at AS ts, coalesce(l.status, 0) >= 400 AS hit "
    "FROM fetch_log l JOIN feeds f ON f.feed_id = l.feed_id WHERE l.kind = 'page'"
)


def fallback_jumps(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    return _jumps(con, now, "fallback_jump", FALLBACK_EVENTS, "feed-text bodies")


def error_jumps(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    return _jumps(con, now, "error_jump", ERROR_EVENTS, "4xx/5xx page answers")


def wire_shares(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Share]:
    """Each source's share of wire-credited articles over the last 7 days,
    beside the range of its weekly shares in the ``WIRE_WEEKS`` weeks before
    (weeks of at least ``WIRE_MIN`` articles)."""
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
        SELECT r.source_id, r.n, r.share, u.low, u.high, u.weeks
        FROM recent r JOIN usual u USING (source_id)
        WHERE u.weeks >= {WIRE_WEEKS}
        ORDER BY 1
    """
    return [
        Share(source, int(n), float(share), float(low), float(high), int(weeks))
        for source, n, share, low, high, weeks in _rows(con, sql)
    ]


def shifted(s: Share, margin: float = WIRE_MARGIN, least: int = WIRE_MIN) -> bool:
    """The wire rule: at least ``least`` articles, and a share outside the
    usual range widened by ``margin`` on each side."""
    return s.count >= least and not (s.usual - margin <= s.share <= s.usual_high + margin)


def wire_shifts(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Condition]:
    return [
        Condition(
            "wire_share_shift",
            s.source_id,
            s.source_id,
            None,
            {
                "share_7d": round(s.share, 3),
                "usual_low": round(s.usual, 3),
                "usual_high": round(s.usual_high, 3),
                "count_7d": s.count,
                "rule": f"wire share over 7 days outside its {WIRE_WEEKS} weeks' range "
                f"+/- {WIRE_MARGIN:g}",
            },
        )
        for s in wire_shares(con, now)
        if shifted(s)
    ]


RULES = (silent_sources, silent_collection, empty_feeds, fallback_jumps, error_jumps, wire_shifts)


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
