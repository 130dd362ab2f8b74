"""Loader and scorer of the article-metadata dev set (``tests/fixtures/metadata``).

The set is a list of real news article pages, each stored gzip-compressed, with a
hand-checked label (title, authors, publication time, language, body text, ...)
in ``labels.jsonl``. ``tests/fixtures/metadata/README.md`` describes the pages and
states the scoring rules that this module implements:

- title: exact match after :func:`normalize_title`;
- authors: set F1 over names normalised by :func:`normalize_name`;
- published: same UTC minute (minute-precision gold) or same calendar date in the
  publisher's UTC offset (day-precision gold), see :func:`published_correct`;
- language: same ISO 639-1 primary subtag;
- body: the article-extraction-benchmark shingle metric (precision, recall, F1),
  see :func:`body_scores`.

Typical use::

    from metadata_score import Prediction, evaluate, format_report, load_devset

    report = evaluate(lambda gold: Prediction(title=..., ...), name="mine")
    print(format_report(report))

No project imports: tests and benchmarks import this file directly.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "metadata"
LABELS = FIXTURES / "labels.jsonl"
PAGES = FIXTURES / "pages"

PRECISIONS = ("minute", "day")


# --------------------------------------------------------------------------- gold


@dataclass(frozen=True)
class Gold:
    """One labelled page of the dev set (see the README for each field's meaning)."""

    id: str
    url: str
    html: bytes
    site_name: str
    country: str
    language: str
    title: str
    authors: tuple[str, ...]
    wire: str | None
    published: str
    published_precision: str
    utc_offset: str
    modified: str | None
    description: str | None
    body: str
    notes: str
    source_repo: str
    source_path: str
    source_commit: str
    licence: str

    @property
    def tz(self) -> timezone:
        """The publisher's UTC offset at publication time."""
        return parse_offset(self.utc_offset)

    @property
    def published_at(self) -> datetime | None:
        """The publication time (aware) when the gold has minute precision, else None."""
        if self.published_precision != "minute":
            return None
        return datetime.fromisoformat(self.published)

    @property
    def published_date(self) -> date:
        """The publication date in the publisher's time zone."""
        return date.fromisoformat(self.published[:10])


def parse_offset(offset: str) -> timezone:
    """``"+05:30"`` -> ``timezone(timedelta(hours=5, minutes=30))``."""
    m = re.fullmatch(r"([+-])(\d\d):(\d\d)", offset)
    if not m:
        raise ValueError(f"not a UTC offset: {offset!r}")
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(-delta if m.group(1) == "-" else delta)


def load_devset(fixtures: Path = FIXTURES) -> list[Gold]:
    """Read ``labels.jsonl`` and every page; the order is the file's (sorted by id)."""
    out: list[Gold] = []
    with (fixtures / "labels.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            html = gzip.decompress((fixtures / "pages" / f"{row['id']}.html.gz").read_bytes())
            out.append(
                Gold(
                    id=row["id"],
                    url=row["url"],
                    html=html,
                    site_name=row["site_name"],
                    country=row["country"],
                    language=row["language"],
                    title=row["title"],
                    authors=tuple(row["authors"]),
                    wire=row.get("wire"),
                    published=row["published"],
                    published_precision=row["published_precision"],
                    utc_offset=row["utc_offset"],
                    modified=row.get("modified"),
                    description=row.get("description"),
                    body=row["body"],
                    notes=row.get("notes", ""),
                    source_repo=row["source_repo"],
                    source_path=row["source_path"],
                    source_commit=row["source_commit"],
                    licence=row["licence"],
                )
            )
    return out


def check_devset(devset: Sequence[Gold]) -> list[str]:
    """Consistency problems of the labels (an empty list when there are none)."""
    problems: list[str] = []
    seen: set[str] = set()
    for g in devset:
        where = g.id
        if g.id in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(g.id)
        if g.published_precision not in PRECISIONS:
            problems.append(f"{where}: published_precision {g.published_precision!r}")
        try:
            tz = g.tz
        except ValueError as e:
            problems.append(f"{where}: {e}")
            continue
        if g.published_precision == "minute":
            at = datetime.fromisoformat(g.published)
            if at.tzinfo is None:
                problems.append(f"{where}: minute-precision published without offset")
            elif at.utcoffset() != tz.utcoffset(None):
                problems.append(f"{where}: utc_offset differs from the published offset")
        elif not re.fullmatch(r"\d{4}-\d\d-\d\d", g.published):
            problems.append(f"{where}: day-precision published is not a plain date")
        if g.modified is not None and datetime.fromisoformat(g.modified).tzinfo is None:
            problems.append(f"{where}: modified without offset")
        if not re.fullmatch(r"[a-z]{2}", g.language):
            problems.append(f"{where}: language {g.language!r}")
        if not re.fullmatch(r"[A-Z]{2}", g.country):
            problems.append(f"{where}: country {g.country!r}")
        if not normalize_title(g.title) or g.title != g.title.strip():
            problems.append(f"{where}: empty title or surrounding whitespace")
        if not g.body.strip():
            problems.append(f"{where}: empty body")
        if any(not a.strip() for a in g.authors):
            problems.append(f"{where}: empty author name")
        if not g.html:
            problems.append(f"{where}: empty page")
    return problems


# --------------------------------------------------------------------- prediction


@dataclass
class Prediction:
    """What a pipeline extracted from one page.

    ``published_at`` must be timezone-aware. ``published_precision`` is ``"day"``
    when only the date is meant (then only ``published_at``'s calendar date
    counts); anything else (``"minute"`` or None) means the time of day counts.
    """

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    published_precision: str | None = None
    language: str | None = None
    body: str = ""


# ------------------------------------------------------------------ normalisation

_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
        "\u201a": "'",  # ‚
        "\u201b": "'",  # ‛
        "\u2032": "'",  # ′
        "\u00b4": "'",  # ´
        "`": "'",
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u201f": '"',  # ‟
        "\u2033": '"',  # ″
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2015": "-",  # horizontal bar
        "\u2212": "-",  # minus sign
        "\ufe58": "-",  # small em dash
        "\ufe63": "-",  # small hyphen-minus
    }
)
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_SPACE = re.compile(r"\s+")


def normalize_title(title: str) -> str:
    """NFKC, invisible characters removed, typographic quotes and apostrophes mapped
    to ASCII ones, dashes unified to ``-``, whitespace collapsed and stripped. Case is
    kept."""
    t = unicodedata.normalize("NFKC", title)
    t = _INVISIBLE.sub("", t).translate(_QUOTES)
    return _SPACE.sub(" ", t).strip()


def normalize_name(name: str) -> str:
    """NFKC, case-folded, whitespace collapsed and stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", name).casefold()).strip()


def primary_language(tag: str | None) -> str | None:
    """``"en-GB"`` / ``"pt_BR"`` / ``" DE "`` -> ``"en"`` / ``"pt"`` / ``"de"``."""
    if not tag or not tag.strip():
        return None
    return re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]


# ------------------------------------------------------------------ field scores


def title_correct(pred: str | None, gold: str) -> bool:
    return pred is not None and normalize_title(pred) == normalize_title(gold)


def authors_f1(pred: Iterable[str], gold: Iterable[str]) -> float:
    """Set F1 over normalised names; both empty = 1.0, exactly one empty = 0.0."""
    p = {normalize_name(a) for a in pred if normalize_name(a)}
    g = {normalize_name(a) for a in gold if normalize_name(a)}
    if not p and not g:
        return 1.0
    if not p or not g:
        return 0.0
    return 2 * len(p & g) / (len(p) + len(g))


def published_correct(pred_at: datetime | None, pred_precision: str | None, gold: Gold) -> bool:
    """Minute-precision gold: the prediction has a time of day and falls in the same
    UTC minute. Day-precision gold: the prediction's date equals the gold date, where
    the date of a day-precision prediction is its own calendar date and that of a
    prediction with a time of day is taken in the publisher's UTC offset."""
    if pred_at is None:
        return False
    if pred_at.tzinfo is None or pred_at.utcoffset() is None:
        raise ValueError("Prediction.published_at must be timezone-aware")
    day_only = pred_precision == "day"
    gold_at = gold.published_at
    if gold_at is not None:
        if day_only:
            return False
        a = pred_at.astimezone(UTC).replace(second=0, microsecond=0)
        b = gold_at.astimezone(UTC).replace(second=0, microsecond=0)
        return a == b
    pred_date = pred_at.date() if day_only else pred_at.astimezone(gold.tz).date()
    return pred_date == gold.published_date


def published_date_correct(
    pred_at: datetime | None, pred_precision: str | None, gold: Gold
) -> bool:
    """Diagnostic, looser than :func:`published_correct`: the prediction's date (its
    own calendar date when day-only, else its date in the publisher's UTC offset)
    equals the gold date, whatever the gold's precision."""
    if pred_at is None:
        return False
    if pred_at.tzinfo is None or pred_at.utcoffset() is None:
        raise ValueError("Prediction.published_at must be timezone-aware")
    pred_date = pred_at.date() if pred_precision == "day" else pred_at.astimezone(gold.tz).date()
    return pred_date == gold.published_date


def language_correct(pred: str | None, gold: str) -> bool:
    p = primary_language(pred)
    return p is not None and p == primary_language(gold)


# ---------------------------------------------------------------- body (AEB metric)
# Replicates evaluate.py of the article-extraction-benchmark (scrapinghub): tokens are
# \w+ runs, texts are compared as multisets of 4-token shingles; per page tp/fp/fn are
# normalised to sum to 1, then precision and recall follow precision_score and
# recall_score there.

_TOKEN_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)
SHINGLE = 4


def tokenize(text: str) -> list[str]:
    return _TOKEN_RE.findall(text or "")


def _shingles(text: str, n: int) -> Counter[tuple[str, ...]]:
    tokens = tokenize(text)
    out: Counter[tuple[str, ...]] = Counter()
    for i in range(max(1, len(tokens) - n + 1)):
        shingle = tuple(tokens[i : i + n])
        if shingle:
            out[shingle] += 1
    return out


def body_tp_fp_fn(gold: str, pred: str, n: int = SHINGLE) -> tuple[float, float, float]:
    g, p = _shingles(gold, n), _shingles(pred, n)
    tp = fp = fn = 0.0
    for key in g.keys() | p.keys():
        gc, pc = g.get(key, 0), p.get(key, 0)
        tp += min(gc, pc)
        fp += max(0, pc - gc)
        fn += max(0, gc - pc)
    total = tp + fp + fn
    if total > 0:
        return tp / total, fp / total, fn / total
    return tp, fp, fn


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def body_scores(gold: str, pred: str, n: int = SHINGLE) -> tuple[float, float, float]:
    """(precision, recall, F1) of one page."""
    tp_fp_fn = body_tp_fp_fn(gold, pred, n)
    p, r = _precision(*tp_fp_fn), _recall(*tp_fp_fn)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


# ------------------------------------------------------------------------ report


@dataclass(frozen=True)
class PageScore:
    id: str
    language: str
    title_ok: bool
    authors_f1: float
    published_ok: bool
    published_date_ok: bool
    language_ok: bool
    body_precision: float
    body_recall: float
    body_f1: float
    body_tp_fp_fn: tuple[float, float, float]
    pred_title: str | None
    pred_authors: tuple[str, ...]
    pred_published: str | None
    pred_language: str | None


@dataclass(frozen=True)
class Report:
    name: str
    rows: tuple[PageScore, ...]

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def title_exact(self) -> float:
        return _mean(float(r.title_ok) for r in self.rows)

    @property
    def authors_f1(self) -> float:
        return _mean(r.authors_f1 for r in self.rows)

    @property
    def published_correct(self) -> float:
        return _mean(float(r.published_ok) for r in self.rows)

    @property
    def published_date_correct(self) -> float:
        """Diagnostic: share of pages whose publication date is right."""
        return _mean(float(r.published_date_ok) for r in self.rows)

    @property
    def language_correct(self) -> float:
        return _mean(float(r.language_ok) for r in self.rows)

    @property
    def body_f1(self) -> float:
        """Mean of the per-page F1."""
        return _mean(r.body_f1 for r in self.rows)

    @property
    def body_precision(self) -> float:
        """Mean per-page precision over pages with a non-empty prediction (as
        evaluate.py's metrics_from_tp_fp_fns)."""
        return _mean(r.body_precision for r in self.rows if sum(r.body_tp_fp_fn[:2]) > 0)

    @property
    def body_recall(self) -> float:
        """Mean per-page recall over pages with a non-empty gold."""
        return _mean(
            r.body_recall for r in self.rows if r.body_tp_fp_fn[0] + r.body_tp_fp_fn[2] > 0
        )

    @property
    def body_f1_aeb(self) -> float:
        """evaluate.py's F1: harmonic mean of the mean precision and mean recall."""
        p, r = self.body_precision, self.body_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "pages": float(self.n),
            "title exact": self.title_exact,
            "authors F1": self.authors_f1,
            "published correct": self.published_correct,
            "  (date only)": self.published_date_correct,
            "language correct": self.language_correct,
            "body F1 (page mean)": self.body_f1,
            "body precision": self.body_precision,
            "body recall": self.body_recall,
            "body F1 (AEB)": self.body_f1_aeb,
        }

    def by_language(self) -> dict[str, Report]:
        groups: dict[str, list[PageScore]] = {}
        for r in self.rows:
            groups.setdefault(r.language, []).append(r)
        return {k: Report(f"{self.name}[{k}]", tuple(v)) for k, v in sorted(groups.items())}


def _mean(values: Iterable[float]) -> float:
    vs = list(values)
    return statistics.fmean(vs) if vs else 0.0


def score_page(pred: Prediction, gold: Gold) -> PageScore:
    tp_fp_fn = body_tp_fp_fn(gold.body, pred.body)
    p, r, f = body_scores(gold.body, pred.body)
    return PageScore(
        id=gold.id,
        language=gold.language,
        title_ok=title_correct(pred.title, gold.title),
        authors_f1=authors_f1(pred.authors, gold.authors),
        published_ok=published_correct(pred.published_at, pred.published_precision, gold),
        published_date_ok=published_date_correct(pred.published_at, pred.published_precision, gold),
        language_ok=language_correct(pred.language, gold.language),
        body_precision=p,
        body_recall=r,
        body_f1=f,
        body_tp_fp_fn=tp_fp_fn,
        pred_title=pred.title,
        pred_authors=tuple(pred.authors),
        pred_published=(
            None
            if pred.published_at is None
            else (
                pred.published_at.date().isoformat()
                if pred.published_precision == "day"
                else pred.published_at.isoformat()
            )
        ),
        pred_language=pred.language,
    )


def evaluate(
    predict: Callable[[Gold], Prediction],
    devset: Sequence[Gold] | None = None,
    name: str = "",
) -> Report:
    """Run ``predict`` on every page and score it. A prediction function that raises
    is a bug of the caller: the exception propagates."""
    pages = load_devset() if devset is None else devset
    return Report(name, tuple(score_page(predict(g), g) for g in pages))


def format_report(*reports: Report) -> str:
    """The aggregates of one or more reports side by side, one column each."""
    if not reports:
        return ""
    names = [r.name or f"#{i + 1}" for i, r in enumerate(reports)]
    summaries = [r.summary() for r in reports]
    keys = list(summaries[0])
    width = max(len(k) for k in keys) + 2
    cols = [max(10, len(n) + 2) for n in names]
    lines = ["".ljust(width) + "".join(n.rjust(c) for n, c in zip(names, cols, strict=True))]
    for k in keys:
        cells = []
        for s, c in zip(summaries, cols, strict=True):
            v = s[k]
            cells.append((f"{v:.0f}" if k == "pages" else f"{v:.3f}").rjust(c))
        lines.append(k.ljust(width) + "".join(cells))
    return "\n".join(lines)
