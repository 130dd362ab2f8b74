"""When to poll a feed next."""

from __future__ import annotations

from datetime import datetime, timedelta

# Never poll a feed more often than this, whatever it asks for.
MIN_INTERVAL = timedelta(minutes=5)
# Back off from a failing feed at most this far: a day later it gets another chance.
MAX_BACKOFF = timedelta(hours=24)


def next_fetch_at(
    now: datetime,
    *,
    ok: bool,
    failures: int,
    interval_minutes: int,
    ttl_minutes: int | None = None,
) -> datetime:
    """Success: the regular interval, raised to the feed's own ``<ttl>``.
    Failure: the interval doubled per consecutive failure, capped."""
    interval = timedelta(minutes=interval_minutes)
    if ok:
        if ttl_minutes:
            interval = max(interval, timedelta(minutes=ttl_minutes))
        return now + max(MIN_INTERVAL, interval)
    backoff: timedelta = interval * (2 ** min(max(failures - 1, 0), 10))
    return now + max(MIN_INTERVAL, min(backoff, MAX_BACKOFF))
