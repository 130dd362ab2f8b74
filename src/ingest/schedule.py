"""When to poll a feed next, and when to give up on it.

Successful polls adapt the interval to the feed's observed publishing rate
(new entries per hour, smoothed), bounded by a minimum and a maximum, and
raised to the feed's own hints (RSS ``<ttl>``, ``sy:updatePeriod``,
``Cache-Control: max-age``, ``Expires``). Failures are classified: transient
ones (timeouts, 5xx, 429, connection errors) back off exponentially with
jitter and honour ``Retry-After``; permanent ones (404, not a feed, blocked)
disable the feed after a few in a row, 410 Gone at once.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from ingest.records import FeedHistory, FetchResult, Outcome

# Aim to find about this many new entries per poll: fewer polls of a quiet
# feed, more of a busy one (a feed listing 20 items polled when 2 are new
# never misses one).
TARGET_NEW_PER_POLL = 2.0
# Weight of the newest observation in the publishing-rate average.
EWMA_ALPHA = 0.3
# A quiet poll stretches the interval by this factor.
QUIET_STRETCH = 1.5
# Jitter spreads retries of many feeds failing together (one host down).
JITTER = 0.2
# Hints beyond a day are ignored: a feed asking for a week between polls
# would miss a week of news on a bad day.
MAX_HINT = timedelta(days=1)


class Failure(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    GONE = "gone"


@dataclass(frozen=True)
class Policy:
    default_interval: timedelta = timedelta(minutes=60)
    min_interval: timedelta = timedelta(minutes=10)
    max_interval: timedelta = timedelta(hours=12)
    max_backoff: timedelta = timedelta(hours=24)
    disable_after_transient: int = 10
    disable_after_permanent: int = 3


@dataclass(frozen=True)
class Plan:
    next_fetch_at: datetime
    interval_minutes: int | None
    new_per_hour: float | None
    consecutive_failures: int
    failure: Failure | None = None
    disable_reason: str | None = None


def classify(res: FetchResult, is_feed: bool | None) -> Failure | None:
    """None for a usable answer (a feed, or 304); else the kind of failure."""
    if res.outcome is Outcome.NOT_MODIFIED:
        return None
    if res.outcome is Outcome.OK:
        return None if is_feed else Failure.PERMANENT
    if res.status == 410:
        return Failure.GONE
    if res.outcome in (Outcome.BLOCKED, Outcome.SKIPPED):
        return Failure.PERMANENT
    if res.status in (400, 401, 403, 404, 405, 406, 451):
        return Failure.PERMANENT
    if res.error and res.error.startswith("body too large"):
        return Failure.PERMANENT
    # 408, 425, 429, 5xx, timeouts, resets, DNS and connection errors
    return Failure.TRANSIENT


_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


def header_hint(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """How long the server says the response stays fresh."""
    cache = str(headers.get("cache-control") or "")
    if "no-cache" not in cache.lower() and (m := _MAX_AGE.search(cache)):
        return timedelta(seconds=int(m.group(1)))
    expires = headers.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(str(expires))
        except (TypeError, ValueError):
            return None
        if when.tzinfo is not None and when > now:
            return when - now
    return None


def retry_after(headers: Mapping[str, str], now: datetime) -> datetime | None:
    value = str(headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 7 * 86400))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None and when > now else None


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return max(low, min(high, value))


def plan(
    history: FeedHistory,
    res: FetchResult,
    *,
    is_feed: bool | None,
    new_entries: int | None,
    ttl_minutes: int | None,
    policy: Policy,
    rng: random.Random | None = None,
) -> Plan:
    now = res.fetched_at
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    failure = classify(res, is_feed)
    if failure is None:
        return _plan_success(
            history, res, new_entries=new_entries, ttl_minutes=ttl_minutes, policy=policy, now=now
        )
    failures = history.consecutive_failures + 1
    previous = history.failure_kind
    if failure is Failure.GONE:
        return Plan(
            now + policy.max_backoff,
            history.interval_minutes,
            history.new_per_hour,
            failures,
            failure,
            f"HTTP 410 Gone: the feed was removed ({res.url})",
        )
    backoff = policy.default_interval * (2 ** min(failures - 1, 12))
    backoff = _clamp(backoff, policy.min_interval, policy.max_backoff)
    backoff *= 1 + rng.uniform(-JITTER, JITTER)
    next_at = now + backoff
    if res.status in (429, 503) and (later := retry_after(res.headers, now)):
        next_at = max(next_at, later)
    reason = None
    limit = (
        policy.disable_after_permanent
        if failure is Failure.PERMANENT and previous in (None, Failure.PERMANENT.value)
        else policy.disable_after_transient
    )
    if failures >= limit:
        what = res.error or (f"HTTP {res.status}" if res.status else "not a feed")
        reason = f"{failures} failures in a row ({failure}); last: {what}"
    return Plan(next_at, history.interval_minutes, history.new_per_hour, failures, failure, reason)


def _plan_success(
    history: FeedHistory,
    res: FetchResult,
    *,
    new_entries: int | None,
    ttl_minutes: int | None,
    policy: Policy,
    now: datetime,
) -> Plan:
    rate = history.new_per_hour
    interval = (
        timedelta(minutes=history.interval_minutes)
        if history.interval_minutes
        else policy.default_interval
    )
    if history.last_fetched_at is not None:
        hours = max((now - history.last_fetched_at).total_seconds() / 3600, 1 / 60)
        observed = (new_entries or 0) / hours
        rate = observed if rate is None else EWMA_ALPHA * observed + (1 - EWMA_ALPHA) * rate
        if rate > 1e-6:
            interval = timedelta(hours=TARGET_NEW_PER_POLL / rate)
        if not new_entries:
            interval = max(
                interval, timedelta(minutes=history.interval_minutes or 0) * QUIET_STRETCH
            )
    interval = _clamp(interval, policy.min_interval, policy.max_interval)
    hints = [
        h
        for h in (
            timedelta(minutes=ttl_minutes) if ttl_minutes else None,
            header_hint(res.headers, now),
        )
        if h
    ]
    if hints:
        interval = max(interval, min(max(hints), MAX_HINT))
    return Plan(now + interval, int(interval.total_seconds() // 60), rate, 0)
