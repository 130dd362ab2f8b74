"""A picture of what came in (``ingest report``): one self-contained HTML file.

Everything is read from one snapshot of the warehouse and drawn as inline SVG
by this module: no scripts, no fonts, no stylesheets or images from anywhere
else, so the file opens offline and can be mailed or archived as it is.

The period is the ``days`` days up to the newest article day in the
warehouse (an article's day: its publication date, else the day it was
first seen), so a backfilled collection is shown where its articles are.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.location import Lake, location_text
from ingest.store import read
from ingest.store.schema import sql_literal

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
OTHER = "other"
DAY = "coalesce(published_at, first_seen_at)"


@dataclass
class Chart:
    """One figure: its title, a note on how to read it, and its SVG (or a
    message when the period has no data for it)."""

    key: str
    title: str
    note: str
    points: int
    svg: str


@dataclass
class Facts:
    """What the report shows, gathered from one snapshot."""

    warehouse: str
    first: date
    last: date
    health_first: date = date.min
    health_last: date = date.min
    totals: dict[str, int] = field(default_factory=dict)
    per_source_day: list[tuple[date, str, int]] = field(default_factory=list)
    stories_day: list[tuple[date, str, int]] = field(default_factory=list)
    syndication: list[tuple[str, str, str, int]] = field(default_factory=list)
    languages: list[tuple[str, int]] = field(default_factory=list)
    outcomes_day: list[tuple[date, str, int]] = field(default_factory=list)
    feeds_day: list[tuple[date, str, int]] = field(default_factory=list)
    biggest: list[tuple[str, int, str, date | None, str]] = field(default_factory=list)
    alerts: list[tuple[str, str, datetime, str]] = field(default_factory=list)


def _rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in con.execute(sql).fetchall()]


def gather(
    warehouse: Path | Lake, days: int, at: str | None = None, today_utc: date | None = None
) -> Facts:
    """The report's facts for the ``days`` days up to the newest article day."""
    with read.reading(warehouse, limits=read.ReadLimits(at=at)) as con:
        con.execute("BEGIN TRANSACTION")
        newest = con.execute(f"SELECT max({DAY} AT TIME ZONE 'UTC')::DATE FROM articles").fetchone()
        last = newest[0] if newest and newest[0] else date.today()
        first = last - timedelta(days=max(days, 1) - 1)
        span = (
            f"BETWEEN {sql_literal(first.isoformat())}::DATE "
            f"AND {sql_literal(last.isoformat())}::DATE"
        )
        in_period = f"({DAY} AT TIME ZONE 'UTC')::DATE {span}"
        facts = Facts(location_text(warehouse), first, last)
        # feed health is the pipeline's own history: the days up to today
        today = today_utc or date.today()
        facts.health_last, facts.health_first = today, today - (last - first)
        totals = _rows(
            con,
            f"""SELECT count(*), count(DISTINCT source_id), count(DISTINCT cluster_id),
                       count(*) FILTER (WHERE wire_service IS NOT NULL)
                FROM articles WHERE {in_period}""",
        )[0]
        facts.totals = dict(
            zip(("articles", "sources", "stories", "wire_credited"), map(int, totals), strict=True)
        )
        facts.per_source_day = _rows(
            con,
            f"""SELECT ({DAY} AT TIME ZONE 'UTC')::DATE AS day, source_id, count(*)
                FROM articles WHERE {in_period} GROUP BY ALL ORDER BY 1, 2""",
        )
        facts.stories_day = _rows(
            con,
            f"""SELECT (coalesce(first_published_at, first_seen_at) AT TIME ZONE 'UTC')::DATE,
                       CASE WHEN members = 1 THEN '1 publication'
                            WHEN members <= 4 THEN '2-4 publications'
                            ELSE '5 or more' END, count(*)
                FROM stories
                WHERE (coalesce(first_published_at, first_seen_at) AT TIME ZONE 'UTC')::DATE {span}
                GROUP BY ALL ORDER BY 1, 2""",
        )
        facts.syndication = _rows(
            con,
            f"""SELECT original_source, republisher, via, sum(articles)::INTEGER
                FROM syndication
                WHERE (last_at AT TIME ZONE 'UTC')::DATE >= {sql_literal(first.isoformat())}::DATE
                GROUP BY ALL ORDER BY 4 DESC, 1, 2 LIMIT 40""",
        )
        facts.languages = _rows(
            con,
            f"""SELECT coalesce(language, '(unknown)'), count(*) FROM articles
                WHERE {in_period} GROUP BY 1 ORDER BY 2 DESC, 1""",
        )
        facts.outcomes_day = _rows(
            con,
            f"""SELECT ({DAY} AT TIME ZONE 'UTC')::DATE, coalesce(body_status, 'page'), count(*)
                FROM articles WHERE {in_period} GROUP BY ALL ORDER BY 1, 2""",
        )
        facts.feeds_day = _rows(
            con,
            f"""SELECT (fetched_at AT TIME ZONE 'UTC')::DATE, outcome, count(*) FROM fetch_log
                WHERE kind = 'feed' AND (fetched_at AT TIME ZONE 'UTC')::DATE
                      BETWEEN {sql_literal(facts.health_first.isoformat())}::DATE
                      AND {sql_literal(facts.health_last.isoformat())}::DATE
                GROUP BY ALL ORDER BY 1, 2""",
        )
        facts.biggest = _rows(
            con,
            f"""SELECT coalesce(title, '(no title)'), members, array_to_string(sources, ', '),
                       (coalesce(first_published_at, first_seen_at) AT TIME ZONE 'UTC')::DATE,
                       coalesce(wire_service, '')
                FROM stories
                WHERE (coalesce(first_published_at, first_seen_at) AT TIME ZONE 'UTC')::DATE {span}
                ORDER BY members DESC, source_count DESC, cluster_id LIMIT 15""",
        )
        facts.alerts = [(k, s, at, e) for k, s, _, at, e in read.open_alerts(con)]
        con.execute("COMMIT")
    return facts


# --------------------------------------------------------------------------- drawing


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# outcomes keep their colour in every chart: green is good, red is a failure
SEMANTIC = {
    "ok": "#59a14f", "page": "#59a14f", "not_modified": "#4e79a7", "error": "#e15759",
    "blocked": "#b07aa1", "skipped": "#bab0ac", "provisional": "#f28e2b",
    "feed-final": "#edc948", OTHER: "#cccccc",
}  # fmt: skip


def _colours(keys: Sequence[str]) -> dict[str, str]:
    return {k: SEMANTIC.get(k, PALETTE[i % len(PALETTE)]) for i, k in enumerate(keys)}


def _legend(colours: dict[str, str], x: int, y: int) -> str:
    out = []
    for i, (key, colour) in enumerate(colours.items()):
        yy = y + i * 16
        out.append(
            f'<rect x="{x}" y="{yy}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{yy + 9}" font-size="11">{_esc(key)}</text>'
        )
    return "".join(out)


def stacked_days(
    rows: Sequence[tuple[date, str, int]], first: date, last: date, top: int = 8
) -> tuple[str, int]:
    """Bars per day stacked by a key (the ``top`` biggest keys, the rest as
    "other"); returns the SVG and how many values it draws."""
    if not rows:
        return "", 0
    total: dict[str, int] = defaultdict(int)
    for _, key, n in rows:
        total[key] += n
    keep = [k for k, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    keys = keep + ([OTHER] if len(total) > top else [])
    colours = _colours(keys)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    per_day: dict[date, dict[str, int]] = {d: defaultdict(int) for d in days}
    for day, key, n in rows:
        if day in per_day:
            per_day[day][key if key in keep else OTHER] += n
    peak = max((sum(v.values()) for v in per_day.values()), default=0) or 1
    width, height, left, bottom, legend = 760, 240, 40, 30, 170
    plot_w = width - left - legend - 10
    bar = plot_w / len(days)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img">'
    ]
    for frac in (0, 0.5, 1):
        y = height - bottom - frac * (height - bottom - 10)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{round(peak * frac)}</text>"
        )
    drawn = 0
    for i, day in enumerate(days):
        y = height - bottom
        for key in keys:
            n = per_day[day].get(key, 0)
            if not n:
                continue
            h = n / peak * (height - bottom - 10)
            y -= h
            drawn += 1
            parts.append(
                f'<rect class="value" x="{left + i * bar + 1:.1f}" y="{y:.1f}" '
                f'width="{max(bar - 2, 1):.1f}" height="{h:.1f}" fill="{colours[key]}">'
                f"<title>{_esc(day)} · {_esc(key)}: {n}</title></rect>"
            )
    step = max(1, len(days) // 8)
    for i in range(0, len(days), step):
        parts.append(
            f'<text x="{left + i * bar + bar / 2:.1f}" y="{height - bottom + 14}" '
            f'font-size="10" text-anchor="middle">{days[i].strftime("%m-%d")}</text>'
        )
    parts.append(_legend(colours, width - legend + 10, 10))
    parts.append("</svg>")
    return "".join(parts), drawn


def bars(rows: Sequence[tuple[str, int]], top: int = 15) -> tuple[str, int]:
    """Horizontal bars, biggest first."""
    rows = list(rows)[:top]
    if not rows:
        return "", 0
    peak = max(n for _, n in rows) or 1
    width, row_h, label = 760, 20, 150
    height = row_h * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img">'
    ]
    for i, (key, n) in enumerate(rows):
        y = 5 + i * row_h
        w = n / peak * (width - label - 60)
        parts.append(
            f'<text x="{label - 6}" y="{y + 13}" font-size="11" text-anchor="end">'
            f"{_esc(key)}</text>"
            f'<rect class="value" x="{label}" y="{y + 2}" width="{max(w, 1):.1f}" height="14" '
            f'fill="{PALETTE[0]}"><title>{_esc(key)}: {n}</title></rect>'
            f'<text x="{label + w + 4:.1f}" y="{y + 13}" font-size="11">{n:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts), len(rows)


def flow_graph(rows: Sequence[tuple[str, str, str, int]]) -> tuple[str, int]:
    """Who feeds whom: originals (wires, first publishers) on the left,
    republishers on the right, a line per pair as wide as its count (solid: a
    wire credit; dashed: a story copy without credit)."""
    if not rows:
        return "", 0
    left = sorted({r[0] for r in rows})
    right = sorted({r[1] for r in rows})
    row_h = 22
    height = max(len(left), len(right)) * row_h + 20
    width, lx, rx = 760, 200, 560
    peak = max(r[3] for r in rows) or 1
    ly = {k: 15 + i * row_h for i, k in enumerate(left)}
    ry = {k: 15 + i * row_h for i, k in enumerate(right)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img">'
    ]
    for original, republisher, via, n in rows:
        dash = "" if via == "wire credit" else ' stroke-dasharray="5 3"'
        parts.append(
            f'<path class="value" d="M{lx},{ly[original]} C{(lx + rx) / 2},{ly[original]} '
            f'{(lx + rx) / 2},{ry[republisher]} {rx},{ry[republisher]}" fill="none" '
            f'stroke="{PALETTE[1] if via == "wire credit" else PALETTE[0]}" '
            f'stroke-opacity="0.7" stroke-width="{1 + 7 * n / peak:.1f}"{dash}>'
            f"<title>{_esc(original)} → {_esc(republisher)} ({_esc(via)}): {n}</title></path>"
        )
    for key, y in ly.items():
        parts.append(
            f'<circle cx="{lx}" cy="{y}" r="4" fill="#333"/>'
            f'<text x="{lx - 8}" y="{y + 4}" font-size="11" text-anchor="end">{_esc(key)}</text>'
        )
    for key, y in ry.items():
        parts.append(
            f'<circle cx="{rx}" cy="{y}" r="4" fill="#333"/>'
            f'<text x="{rx + 8}" y="{y + 4}" font-size="11">{_esc(key)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts), len(rows)


# --------------------------------------------------------------------------- the page


def charts(facts: Facts) -> list[Chart]:
    first, last = facts.first, facts.last
    out = []
    svg, n = stacked_days(facts.per_source_day, first, last)
    out.append(
        Chart(
            "articles-per-source",
            "Articles per source and day",
            "By publication day (first seen when the page gives none); the eight biggest "
            "sources, the rest as other.",
            n,
            svg,
        )
    )
    svg, n = stacked_days(facts.stories_day, first, last)
    out.append(
        Chart(
            "new-stories",
            "New stories per day, by size",
            "A story is an article and its syndicated or near-duplicate copies; its day is "
            "its first publication.",
            n,
            svg,
        )
    )
    svg, n = flow_graph(facts.syndication)
    out.append(
        Chart(
            "syndication",
            "Syndication: who feeds whom",
            "Left: wire services and first publishers; right: the sources that carried "
            "their stories. Solid: the copy credits the wire; dashed: a copy of another "
            "source's story without a credit. Width: articles.",
            n,
            svg,
        )
    )
    svg, n = bars(facts.languages)
    out.append(Chart("languages", "Languages", "Articles of the period by language.", n, svg))
    svg, n = stacked_days(facts.outcomes_day, first, last)
    out.append(
        Chart(
            "extraction",
            "Extraction outcomes",
            "Articles by day and body_status: page (the page's text), "
            "provisional (the feed's text, the page still to come), feed-final, "
            "withheld (the publisher opted out of archiving; no text kept).",
            n,
            svg,
        )
    )
    svg, n = stacked_days(facts.feeds_day, facts.health_first, facts.health_last)
    out.append(
        Chart(
            "feed-health",
            "Feed health",
            "Feed fetches per day by outcome (ok, not_modified, error, blocked, skipped), "
            "over the days up to today.",
            n,
            svg,
        )
    )
    return out


_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 980px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin: 28px 0 4px; }
.meta { color: #666; } .note { color: #666; font-size: 12px; margin: 0 0 6px; }
.totals { display: flex; gap: 24px; margin: 16px 0; }
.totals div { background: #f5f5f5; padding: 8px 14px; border-radius: 6px; }
.totals b { display: block; font-size: 20px; }
figure { margin: 0; } .empty { color: #999; font-style: italic; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
td.n { text-align: right; }
"""


def render(facts: Facts) -> str:
    """The report as one HTML document."""
    t = facts.totals
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>News ingest report {facts.first} to {facts.last}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>What came in</h1>",
        f'<p class="meta">{_esc(facts.warehouse)} · {facts.first} to {facts.last}</p>',
        '<div class="totals">',
        f"<div><b>{t.get('articles', 0):,}</b>articles</div>",
        f"<div><b>{t.get('sources', 0):,}</b>sources</div>",
        f"<div><b>{t.get('stories', 0):,}</b>stories</div>",
        f"<div><b>{t.get('wire_credited', 0):,}</b>credited to a wire</div>",
        "</div>",
    ]
    for chart in charts(facts):
        parts.append(
            f'<h2 id="{chart.key}">{_esc(chart.title)}</h2>'
            f'<p class="note">{_esc(chart.note)}</p>'
            f'<figure class="chart" data-chart="{chart.key}" data-points="{chart.points}">'
            + (chart.svg or '<p class="empty">No data in this period.</p>')
            + "</figure>"
        )
    parts.append('<h2 id="alerts">Open alerts</h2>')
    if facts.alerts:
        parts.append(
            "<table><tr><th>alert</th><th>subject</th><th>since</th><th>evidence</th></tr>"
        )
        for kind, subject, since, evidence in facts.alerts:
            parts.append(
                f"<tr><td>{_esc(kind)}</td><td>{_esc(subject)}</td>"
                f"<td>{since:%Y-%m-%d %H:%M}</td><td>{_esc(evidence)}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append('<p class="empty">None: every source and feed looks as usual.</p>')
    parts.append('<h2 id="biggest">The biggest stories</h2>')
    if facts.biggest:
        parts.append(
            "<table><tr><th>story</th><th>publications</th><th>sources</th>"
            "<th>first published</th><th>wire</th></tr>"
        )
        for title, members, sources, day, wire in facts.biggest:
            parts.append(
                f'<tr><td>{_esc(title)}</td><td class="n">{members}</td>'
                f"<td>{_esc(sources)}</td><td>{day or ''}</td><td>{_esc(wire)}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append('<p class="empty">No stories in this period.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(warehouse: Path | Lake, out: Path, days: int = 30, at: str | None = None) -> Facts:
    """Gather, render and write the report to ``out`` (atomically)."""
    facts = gather(warehouse, days, at)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.with_name(f".{out.name}.tmp")
    work.write_text(render(facts), encoding="utf-8")
    work.replace(out)
    return facts
