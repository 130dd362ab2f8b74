"""robots.txt: fetched once per origin, cached with its own expiry (RFC 9309).

Only article pages are checked: feeds and sitemaps are published for
machines. What an answer means follows RFC 9309: a 4xx means there are no
rules (allow all); a 5xx or an unreachable server means "assume complete
disallow" until a later fetch succeeds, which we retry sooner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.robotparser import RobotFileParser

from ingest.records import FetchResult, Outcome

# A failing robots.txt is asked for again after an hour, not a day.
ERROR_TTL = timedelta(hours=1)
# Parse at most this much: RFC 9309 asks crawlers to read at least 500 KiB.
MAX_ROBOTS_BYTES = 512 * 1024


@dataclass(frozen=True)
class RobotsRecord:
    origin: str
    fetched_at: datetime
    expires_at: datetime
    status: int | None
    outcome: str  # ok | missing (allow all) | error (disallow all) | blocked (by our guard)
    body: str | None


def robots_url(origin: str) -> str:
    return origin + "/robots.txt"


def record_from_fetch(origin: str, res: FetchResult, ttl: timedelta) -> RobotsRecord:
    now = res.fetched_at
    if res.outcome is Outcome.OK:
        body = res.body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
        return RobotsRecord(origin, now, now + ttl, res.status, "ok", body)
    if res.status is not None and 400 <= res.status < 500:
        return RobotsRecord(origin, now, now + ttl, res.status, "missing", None)
    if res.outcome in (Outcome.BLOCKED, Outcome.SKIPPED):
        # Our own guard refused the origin: its pages are refused the same way.
        return RobotsRecord(origin, now, now + ERROR_TTL, res.status, "blocked", res.error)
    return RobotsRecord(origin, now, now + ERROR_TTL, res.status, "error", res.error)


def product_token(user_agent: str) -> str:
    """The token robots.txt groups are matched against: "news-ingest" of
    "news-ingest/0.1 (+https://...)"."""
    words = user_agent.split("/", 1)[0].split()
    return words[0].lower() if words else "*"


class RobotsPolicy:
    def __init__(self, record: RobotsRecord, user_agent: str) -> None:
        self.record = record
        self.token = product_token(user_agent)
        self._parser: RobotFileParser | None = None
        if record.outcome == "ok" and record.body:
            parser = RobotFileParser()
            parser.parse(record.body.splitlines())
            self._parser = parser

    @property
    def blocked(self) -> bool:
        """The origin itself is refused by the address guard."""
        return self.record.outcome == "blocked"

    def allowed(self, url: str) -> tuple[bool, str | None]:
        """(allowed, reason when not)."""
        if self.record.outcome == "missing":
            return True, None
        if self.blocked:
            return False, self.record.body or "blocked address"
        if self.record.outcome == "error":
            return False, (
                f"robots.txt unreachable (HTTP {self.record.status or '-'}): "
                "complete disallow assumed (RFC 9309)"
            )
        if self._parser is None or self._parser.can_fetch(self.token, url):
            return True, None
        return False, f"disallowed by {self.record.origin}/robots.txt"

    def crawl_delay(self) -> float | None:
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(self.token)
        return float(delay) if delay is not None else None
