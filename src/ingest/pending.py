"""Links whose page is still to come, and what a page fetch means for its article.

Queued is not failed: a link whose origin's turn would come after the run's
page budget is never requested; it waits in ``pending_pages`` with no article
row and the next run fetches it first. Transient is not final: a page that
failed for a reason that may pass (timeout, 5xx, 429, a reset, an unreachable
robots.txt) gets the feed's text as a *provisional* body and is retried with
backoff for at least a day; permanent outcomes (404, 410, a refused address,
robots.txt disallow, not a page) make the feed's text final at once.

Pure functions: :func:`ingest.pipeline.build_candidates` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.records import FeedEntry, FetchResult, Outcome, PendingPage
from ingest.schedule import Failure, classify

QUEUED = "queued"
RETRY = "retry"


@dataclass(frozen=True)
class RetryPolicy:
    # First retry after 15 minutes (about one scheduled run), doubling up to
    # 6 hours: a site down for an afternoon is caught the same evening.
    base: timedelta = timedelta(minutes=15)
    cap: timedelta = timedelta(hours=6)
    # The feed's text becomes final only after the page kept failing for this
    # long, and after at least ``min_attempts`` requests: a day and a half
    # covers a weekend outage of a small site's server.
    window: timedelta = timedelta(hours=36)
    min_attempts: int = 3


def page_failure(res: FetchResult) -> Failure | None:
    """None for a page that came; else whether its failure may pass.

    The same classification as feeds (``schedule.classify``): a 404, a 410,
    a refused address or robots.txt disallow is permanent; a timeout, a 5xx,
    a 429, a reset or an unreachable host is transient."""
    return classify(res, is_feed=True)


def queued(entry: FeedEntry, now: datetime, reason: str | None) -> PendingPage:
    """A link never requested (the run's page budget ran out, or it stopped)."""
    kind = RETRY if entry.attempts else QUEUED
    return PendingPage(entry, kind, entry.queued_at or now, now, reason, entry.attempts)


def gave_up(entry: FeedEntry, now: datetime, policy: RetryPolicy) -> bool:
    """Whether this failure ends the retries: the link has failed transiently
    for longer than the window, with enough attempts."""
    attempts = entry.attempts + 1
    since = entry.queued_at or now
    return attempts >= policy.min_attempts and now - since >= policy.window


def retry(entry: FeedEntry, now: datetime, reason: str | None, policy: RetryPolicy) -> PendingPage:
    """A link whose page failed transiently: tried again after a backoff."""
    attempts = entry.attempts + 1
    delay = min(policy.base * (2 ** (attempts - 1)), policy.cap)
    return PendingPage(entry, RETRY, entry.queued_at or now, now + delay, reason, attempts)


def deferred(res: FetchResult) -> bool:
    return res.outcome is Outcome.DEFERRED
