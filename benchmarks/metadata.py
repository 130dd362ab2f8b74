"""Article metadata and body extraction against the hand-labelled dev set.

Runs each prediction function of ``PREDICTORS`` over every page of
``tests/fixtures/metadata`` (real news pages, see its README) and prints the
per-field scores side by side, then a per-language table and, for the first
predictor, the worst pages of each field (useful to spot label errors as well as
extraction errors). Add a column by adding a function to ``PREDICTORS``.

Run: ``.venv/bin/python benchmarks/metadata.py [--worst 15] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from metadata_score import (
    Gold,
    PageScore,
    Prediction,
    Report,
    evaluate,
    format_report,
    load_devset,
)


def _as_dict(doc: Any) -> dict[str, Any]:
    if doc is None:
        return {}
    if isinstance(doc, dict):
        return doc
    as_dict = getattr(doc, "as_dict", None)
    return dict(as_dict()) if callable(as_dict) else {}


def trafilatura_plain(gold: Gold) -> Prediction:
    """Plain ``trafilatura.bare_extraction`` with its default settings: author split
    on ';', the date taken as a day (trafilatura returns a date only), UTC midnight."""
    doc = _as_dict(trafilatura.bare_extraction(gold.html, url=gold.url, with_metadata=True))
    authors = [a.strip() for a in (doc.get("author") or "").split(";") if a.strip()]
    published: datetime | None = None
    raw_date = doc.get("date")
    if raw_date:
        try:
            published = datetime.combine(date.fromisoformat(str(raw_date)[:10]), time(), UTC)
        except ValueError:
            published = None
    return Prediction(
        title=doc.get("title"),
        authors=authors,
        published_at=published,
        published_precision="day",
        language=doc.get("language"),
        body=doc.get("text") or "",
    )


def project(gold: Gold) -> Prediction:
    """The project's extraction step (``ingest.extract.extract_page``) as it runs
    for a page whose feed entry carries the link only: every field from the
    page, with what a registry entry would say of the source (its name and
    country; no language, no time zone)."""
    from ingest.extract import extract_page
    from ingest.metadata import Context

    context = Context(url=gold.url, source_name=gold.site_name, country=gold.country)
    ex = extract_page(gold.html, gold.url, context)
    return Prediction(
        title=ex.title,
        authors=list(ex.authors),
        published_at=ex.published_at,
        published_precision=ex.published_precision,
        language=ex.language,
        body=ex.body,
    )


PREDICTORS: dict[str, Callable[[Gold], Prediction]] = {
    "trafilatura": trafilatura_plain,
    "project": project,
}


def _worst(report: Report, rows_by_id: dict[str, Gold], n: int) -> str:
    out: list[str] = []

    def section(title: str, rows: list[PageScore], show: Callable[[PageScore, Gold], str]) -> None:
        out.append(f"\n== worst {title} ({len(rows)} wrong or imperfect; first {n})")
        for r in rows[:n]:
            out.append(f"  {r.id}: {show(r, rows_by_id[r.id])}")

    section(
        "title",
        [r for r in report.rows if not r.title_ok],
        lambda r, g: f"pred={r.pred_title!r} gold={g.title!r}",
    )
    section(
        "authors",
        sorted((r for r in report.rows if r.authors_f1 < 1), key=lambda r: r.authors_f1),
        lambda r, g: f"F1={r.authors_f1:.2f} pred={list(r.pred_authors)} gold={list(g.authors)}",
    )
    section(
        "published (wrong date)",
        [r for r in report.rows if not r.published_date_ok],
        lambda r, g: f"pred={r.pred_published} gold={g.published} ({g.published_precision})",
    )
    section(
        "language",
        [r for r in report.rows if not r.language_ok],
        lambda r, g: f"pred={r.pred_language!r} gold={g.language!r}",
    )
    section(
        "body",
        sorted(report.rows, key=lambda r: r.body_f1),
        lambda r, g: (
            f"F1={r.body_f1:.2f} P={r.body_precision:.2f} R={r.body_recall:.2f} "
            f"(gold {len(g.body)} chars)"
        ),
    )
    return "\n".join(out)


def _by_language(reports: list[Report]) -> str:
    fields = ("title", "authors", "publ", "date", "body")
    head = "lang    n" + "".join(
        f"  {r.name[:12]:>12}:" + "".join(f"{f:>8}" for f in fields) for r in reports
    )
    lines = [head]
    per = [r.by_language() for r in reports]
    for lang in per[0]:
        cells: list[str] = []
        for groups in per:
            g = groups[lang]
            vals = (
                g.title_exact,
                g.authors_f1,
                g.published_correct,
                g.published_date_correct,
                g.body_f1,
            )
            cells.append(" " * 15 + "".join(f"{v:>8.2f}" for v in vals))
        lines.append(f"{lang:<4}{per[0][lang].n:>5}" + "".join(cells))
    return "\n".join(lines)


def _previous_step(gold: Gold) -> None:
    """The extraction step before the metadata step existed: trafilatura's
    fast path with its own metadata (as ``extract_page`` called it then)."""
    trafilatura.bare_extraction(
        gold.html,
        url=gold.url,
        with_metadata=True,
        include_comments=False,
        fast=True,
        include_tables=True,
        date_extraction_params={"original_date": True, "extensive_search": False},
    )


def timing(devset: list[Gold], repeats: int) -> str:
    """CPU time per page of the previous extraction step and of the project's
    (fast path, metadata step, language), best of ``repeats``, in one process."""
    import time as clock

    from ingest.extract import extract_page
    from ingest.metadata import Context

    def run(step: Callable[[Gold], object]) -> float:
        best = float("inf")
        for _ in range(repeats):
            began = clock.process_time()
            for gold in devset:
                step(gold)
            best = min(best, clock.process_time() - began)
        return best / len(devset) * 1000

    project(devset[0])  # load the language model and warm the caches
    before = run(_previous_step)
    now = run(lambda g: extract_page(g.html, g.url, Context(g.url, g.site_name, g.country)))
    return (
        f"extraction per page (CPU, best of {repeats}): previous step {before:.1f} ms, "
        f"project {now:.1f} ms: {now / before:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worst", type=int, default=15, help="pages listed per field")
    parser.add_argument("--only", action="append", help="run only these predictors")
    parser.add_argument("--timing", type=int, default=0, help="time the step, best of N runs")
    args = parser.parse_args()
    devset = load_devset()
    names = args.only or list(PREDICTORS)
    reports = [evaluate(PREDICTORS[name], devset, name) for name in names]
    langs = {g.language for g in devset}
    sites = {g.site_name for g in devset}
    print(f"{len(devset)} pages, {len(sites)} publishers, {len(langs)} languages\n")
    print(format_report(*reports))
    print("\nper language (title exact, authors F1, published correct, date correct, body F1):")
    print(_by_language(reports))
    if args.worst:
        print(f"\nworst pages of {reports[-1].name}:")
        print(_worst(reports[-1], {g.id: g for g in devset}, args.worst))
    if args.timing:
        print("\n" + timing(devset, args.timing))


if __name__ == "__main__":
    main()
