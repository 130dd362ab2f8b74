"""robots.txt: fetched once per origin, cached with its own expiry (RFC 9309).

Only article pages are checked: feeds and sitemaps are published for
machines. What an answer means follows RFC 9309: a 4xx means there are no
rules (allow all); a 5xx or an unreachable server means "assume complete
disallow" until a later fetch succeeds, which we retry sooner. The rules are
read by Protego (the parser Scrapy uses): ``*`` and ``$`` wildcards, the
longest matching rule wins, and Allow wins a tie with Disallow.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from protego import Protego

from ingest.records import FetchResult, Outcome, RobotsRecord

# A failing robots.txt is asked for again after an hour, not a day.
ERROR_TTL = timedelta(hours=1)
# Parse at most this much: RFC 9309 asks crawlers to read at least 500 KiB.
MAX_ROBOTS_BYTES = 512 * 1024


def robots_url(origin: str) -> str:
    return origin + "/robots.txt"


# Parse at most this much of a tdmrep.json (a list of rules: a few KB).
MAX_TDMREP_BYTES = 256 * 1024


def record_from_fetch(
    origin: str, res: FetchResult, ttl: timedelta, limit: int = MAX_ROBOTS_BYTES
) -> RobotsRecord:
    """An origin's robots.txt (or tdmrep.json, ``limit`` its size cap) answer
    to cache: ``ok`` with the file, ``missing`` (4xx: no rules, no
    declaration), ``blocked`` by our guard, or ``error`` (asked again after an
    hour; robots.txt then means "disallow all", tdmrep.json nothing)."""
    now = res.fetched_at
    if res.outcome is Outcome.OK:
        body = res.body[:limit].decode("utf-8", "replace")
        return RobotsRecord(origin, now, now + ttl, res.status, "ok", body)
    if is_missing(res):
        return RobotsRecord(origin, now, now + ttl, res.status, "missing", None)
    if res.outcome in (Outcome.BLOCKED, Outcome.SKIPPED):
        # Our own guard refused the origin: its pages are refused the same way.
        return RobotsRecord(origin, now, now + ERROR_TTL, res.status, "blocked", res.error)
    return RobotsRecord(origin, now, now + ERROR_TTL, res.status, "error", res.error)


def is_missing(res: FetchResult) -> bool:
    """A 4xx robots.txt: "no rules" (RFC 9309 2.3.1.3), not an error."""
    return res.outcome is Outcome.ERROR and res.status is not None and 400 <= res.status < 500


def as_logged(res: FetchResult) -> FetchResult:
    """A robots.txt fetch as ``fetch_log`` keeps it: a 4xx answer is a
    successful fetch that means "no rules", so it is ``ok`` with its status."""
    return replace(res, outcome=Outcome.OK, error=None) if is_missing(res) else res


def product_token(user_agent: str) -> str:
    """The token robots.txt groups are matched against: "news-ingest" of
    "news-ingest/0.1 (+https://...)"."""
    words = user_agent.split("/", 1)[0].split()
    return words[0].lower() if words else "*"


class RobotsPolicy:
    def __init__(self, record: RobotsRecord, user_agent: str) -> None:
        self.record = record
        self.token = product_token(user_agent)
        self._parser: Protego | None = None
        if record.outcome == "ok" and record.body:
            self._parser = Protego.parse(record.body)

    @property
    def blocked(self) -> bool:
        """The origin itself is refused by the address guard."""
        return self.record.outcome == "blocked"

    @property
    def refuses(self) -> bool:
        """No page of the origin is fetched for now (blocked, or unreachable)."""
        return self.record.outcome in ("blocked", "error")

    @property
    def unreachable(self) -> bool:
        """robots.txt answered 5xx or could not be fetched: complete disallow
        is assumed until it can be read (a failure that may pass)."""
        return self.record.outcome == "error"

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
        if self._parser is None or self._parser.can_fetch(url, self.token):
            return True, None
        return False, f"disallowed by {self.record.origin}/robots.txt"

    def crawl_delay(self) -> float | None:
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(self.token)
        return float(delay) if delay is not None else None
