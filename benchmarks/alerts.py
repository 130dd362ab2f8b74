"""How the completeness alerts' thresholds were chosen: the rules of
``ingest.alerts`` run on simulated months of history in a real warehouse,
every hour, for a grid of thresholds.

The sources are simulated as news sites publish: a weekday volume from 2 to
400 articles a day, a daily rhythm in the site's own time zone (quiet at
night), a weekend dip (25-70 % of a weekday), day-to-day variation (a gamma
factor with a CV of about 0.35), and public holidays on weekdays at 20-50 %
of the usual volume. Articles are first seen at the next 15-minute poll.

For each rule and threshold the script prints:

- **false alerts per source and 30 days** on normal history (no fault: every
  alert is false), and how many of them fell on a weekend or a holiday;
- **detection delay** on the same sources with faults injected (the source
  stops for 72 h; the share of feed-text bodies or of 4xx/5xx answers
  jumps to 0.6 for 48 h; the wire share moves by 0.3 for two weeks): the
  median and 90th percentile of the hours from the fault's start to the
  first evaluation where the rule holds, and the share of faults missed.

    python benchmarks/alerts.py [--replicas 3] [--weeks 8] [--seed 11]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent / "src"))

from ingest import alerts  # noqa: E402
from ingest.store import connection  # noqa: E402

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
HOUR, DAY, WEEK = timedelta(hours=1), timedelta(days=1), timedelta(days=7)
VOLUMES = (2, 5, 10, 20, 50, 100, 200, 400)  # articles on a usual weekday
# the share of a day's articles in each local hour (a newsroom's day)
PROFILE = np.array(
    [0.15] * 6
    + [0.6, 1.0, 1.3, 1.4, 1.4, 1.3, 1.3, 1.2, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8, 0.6, 0.4, 0.3, 0.2]
)
PROFILE = PROFILE / PROFILE.sum()


@dataclass(frozen=True)
class Source:
    source_id: str
    volume: float
    offset_hours: int  # the site's time zone
    weekend: float
    fallback: float  # usual share of feed-text bodies
    errors: float  # usual share of 4xx/5xx page answers
    wire: float  # usual share of wire-credited articles


@dataclass(frozen=True)
class Fault:
    source_id: str
    kind: str
    start: datetime
    end: datetime


def sources(replicas: int, rng: np.random.Generator) -> list[Source]:
    out = []
    for r in range(replicas):
        for v in VOLUMES:
            out.append(
                Source(
                    f"s{v}-{r}",
                    float(v),
                    int(rng.integers(-8, 10)),
                    float(rng.uniform(0.25, 0.7)),
                    float(rng.choice([0.0, 0.02, 0.05, 0.1])),
                    float(rng.choice([0.0, 0.01, 0.03, 0.08])),
                    float(rng.choice([0.0, 0.1, 0.3, 0.6])),
                )
            )
    return out


def holidays(days: int, rng: np.random.Generator) -> dict[int, float]:
    """Weekday holidays (day index -> volume factor): about one in three weeks."""
    weekdays = [d for d in range(days) if (START + d * DAY).weekday() < 5]
    chosen = rng.choice(weekdays, size=max(1, days // 21), replace=False)
    return {int(d): float(rng.uniform(0.2, 0.5)) for d in chosen}


def simulate(
    srcs: list[Source],
    days: int,
    rng: np.random.Generator,
    free: dict[int, float],
    faults: list[Fault],
) -> tuple[pa.Table, pa.Table]:
    """Articles and page fetches of every source over ``days``."""
    art: dict[str, list[object]] = {k: [] for k in ("id", "source", "seen", "status", "wire")}
    fetch: dict[str, list[object]] = {k: [] for k in ("feed", "fetched", "status")}
    n = 0
    for s in srcs:
        mine = [f for f in faults if f.source_id == s.source_id]
        for d in range(days):
            day = START + d * DAY
            local_weekday = (day + s.offset_hours * HOUR).weekday()
            factor = rng.gamma(8.0, 1 / 8.0)
            if local_weekday >= 5:
                factor *= s.weekend
            factor *= free.get(d, 1.0)
            for h in range(24):
                local = (h + s.offset_hours) % 24
                k = rng.poisson(s.volume * factor * PROFILE[local])
                for u in rng.uniform(0, 3600, size=k):
                    t = day + h * HOUR + timedelta(seconds=float(u))
                    on = {f.kind for f in mine if f.start <= t < f.end}
                    if "silent" in on:
                        continue
                    seen = t + timedelta(minutes=15 - t.minute % 15, seconds=rng.uniform(5, 60))
                    fallback = 0.6 if "fallback" in on else s.fallback
                    error = 0.6 if "error" in on else s.errors
                    wire = min(1.0, s.wire + 0.3) if "wire" in on else s.wire
                    n += 1
                    art["id"].append(f"a{n}")
                    art["source"].append(s.source_id)
                    art["seen"].append(seen)
                    art["status"].append("feed-summary" if rng.random() < fallback else "page")
                    art["wire"].append("AP" if rng.random() < wire else None)
                    fetch["feed"].append(f"{s.source_id}-feed")
                    fetch["fetched"].append(seen - timedelta(seconds=2))
                    fetch["status"].append(404 if rng.random() < error else 200)
    ts = pa.timestamp("us", tz="UTC")
    return (
        pa.table(
            {
                "id": art["id"],
                "source": art["source"],
                "seen": pa.array(art["seen"], ts),
                "status": art["status"],
                "wire": pa.array(art["wire"], pa.string()),
            }
        ),
        pa.table(
            {
                "feed": fetch["feed"],
                "fetched": pa.array(fetch["fetched"], ts),
                "status": pa.array(fetch["status"], pa.int32()),
            }
        ),
    )


def warehouse(path: Path, srcs: list[Source], articles: pa.Table, fetches: pa.Table) -> None:
    with connection.writer(path) as con:
        con.executemany(
            "INSERT INTO feeds (feed_id, source_id, url, registry_url) VALUES (?, ?, ?, ?)",
            [(f"{s.source_id}-feed", s.source_id, f"https://{s.source_id}.example/feed", "x")
             for s in srcs],
        )  # fmt: skip
        con.register("sim_articles", articles)
        con.execute("""
            INSERT INTO articles (article_id, canonical_url, url, source_id, body, word_count,
                content_hash, cluster_id, extractor, first_seen_at, last_seen_at, body_status,
                wire_service)
            SELECT id, 'u' || id, 'u' || id, source, 'b', 1, id, id, 'x', seen, seen, status, wire
            FROM sim_articles
        """)
        con.register("sim_fetches", fetches)
        con.execute("""
            INSERT INTO fetch_log (run_id, url, kind, status, outcome, fetched_at, feed_id)
            SELECT 'r', 'u', 'page', status, CASE WHEN status < 400 THEN 'ok' ELSE 'error' END,
                   fetched, feed FROM sim_fetches
        """)


def sweep(
    path: Path,
    times: Iterable[datetime],
    measure: Callable[[object, datetime], list[object]],
    grid: dict[str, Callable[[object], bool]],
) -> dict[str, list[tuple[datetime, str]]]:
    """The moments each rule variant starts to hold, per subject."""
    holding: dict[str, set[str]] = {name: set() for name in grid}
    starts: dict[str, list[tuple[datetime, str]]] = {name: [] for name in grid}
    with connection.writer(path) as con:
        for now in times:
            found = measure(con, now)
            for name, rule in grid.items():
                now_holding = {x.source_id for x in found if rule(x)}  # type: ignore[attr-defined]
                starts[name] += [(now, s) for s in sorted(now_holding - holding[name])]
                holding[name] = now_holding
    return starts


def report(
    title: str,
    *,
    normal: dict[str, list[tuple[datetime, str]]],
    faulty: dict[str, list[tuple[datetime, str]]],
    faults: list[Fault],
    source_days: float,
    quiet: Callable[[datetime, str], bool],
    within: timedelta,
) -> list[dict[str, object]]:
    print(f"\n{title}")
    print(f"{'variant':<34} {'false/src/30d':>13} {'on quiet days':>13} "
          f"{'delay p50 h':>11} {'p90 h':>6} {'missed':>7}")  # fmt: skip
    rows = []
    for name, false in normal.items():
        quiet_share = sum(1 for t, s in false if quiet(t, s)) / len(false) if false else 0.0
        delays, missed = [], 0
        for f in faults:
            hits = [
                t for t, s in faulty[name] if s == f.source_id and f.start <= t < f.start + within
            ]
            if hits:
                delays.append((hits[0] - f.start).total_seconds() / 3600)
            else:
                missed += 1
        rate = len(false) / source_days * 30
        p50 = statistics.median(delays) if delays else float("nan")
        p90 = float(np.percentile(delays, 90)) if delays else float("nan")
        miss = missed / len(faults) if faults else 0.0
        print(f"{name:<34} {rate:>13.3f} {quiet_share:>13.0%} {p50:>11.1f} {p90:>6.1f} "
              f"{miss:>7.0%}")  # fmt: skip
        rows.append(
            {"variant": name, "false_per_source_30d": rate, "false_on_quiet_days": quiet_share,
             "delay_p50_h": p50, "delay_p90_h": p90, "missed": miss}
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3, help="sources per volume")
    parser.add_argument("--weeks", type=int, default=8, help="weeks evaluated after 4 of history")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--every", type=float, default=1.0, help="hours between evaluations")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument(
        "--rules", default="silent,fallback,error,wire", help="which rules to measure"
    )
    args = parser.parse_args()
    print(f"seed {args.seed}; {args.replicas} sources per volume {VOLUMES}; "
          f"{args.weeks} weeks evaluated every {args.every:g} h after 4 weeks")  # fmt: skip
    began = time.monotonic()
    rng = np.random.default_rng(args.seed)
    srcs = sources(args.replicas, rng)
    days = 7 * (4 + args.weeks)
    free = holidays(days, rng)
    first = START + 28 * DAY
    times = [first + i * args.every * HOUR for i in range(int(args.weeks * 168 / args.every))]
    faults: list[Fault] = []
    for s in srcs:  # one fault of each kind per source, at a random hour of the evaluated weeks
        for kind, length in (("silent", 72), ("fallback", 48), ("error", 48), ("wire", 336)):
            start = first + DAY + int(rng.integers(0, (args.weeks * 7 - 17) * 24)) * HOUR
            faults.append(Fault(s.source_id, kind, start, start + length * HOUR))
    source_days = len(srcs) * args.weeks * 7.0
    by_id = {s.source_id: s for s in srcs}

    def quiet(t: datetime, source: str) -> bool:
        local = t + by_id[source].offset_hours * HOUR
        d = (local - START).days
        return local.weekday() >= 5 or d in free or (d - 1) in free

    results: dict[str, object] = {"seed": args.seed, "sources": len(srcs), "weeks": args.weeks}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for world, injected in (("normal", []), ("faulty", faults)):
            again = np.random.default_rng(args.seed + 1)  # the same history in both worlds
            arts, fetches = simulate(srcs, days, again, free, injected)
            paths[world] = Path(tmp) / f"{world}.duckdb"
            warehouse(paths[world], srcs, arts, fetches)
            print(f"{world}: {arts.num_rows:,} articles")

        def run(
            measure: Callable[[object, datetime], list[object]],
            grid: dict[str, Callable[[object], bool]],
            kind: str,
            title: str,
            within: timedelta,
        ) -> None:
            if kind not in args.rules.split(","):
                return
            normal = sweep(paths["normal"], times, measure, grid)
            faulty = sweep(paths["faulty"], times, measure, grid)
            mine = [f for f in faults if f.kind == kind]
            results[kind] = report(
                title,
                normal=normal,
                faulty=faulty,
                faults=mine,
                source_days=source_days,
                quiet=quiet,
                within=within,
            )

        silent_grid = {
            f"silent >= {f:g} h, expected >= {e:g}": (
                lambda x, f=f, e=e: alerts.is_silent(x, floor_hours=f, expected=e)  # type: ignore[arg-type]
            )
            for f in (3.0, 6.0, 12.0)
            for e in (5.0, 8.0, 10.0, 12.0, 15.0)
            if f != 3.0 or e == 10.0
        }
        run(lambda con, now: alerts.silences(con, now, 3.0), silent_grid, "silent",  # type: ignore[arg-type]
            "silent_source (fault: the source stops for 72 h)", 72 * HOUR)  # fmt: skip
        jump_grid = {
            f"x{f:g}, floor {fl:g}, >= {m}": (
                lambda x, f=f, fl=fl, m=m: alerts.jumped(x, f, fl, m)  # type: ignore[arg-type]
            )
            for f in (3.0,)
            for fl in (0.2, 0.25, 0.3, 0.35)
            for m in (10, 15)
        }
        run(lambda con, now: alerts.jump_shares(con, now, alerts.FALLBACK_EVENTS), jump_grid,  # type: ignore[arg-type]
            "fallback", "fallback_jump (fault: 60 % feed text for 48 h)", 48 * HOUR)  # fmt: skip
        run(lambda con, now: alerts.jump_shares(con, now, alerts.ERROR_EVENTS), jump_grid,  # type: ignore[arg-type]
            "error", "error_jump (fault: 60 % 4xx/5xx for 48 h)", 48 * HOUR)  # fmt: skip
        wire_grid = {
            f"margin {m:g}, >= {n}": (lambda x, m=m, n=n: alerts.shifted(x, m, n))  # type: ignore[arg-type]
            for m in (0.1, 0.15, 0.2)
            for n in (10, 20)
        }
        run(alerts.wire_shares, wire_grid, "wire",  # type: ignore[arg-type]
            "wire_share_shift (fault: wire share +0.3 for 14 days)", 14 * DAY)  # fmt: skip
    took = time.monotonic() - began
    print(f"\n{took:.0f} s")
    if args.results_dir:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        out = args.results_dir / "alerts.json"
        out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
