"""The pipeline's state at a glance (``ingest status``): feeds ok, failing,
disabled; pages waiting; the last run; the raw archive and staging. Read in
one connection (one attach of a lake), for people (a summary that fits 80
columns) and machines (``--json``, ``--check``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.rawstore import RawStore
from ingest.settings import Settings
from ingest.store import read, staging

# a feed is failing when its last fetches failed and it is still polled
FAILING = "NOT f.disabled AND f.consecutive_failures > 0"


@dataclass(frozen=True)
class FailingFeed:
    source_id: str
    url: str
    failures: int
    outcome: str | None
    http: int | None
    error: str | None
    last_fetched_at: datetime | None


@dataclass(frozen=True)
class Run:
    run_id: str
    flow: str
    status: str
    started_at: datetime | None
    seconds: float | None
    new_articles: int
    feed_errors: int
    reason: str | None


@dataclass(frozen=True)
class FeedState:
    """One feed of the registry as ``status --all`` shows it."""

    source_id: str
    url: str
    last: str  # last outcome, or "never fetched"
    http: int | None
    failures: int
    fetched_at: datetime | None
    next_fetch_at: datetime | None
    note: str  # why it is disabled, or its last error


@dataclass(frozen=True)
class OpenAlert:
    kind: str
    subject: str
    source_id: str | None
    opened_at: datetime
    evidence: str | None


@dataclass
class Status:
    feeds_ok: int = 0
    feeds_failing: int = 0
    feeds_disabled: int = 0
    feeds_never_fetched: int = 0
    pages_queued: int = 0
    pages_to_retry: int = 0
    provisional_bodies: int = 0
    next_attempt_at: datetime | None = None
    failing: list[FailingFeed] = field(default_factory=list)
    alerts: list[OpenAlert] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    feeds: list[FeedState] = field(default_factory=list)  # every feed (``every_feed``)
    raw_pages: int = 0
    raw_bytes: int = 0
    staged_waiting: int = 0
    staged_set_aside: int = 0

    @property
    def healthy(self) -> bool:
        """Nothing that needs a person: no feed failing, no alert open
        (``--check`` exits 3 otherwise)."""
        return self.feeds_failing == 0 and not self.alerts

    def as_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        out = plain(asdict(self))
        out["healthy"] = self.healthy
        return out  # type: ignore[no-any-return]


def gather(settings: Settings, runs: int = 5, *, every_feed: bool = False) -> Status:
    """The status of the warehouse ``settings`` name, and of its archive and
    staging (one read of one snapshot); ``every_feed``: each feed's state too."""
    status = Status()
    with read.reading(settings.warehouse) as con:
        con.execute("BEGIN TRANSACTION")  # one snapshot of a lake for every read below
        if every_feed:
            status.feeds = [
                FeedState(*r)
                for r in con.execute(
                    """SELECT f.source_id, f.url, coalesce(f.last_outcome, 'never fetched'),
                              f.last_status, f.consecutive_failures, f.last_fetched_at,
                              f.next_fetch_at,
                              CASE WHEN f.disabled
                                   THEN 'disabled: ' || coalesce(f.disabled_reason, '')
                                   ELSE coalesce(f.last_error, '') END
                       FROM feeds f WHERE f.in_registry
                       ORDER BY f.consecutive_failures DESC, f.source_id, f.url"""
                ).fetchall()
            ]
        row = con.execute(
            f"""SELECT count(*) FILTER (WHERE NOT f.disabled AND f.consecutive_failures = 0
                                              AND f.last_outcome IS NOT NULL),
                       count(*) FILTER (WHERE {FAILING}),
                       count(*) FILTER (WHERE f.disabled),
                       count(*) FILTER (WHERE NOT f.disabled AND f.last_outcome IS NULL)
                FROM feeds f WHERE f.in_registry"""
        ).fetchone()
        if row:
            (status.feeds_ok, status.feeds_failing, status.feeds_disabled) = row[:3]
            status.feeds_never_fetched = row[3]
        row = con.execute(
            """SELECT (SELECT count(*) FROM pending_pages WHERE kind = 'queued'),
                      (SELECT count(*) FROM pending_pages WHERE kind = 'retry'),
                      (SELECT count(*) FROM articles WHERE body_status = 'provisional'),
                      (SELECT min(next_attempt_at) FROM pending_pages)"""
        ).fetchone()
        if row:
            status.pages_queued, status.pages_to_retry, status.provisional_bodies = row[:3]
            status.next_attempt_at = row[3]
        status.failing = [
            FailingFeed(*r)
            for r in con.execute(
                f"""SELECT f.source_id, f.url, f.consecutive_failures, f.last_outcome,
                           f.last_status, f.last_error, f.last_fetched_at
                    FROM feeds f WHERE f.in_registry AND {FAILING}
                    ORDER BY f.consecutive_failures DESC, f.source_id, f.url"""
            ).fetchall()
        ]
        status.alerts = [OpenAlert(*r) for r in read.open_alerts(con)]
        status.runs = [
            Run(*r)
            for r in con.execute(
                f"""SELECT run_id, flow, status, started_at,
                           round(epoch(finished_at - started_at), 1),
                           coalesce(TRY_CAST(counts->>'articles_new' AS INTEGER), 0),
                           coalesce(TRY_CAST(counts->>'feed_error' AS INTEGER), 0), reason
                    FROM runs ORDER BY started_at DESC LIMIT {int(runs)}"""
            ).fetchall()
        ]
        con.execute("COMMIT")
    status.raw_pages, status.raw_bytes = RawStore(settings.raw_path).usage()
    status.staged_waiting = len(staging.pending(settings.staging_path))
    status.staged_set_aside = len(staging.pending(settings.staging_path / staging.FAILED_DIR))
    return status


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_lines(status: Status, width: int = 80) -> list[str]:
    """The summary: four lines, then one line per failing feed; none wider than ``width``."""
    lines = [
        f"feeds: {status.feeds_ok} ok · {status.feeds_failing} failing · "
        f"{status.feeds_disabled} disabled · {status.feeds_never_fetched} never fetched",
        f"pages: {status.pages_queued} queued · {status.pages_to_retry} to retry · "
        f"{status.provisional_bodies} provisional bodies",
    ]
    if status.runs:
        last = status.runs[0]
        when = f"{last.started_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if last.started_at else "?"
        lines.append(
            f"last run: {when} {last.flow} {last.status}, {last.new_articles} new, "
            f"{last.feed_errors} feed errors"
            + (f" ({last.reason})" if last.reason and last.status != "completed" else "")
        )
    else:
        lines.append("last run: none yet (`ingest run`)")
    lines.append(
        f"alerts: {len(status.alerts)} open" + (" (--problems lists them)" if status.alerts else "")
    )
    lines.append(
        f"staging: {status.staged_waiting} waiting, {status.staged_set_aside} set aside · "
        f"raw archive: {status.raw_pages} pages, {status.raw_bytes / 1e6:.1f} MB"
    )
    if status.failing:
        lines.append("failing feeds (failures, last outcome, error):")
        for feed in status.failing:
            what = feed.error or (f"HTTP {feed.http}" if feed.http else "")
            text = " ".join(f"{feed.source_id} {feed.failures}× {feed.outcome}: {what}".split())
            lines.append(f"  {text} {feed.url}")
    return [_fit(line, width) for line in lines]


def problem_lines(status: Status, width: int = 80) -> list[str]:
    """Every open alert with its evidence, then every failing feed."""
    lines = []
    for alert in status.alerts:
        when = f"{alert.opened_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        lines.append(_fit(f"{alert.kind} {alert.subject} since {when}", width))
        if alert.evidence:
            lines.append(_fit(f"  {alert.evidence}", width))
    lines += [line for line in summary_lines(status, width) if line.startswith("  ")]
    return lines or ["no problems: no alert open, no feed failing"]
