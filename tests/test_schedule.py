"""Scheduling rules: adaptive intervals, hints, backoff, disabling; robots.txt policy."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.records import FeedHistory, FetchKind, FetchResult, Outcome
from ingest.robots import RobotsPolicy, product_token, record_from_fetch
from ingest.schedule import Failure, Policy, classify, plan

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
POLICY = Policy()


def res(
    outcome: Outcome = Outcome.OK,
    status: int | None = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> FetchResult:
    return FetchResult(
        "https://x.example.com/feed",
        FetchKind.FEED,
        outcome,
        NOW,
        status=status,
        error=error,
        headers=headers or {},
    )


def test_first_poll_uses_default_interval() -> None:
    p = plan(FeedHistory(), res(), is_feed=True, new_entries=20, ttl_minutes=None, policy=POLICY)
    assert p.next_fetch_at - NOW == POLICY.default_interval
    assert p.consecutive_failures == 0


def test_busy_feed_polled_more_often_quiet_feed_less() -> None:
    hist = FeedHistory(
        last_fetched_at=NOW - timedelta(hours=1), interval_minutes=60, new_per_hour=None
    )
    busy = plan(hist, res(), is_feed=True, new_entries=20, ttl_minutes=None, policy=POLICY)
    quiet = plan(hist, res(), is_feed=True, new_entries=0, ttl_minutes=None, policy=POLICY)
    assert busy.next_fetch_at - NOW == POLICY.min_interval  # 20/h wants 6 min, floored at 10
    assert quiet.next_fetch_at - NOW >= timedelta(minutes=90)


def test_quiet_feed_reaches_max_interval_and_stays_bounded() -> None:
    hist = FeedHistory(last_fetched_at=NOW - timedelta(hours=1), interval_minutes=60)
    for _ in range(30):
        step = plan(
            hist,
            res(Outcome.NOT_MODIFIED, 304),
            is_feed=None,
            new_entries=0,
            ttl_minutes=None,
            policy=POLICY,
        )
        hist = FeedHistory(
            last_fetched_at=NOW - (step.next_fetch_at - NOW),
            interval_minutes=step.interval_minutes,
            new_per_hour=step.new_per_hour,
        )
    assert step.next_fetch_at - NOW == POLICY.max_interval


@pytest.mark.parametrize(
    ("ttl", "headers", "at_least"),
    [
        (180, {}, timedelta(minutes=180)),
        (None, {"cache-control": "public, max-age=7200"}, timedelta(hours=2)),
        (None, {"expires": "Tue, 10 Mar 2026 15:00:00 GMT"}, timedelta(hours=3)),
        (None, {"cache-control": "no-cache, max-age=7200"}, timedelta(minutes=10)),
        (10_000, {}, timedelta(days=1)),  # hints are capped at a day
    ],
)
def test_hints_raise_the_interval(
    ttl: int | None, headers: dict[str, str], at_least: timedelta
) -> None:
    hist = FeedHistory(
        last_fetched_at=NOW - timedelta(hours=1), interval_minutes=10, new_per_hour=50.0
    )
    p = plan(
        hist, res(headers=headers), is_feed=True, new_entries=50, ttl_minutes=ttl, policy=POLICY
    )
    assert p.next_fetch_at - NOW >= at_least
    assert p.next_fetch_at - NOW <= max(at_least, POLICY.min_interval)


@pytest.mark.parametrize(
    ("result", "is_feed", "kind"),
    [
        (res(Outcome.ERROR, 500, "HTTP 500"), None, Failure.TRANSIENT),
        (res(Outcome.ERROR, 429, "HTTP 429"), None, Failure.TRANSIENT),
        (res(Outcome.ERROR, None, "ConnectTimeout"), None, Failure.TRANSIENT),
        (res(Outcome.ERROR, 404, "HTTP 404"), None, Failure.PERMANENT),
        (res(Outcome.ERROR, 410, "HTTP 410"), None, Failure.GONE),
        (res(Outcome.BLOCKED, None, "blocked"), None, Failure.PERMANENT),
        (res(), False, Failure.PERMANENT),
        (res(), True, None),
        (res(Outcome.NOT_MODIFIED, 304), None, None),
    ],
)
def test_classify(result: FetchResult, is_feed: bool | None, kind: Failure | None) -> None:
    assert classify(result, is_feed) == kind


def test_transient_backoff_grows_with_jitter_and_caps() -> None:
    rng = random.Random(1)
    delays = []
    for failures in range(12):
        p = plan(
            FeedHistory(consecutive_failures=failures),
            res(Outcome.ERROR, 502, "HTTP 502"),
            is_feed=None,
            new_entries=None,
            ttl_minutes=None,
            policy=POLICY,
            rng=rng,
        )
        delays.append(p.next_fetch_at - NOW)
    assert delays[0] < delays[2] < delays[4]
    assert all(d <= POLICY.max_backoff * 1.2 for d in delays)
    assert delays[-1] >= POLICY.max_backoff * 0.8


def test_retry_after_seconds_and_date() -> None:
    p = plan(
        FeedHistory(),
        res(Outcome.ERROR, 503, "HTTP 503", {"retry-after": "10800"}),
        is_feed=None,
        new_entries=None,
        ttl_minutes=None,
        policy=POLICY,
    )
    assert p.next_fetch_at >= NOW + timedelta(hours=3)
    p = plan(
        FeedHistory(),
        res(Outcome.ERROR, 429, "HTTP 429", {"retry-after": "Wed, 11 Mar 2026 12:00:00 GMT"}),
        is_feed=None,
        new_entries=None,
        ttl_minutes=None,
        policy=POLICY,
    )
    assert p.next_fetch_at >= NOW + timedelta(days=1)


def test_disable_rules() -> None:
    gone = plan(
        FeedHistory(),
        res(Outcome.ERROR, 410, "HTTP 410"),
        is_feed=None,
        new_entries=None,
        ttl_minutes=None,
        policy=POLICY,
    )
    assert gone.disable_reason and "410" in gone.disable_reason
    hist = FeedHistory(consecutive_failures=2, failure_kind="permanent")
    nf = plan(
        hist,
        res(Outcome.ERROR, 404, "HTTP 404"),
        is_feed=None,
        new_entries=None,
        ttl_minutes=None,
        policy=POLICY,
    )
    assert nf.disable_reason and "3 failures" in nf.disable_reason
    hist = FeedHistory(consecutive_failures=2, failure_kind="transient")
    flaky = plan(
        hist,
        res(Outcome.ERROR, 500, "HTTP 500"),
        is_feed=None,
        new_entries=None,
        ttl_minutes=None,
        policy=POLICY,
    )
    assert flaky.disable_reason is None
    hist = FeedHistory(
        consecutive_failures=POLICY.disable_after_transient - 1, failure_kind="transient"
    )
    dead = plan(
        hist,
        res(Outcome.ERROR, 500, "HTTP 500"),
        is_feed=None,
        new_entries=None,
        ttl_minutes=None,
        policy=POLICY,
    )
    assert dead.disable_reason and "HTTP 500" in dead.disable_reason


@given(
    failures=st.integers(0, 50),
    new=st.integers(0, 1000),
    hours=st.floats(0.01, 500),
    rate=st.none() | st.floats(0, 1e4),
    interval=st.none() | st.integers(1, 100_000),
    ok=st.booleans(),
    ttl=st.none() | st.integers(1, 10**6),
)
def test_next_fetch_always_in_bounds(
    failures: int,
    new: int,
    hours: float,
    rate: float | None,
    interval: int | None,
    ok: bool,
    ttl: int | None,
) -> None:
    hist = FeedHistory(
        last_fetched_at=NOW - timedelta(hours=hours),
        interval_minutes=interval,
        new_per_hour=rate,
        consecutive_failures=failures,
    )
    r = res() if ok else res(Outcome.ERROR, 500, "HTTP 500")
    p = plan(
        hist,
        r,
        is_feed=True if ok else None,
        new_entries=new,
        ttl_minutes=ttl,
        policy=POLICY,
        rng=random.Random(0),
    )
    delay = p.next_fetch_at - NOW
    assert POLICY.min_interval * 0.8 <= delay <= timedelta(days=1) * 1.2


def robots(body: str | None, status: int = 200, outcome: Outcome = Outcome.OK) -> RobotsPolicy:
    fetched = FetchResult(
        "https://x.example.com/robots.txt",
        FetchKind.ROBOTS,
        outcome,
        NOW,
        status=status,
        body=(body or "").encode(),
    )
    record = record_from_fetch("https://x.example.com", fetched, timedelta(hours=24))
    return RobotsPolicy(record, "news-ingest/0.1 (+https://example.org)")


def test_robots_rules() -> None:
    policy = robots(
        "User-agent: *\nDisallow: /private/\nCrawl-delay: 3\n\n"
        "User-agent: news-ingest\nDisallow: /no-bots/\n"
    )
    assert policy.allowed("https://x.example.com/news/1")[0]
    assert not policy.allowed("https://x.example.com/no-bots/1")[0]
    assert robots("User-agent: *\nCrawl-delay: 3\n").crawl_delay() == 3.0
    assert robots(None, 404, Outcome.ERROR).allowed("https://x.example.com/private/1")[0]
    unreachable = robots(None, 503, Outcome.ERROR)
    allowed, reason = unreachable.allowed("https://x.example.com/a")
    assert not allowed and reason and "RFC 9309" in reason
    assert product_token("news-ingest/0.1 (+https://x)") == "news-ingest"
    assert product_token("") == "*"
