"""Full-text search over the warehouse's articles (``ingest search``).

The index lives in its own DuckDB file beside the warehouse
(``Settings.search_path``), so a search never opens the warehouse and never
waits for a load. Each run updates it after its loads (articles new or
revised since it was last updated), writing a copy and swapping it in with
one rename; a search holds the file it opened.

DuckDB's ``fts`` extension (loaded from its wheel) builds the inverted index
and stems; the rest is ours:

- **Tokens**: Unicode words, case-folded (NFKC); scripts written without
  spaces (Han, kana, Thai, Lao, Khmer, Myanmar) as overlapping character
  bigrams, so a word of any length is found inside a run of text.
- **Stemming** by the article's language where the extension has a stemmer
  (Snowball: 27 languages); a query word is looked for in every stemmed form
  the searched languages give it, and as written.
- **Ranking**: BM25 (k1 1.2, b 0.75) over the title (counted twice) and body.
- **Query syntax**: words (all must match), ``"quoted phrases"`` (their
  words must match and, on the ranked candidates, the phrase itself), ``-word``
  to exclude, ``OR`` between words.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from ingest.location import Lake
from ingest.store import extensions, read
from ingest.store.connection import WarehouseError
from ingest.store.schema import language_is, language_subtag, sql_literal

# ISO 639-1 -> the fts extension's Snowball stemmer
STEMMERS: dict[str, str] = {
    "ar": "arabic", "eu": "basque", "ca": "catalan", "da": "danish", "nl": "dutch",
    "en": "english", "fi": "finnish", "fr": "french", "de": "german", "el": "greek",
    "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian",
    "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nb": "norwegian",
    "nn": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
}  # fmt: skip


def _marks() -> str:
    """Combining marks (Unicode categories M*: Devanagari vowel signs and
    viramas, Thai vowels, Arabic harakat), which ``\\w`` leaves out: inside a
    word they are part of it."""
    out: list[str] = []
    start = None
    for code in range(0x10000):
        mark = unicodedata.category(chr(code)).startswith("M")
        if mark and start is None:
            start = code
        elif not mark and start is not None:
            out.append(f"\\u{start:04x}-\\u{code - 1:04x}")
            start = None
    return "".join(out)


_WORD = re.compile(rf"(?:[^\W_]|[{_marks()}])+")
# scripts written without spaces between words
_UNSPACED = (
    "\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"  # kana, Han
)
_RUNS = re.compile(rf"[{_UNSPACED}]+|[^{_UNSPACED}]+")
_IS_UNSPACED = re.compile(rf"[{_UNSPACED}]")

SNIPPET_CHARS = 160


# vowel signs that Arabic and Hebrew mostly leave unwritten (harakat,
# niqqud), and the Arabic tatweel: a word matches with or without them
_OPTIONAL_MARKS = re.compile(r"[\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u0640]")


def tokens(text: str) -> list[str]:
    """The text as index tokens: case-folded words (NFKC; Arabic and Hebrew
    without their optional vowel signs); runs of an unspaced script as
    overlapping bigrams ("東京都" -> "東京", "京都")."""
    out: list[str] = []
    folded = _OPTIONAL_MARKS.sub("", unicodedata.normalize("NFKC", text).casefold())
    for word in _WORD.findall(folded):
        if not _IS_UNSPACED.search(word):
            out.append(word)
            continue
        for run in _RUNS.findall(word):
            if not _IS_UNSPACED.match(run) or len(run) == 1:
                out.append(run)
            else:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


# --------------------------------------------------------------------------- queries


class QueryError(ValueError):
    """A search query that cannot be run (nothing to look for)."""


@dataclass(frozen=True)
class Query:
    """A parsed query: every group must match (a group matches when one of its
    alternatives does; an alternative is a word, matched when all its tokens
    are there); no excluded word may; each phrase must appear as written."""

    groups: tuple[tuple[tuple[str, ...], ...], ...]
    excluded: tuple[tuple[str, ...], ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()

    @property
    def terms(self) -> list[str]:
        """Every token the query looks for (not the excluded ones), in order."""
        seen: dict[str, None] = {}
        for group in self.groups:
            for alternative in group:
                seen.update(dict.fromkeys(alternative))
        return list(seen)


_QUERY_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(text: str) -> Query:
    """``words "a phrase" -excluded this OR that`` as a :class:`Query`."""
    groups: list[list[tuple[str, ...]]] = []
    excluded: list[tuple[str, ...]] = []
    phrases: list[tuple[str, ...]] = []
    join_next = False
    for found in _QUERY_PART.finditer(text):
        minus, phrase, word = found.group(1), found.group(2), found.group(3)
        if phrase is not None:
            toks = tuple(tokens(phrase))
            if not toks:
                continue
            if minus:
                excluded.append(toks)
                continue
            phrases.append(toks)
            groups.extend([[(t,)] for t in dict.fromkeys(toks)])
            join_next = False
            continue
        if word == "OR":
            join_next = bool(groups)
            continue
        negative = word.startswith("-") and len(word) > 1
        toks = tuple(tokens(word[1:] if negative else word))
        if not toks:
            continue
        if negative:
            excluded.append(toks)
        elif join_next:
            groups[-1].append(toks)
        else:
            groups.append([toks])
        join_next = False
    if not groups:
        raise QueryError(f'nothing to search for in {text!r} (words, "phrases", -word, OR)')
    return Query(tuple(tuple(g) for g in groups), tuple(excluded), tuple(phrases))


# --------------------------------------------------------------------------- the index

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    article_id VARCHAR PRIMARY KEY,
    text VARCHAR NOT NULL          -- stemmed tokens, space-separated
);
CREATE TABLE IF NOT EXISTS articles (
    article_id VARCHAR PRIMARY KEY,
    title VARCHAR, body VARCHAR, source_id VARCHAR, language VARCHAR,
    published_at TIMESTAMPTZ, first_seen_at TIMESTAMPTZ, url VARCHAR,
    cluster_id VARCHAR, changed_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS stories (cluster_id VARCHAR PRIMARY KEY, size INTEGER);
"""

# An article's version: when it was first seen, or last revised.
_CHANGED = "greatest(first_seen_at, coalesce(updated_at, first_seen_at))"
# Articles read from the warehouse and indexed at a time.
INDEX_CHUNK = 1000


@dataclass(frozen=True)
class IndexUpdate:
    """What one update did."""

    path: Path
    indexed: int  # articles (re)indexed by this update
    total: int  # articles in the index after it


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One updater at a time (runs on one machine, or sharing a volume)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stemmer_sql(column: str) -> str:
    cases = " ".join(
        f"WHEN {sql_literal(code)} THEN {sql_literal(name)}" for code, name in STEMMERS.items()
    )
    return f"CASE lower(split_part(coalesce({column}, ''), '-', 1)) {cases} ELSE 'none' END"


def _has_fts_index(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'fts_main_docs' "
        "AND table_name IN ('docs', 'terms', 'dict', 'stats')"
    ).fetchone()
    return bool(found and found[0] == 4)


# The index's tokens of a stored ``docs.text``, as create_fts_index splits it
# (``ignore = '\s+'``; empty pieces are not terms).
_INDEX_TOKENS = r"list_filter(string_split_regex(text, '\s+'), t -> t <> '')"


def _update_fts_index(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the fts extension's tables (``fts_main_docs``: docs, terms,
    dict, stats) up to date with ``docs`` after an update: the entries of
    ``stale_docids`` out, those of the documents in ``fresh`` in, document
    frequencies and statistics adjusted. The same tables
    ``create_fts_index`` would build (document and term ids aside), at a
    cost that follows the change, not the collection: rebuilding the whole
    index each run grew with the collection, in time and in memory."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE removed_terms AS SELECT termid, count(DISTINCT docid) AS n "
        "FROM fts_main_docs.terms WHERE docid IN (SELECT docid FROM stale_docids) GROUP BY ALL"
    )
    for table in ("terms", "docs"):
        con.execute(
            f"DELETE FROM fts_main_docs.{table} WHERE docid IN (SELECT docid FROM stale_docids)"
        )
    con.execute(
        "UPDATE fts_main_docs.dict d SET df = d.df - r.n FROM removed_terms r "
        "WHERE d.termid = r.termid"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE new_docs AS SELECT "
        "(SELECT coalesce(max(docid), -1) FROM fts_main_docs.docs) "
        "+ row_number() OVER (ORDER BY article_id) AS docid, article_id AS name, "
        f"{_INDEX_TOKENS} AS toks FROM docs WHERE article_id IN (SELECT article_id FROM fresh)"
    )
    con.execute("INSERT INTO fts_main_docs.docs SELECT docid, name, len(toks) FROM new_docs")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE new_postings AS "
        "SELECT docid, unnest(toks) AS term FROM new_docs"
    )
    con.execute(
        "INSERT INTO fts_main_docs.dict SELECT "
        "(SELECT coalesce(max(termid), -1) FROM fts_main_docs.dict) "
        "+ row_number() OVER (ORDER BY term), term, 0 "
        "FROM (SELECT DISTINCT term FROM new_postings) "
        "WHERE term NOT IN (SELECT term FROM fts_main_docs.dict)"
    )
    con.execute(
        "INSERT INTO fts_main_docs.terms SELECT p.docid, 0, d.termid "
        "FROM new_postings p JOIN fts_main_docs.dict d USING (term)"
    )
    con.execute(
        "UPDATE fts_main_docs.dict d SET df = d.df + a.n FROM "
        "(SELECT term, count(DISTINCT docid) AS n FROM new_postings GROUP BY ALL) a "
        "WHERE d.term = a.term"
    )
    con.execute("DELETE FROM fts_main_docs.dict WHERE df <= 0")
    con.execute("DELETE FROM fts_main_docs.stats")
    con.execute(
        "INSERT INTO fts_main_docs.stats SELECT count(*), coalesce(avg(len), 0) "
        "FROM fts_main_docs.docs"
    )


def _create_fts_index(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "PRAGMA create_fts_index('docs', 'article_id', 'text', stemmer = 'none', "
        "stopwords = 'none', ignore = '\\s+', strip_accents = 0, lower = 0, overwrite = 1)"
    )


# An index row to take out: one of ``changed_rows`` or gone from ``versions``.
_OUT = (
    "{key} IN (SELECT article_id FROM changed_rows) "
    "OR {key} NOT IN (SELECT article_id FROM versions)"
)


def _replace_docs(con: duckdb.DuckDBPyConnection, changed: pa.Table) -> int:
    """Put these warehouse rows (new or newer versions) in place of what the
    index holds of them, and drop what the warehouse no longer has, inverted
    index included; returns how many rows went in."""
    con.register("fetched", changed)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE changed_rows AS SELECT f.* FROM fetched f "
            "LEFT JOIN articles a USING (article_id) "
            "WHERE a.changed_at IS DISTINCT FROM f.changed_at"
        )
    finally:
        con.unregister("fetched")
    # out: the older versions of these, and what the warehouse no longer has
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stale_docids AS SELECT docid FROM fts_main_docs.docs "
        f"WHERE {_OUT.format(key='name')}"
    )
    for table in ("articles", "docs"):
        con.execute(f"DELETE FROM {table} WHERE {_OUT.format(key='article_id')}")
    con.execute("INSERT INTO articles SELECT * FROM changed_rows")
    rows = con.execute(
        "SELECT article_id, coalesce(title, ''), coalesce(body, ''), "
        f"{_stemmer_sql('language')} FROM changed_rows"
    ).fetchall()
    batch = pa.table(
        {
            "article_id": [r[0] for r in rows],
            "toks": [tokens(title) * 2 + tokens(body) for _, title, body, _ in rows],
            "stemmer": [r[3] for r in rows],
        },
        schema=pa.schema(
            [("article_id", pa.string()), ("toks", pa.list_(pa.string())), ("stemmer", pa.string())]
        ),
    )
    del rows
    con.register("fresh", batch)
    try:
        con.execute(
            "INSERT INTO docs SELECT article_id, "
            "array_to_string(list_transform(toks, t -> stem(t, stemmer)), ' ') FROM fresh"
        )
        _update_fts_index(con)
    finally:
        con.unregister("fresh")
    return int(batch.num_rows)


def update_index(warehouse: Path | Lake, path: Path, *, rebuild: bool = False) -> IndexUpdate:
    """Bring the search index at ``path`` up to date with the warehouse:
    articles the index lacks or holds in an older version (their first-seen or
    revision time differs) are (re)indexed, articles gone from the warehouse
    dropped, story sizes refreshed, the inverted index changed to match
    (:func:`_update_fts_index`), and the new file renamed over the old one.
    Comparing every article's version, not a high-water mark, keeps what a
    slower writer committed late. Articles are read and indexed
    ``INDEX_CHUNK`` at a time, so memory does not grow with how many changed
    (a first build of a big warehouse included). ``rebuild`` starts from
    nothing."""
    with _locked(path):
        work = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        # copies of updaters that died on the way (only the lock's holder writes one)
        for leftover in path.parent.glob(f"{path.name}.tmp-*"):
            leftover.unlink(missing_ok=True)
        if path.exists() and not rebuild:
            shutil.copyfile(path, work)
        con = duckdb.connect(str(work))
        try:
            extensions.load(con, "fts")
            con.execute(_SCHEMA)
            if not _has_fts_index(con):
                _create_fts_index(con)  # over what the file holds: nothing, or an old index's docs
            versions = read.query_arrow(
                warehouse, f"SELECT article_id, {_CHANGED} AS changed_at FROM articles"
            )
            con.register("versions", versions)
            stale = [
                r[0]
                for r in con.execute(
                    "SELECT v.article_id FROM versions v LEFT JOIN articles a USING (article_id) "
                    "WHERE a.changed_at IS DISTINCT FROM v.changed_at ORDER BY v.article_id"
                ).fetchall()
            ]
            indexed = 0
            # at least one chunk, empty or not: it also drops what is gone
            for at in range(0, max(len(stale), 1), INDEX_CHUNK):
                chunk = stale[at : at + INDEX_CHUNK]
                changed = read.query_arrow(
                    warehouse,
                    f"""SELECT article_id, title, body, source_id, language, published_at,
                               first_seen_at, canonical_url AS url, cluster_id,
                               {_CHANGED} AS changed_at
                        FROM articles
                        WHERE article_id IN ({", ".join(map(sql_literal, chunk)) or "NULL"})""",
                )
                indexed += _replace_docs(con, changed)
                del changed
            stories = read.query_arrow(
                warehouse, "SELECT cluster_id, any_value(size) AS size FROM clusters GROUP BY ALL"
            )
            con.register("story_rows", stories)
            con.execute("DELETE FROM stories")
            con.execute("INSERT INTO stories SELECT * FROM story_rows")
            total = con.execute("SELECT count(*) FROM docs").fetchone()
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(work, path)
        Path(f"{work}.wal").unlink(missing_ok=True)
        return IndexUpdate(path, indexed, int(total[0]) if total else 0)


# --------------------------------------------------------------------------- search


class NoIndex(WarehouseError):
    """No search index yet."""


@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class Hit:
    article_id: str
    score: float
    title: str
    source_id: str
    day: date | None
    story_size: int
    url: str
    snippet: str
    language: str | None = None


def _variants(
    con: duckdb.DuckDBPyConnection, words: Sequence[str], stemmers: Sequence[str]
) -> list[tuple[int, str]]:
    """(token index, index term) pairs: each token as written and as each
    stemmer gives it."""
    pairs: set[tuple[int, str]] = {(i, word) for i, word in enumerate(words)}
    if words and stemmers:  # every stem in one statement, not one per word and stemmer
        rows = con.execute(
            "SELECT DISTINCT w.i - 1, stem(w.word, s.stemmer) FROM "
            "(SELECT unnest(?::VARCHAR[]) AS word, generate_subscripts(?::VARCHAR[], 1) AS i) w, "
            "(SELECT unnest(?::VARCHAR[]) AS stemmer) s",
            [list(words), list(words), list(stemmers)],
        ).fetchall()
        pairs |= {(int(i), str(term)) for i, term in rows if term}
    return sorted(pairs)


def _condition(query: Query, index_of: dict[str, int], excluded_index: dict[str, int]) -> str:
    """The query's logic over ``found``, the list of token indexes a document holds."""

    def has_all(toks: Sequence[str], where: dict[str, int]) -> str:
        return f"list_has_all(found, [{', '.join(str(where[t]) for t in toks)}])"

    parts = [
        "(" + " OR ".join(has_all(alt, index_of) for alt in group) + ")" for group in query.groups
    ]
    parts += [f"NOT {has_all(toks, excluded_index)}" for toks in query.excluded]
    return " AND ".join(parts)


def _normalised(text: str) -> str:
    return " " + " ".join(tokens(text)) + " "


def snippet(body: str, words: Sequence[str], phrases: Sequence[Sequence[str]] = ()) -> str:
    """About ``SNIPPET_CHARS`` characters of ``body`` around its best match: the
    first place a phrase of the query stands, else the window holding the
    most query words (a body word matches a query term it begins with, so
    stems match their inflections; in unspaced scripts, one it contains)."""
    text = " ".join(body.split())
    if not text:
        return ""
    folded = text.casefold()
    if len(folded) != len(text):  # a case mapping that changes lengths: positions kept
        folded = "".join(c if len(c.casefold()) != 1 else c.casefold() for c in text)
    before = SNIPPET_CHARS // 4
    best: int | None = None
    for phrase in phrases:
        found = re.search(r"\W+".join(re.escape(t) for t in phrase), folded)
        if found is not None:
            best = found.start()
            break
    if best is None:
        hits = [
            found.start()
            for found in _WORD.finditer(folded)
            if any(
                found.group().startswith(w) or (_IS_UNSPACED.match(w) and w in found.group())
                for w in words
                if w
            )
        ]
        if not hits:
            return text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else "")
        best = max(
            hits, key=lambda at: sum(at - before <= h < at - before + SNIPPET_CHARS for h in hits)
        )
    start = max(0, best - before)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < best else start
    end = min(len(text), start + SNIPPET_CHARS)
    return ("…" if start > 0 else "") + text[start:end].strip() + ("…" if end < len(text) else "")


_RANKED = """
WITH q(tok, term, weight) AS (VALUES {values}),
d AS (
    SELECT termid, term, df FROM fts_main_docs.dict
    WHERE term IN (SELECT term FROM q)
),
tf AS (
    SELECT t.docid, t.termid, count(*) AS tf
    FROM fts_main_docs.terms t JOIN d USING (termid) GROUP BY ALL
),
st AS (SELECT num_docs, avgdl FROM fts_main_docs.stats),
per_doc AS (
    SELECT tf.docid, list(DISTINCT q.tok) AS found,
           sum(q.weight * ln((st.num_docs - d.df + 0.5) / (d.df + 0.5) + 1)
               * tf.tf * (1.2 + 1)
               / (tf.tf + 1.2 * (1 - 0.75 + 0.75 * docs.len / st.avgdl))) AS score
    FROM tf JOIN d USING (termid) JOIN q ON q.term = d.term
         JOIN fts_main_docs.docs docs ON docs.docid = tf.docid, st
    GROUP BY tf.docid
)
SELECT a.article_id, p.score, coalesce(a.title, ''), a.source_id, {day} AS day,
       coalesce(s.size, 1), a.url, coalesce(a.body, ''), a.language
FROM per_doc p
JOIN fts_main_docs.docs docs ON docs.docid = p.docid
JOIN articles a ON a.article_id = docs.name
LEFT JOIN stories s ON s.cluster_id = a.cluster_id
WHERE {condition}
ORDER BY p.score DESC, a.article_id
LIMIT {limit}
"""
_DAY = "coalesce(a.published_at, a.first_seen_at)::DATE"


def _filters_sql(filters: Filters) -> list[str]:
    where = []
    if filters.since:
        where.append(f"{_DAY} >= {sql_literal(filters.since.isoformat())}::DATE")
    if filters.until:
        where.append(f"{_DAY} <= {sql_literal(filters.until.isoformat())}::DATE")
    if filters.sources:
        where.append(f"a.source_id IN ({', '.join(sql_literal(s) for s in filters.sources)})")
    if filters.language:
        where.append(language_is("a.language", filters.language))
    return where


def search(path: Path, text: str, filters: Filters | None = None, limit: int = 20) -> list[Hit]:
    """The best ``limit`` articles for the query ``text``, best first."""
    query = parse_query(text)
    filters = filters or Filters()
    if not path.exists():
        raise NoIndex(
            f"no search index at {path}: each `ingest run` updates it "
            "(`ingest search --rebuild` builds it now)"
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        extensions.load(con, "fts")
        if filters.language:
            languages = [filters.language]
        else:
            rows = con.execute("SELECT DISTINCT language FROM articles").fetchall()
            languages = [r[0] for r in rows if r[0]]
        codes = {language_subtag(lang) for lang in languages}
        stemmers = sorted({STEMMERS[c] for c in codes if c in STEMMERS})
        terms = query.terms
        index_of = {t: i for i, t in enumerate(terms)}
        others = [t for toks in query.excluded for t in toks if t not in index_of]
        excluded_index = dict(index_of)
        excluded_index.update({t: len(terms) + i for i, t in enumerate(dict.fromkeys(others))})
        pairs = _variants(con, terms + list(dict.fromkeys(others)), stemmers)
        values = ", ".join(
            f"({i}, {sql_literal(term)}, {1 if i < len(terms) else 0})" for i, term in pairs
        )
        condition = " AND ".join(
            [_condition(query, index_of, excluded_index), *_filters_sql(filters)]
        )
        wanted = int(limit) * 5 + 50 if query.phrases else int(limit)
        sql = _RANKED.format(values=values, day=_DAY, condition=condition, limit=wanted)
        rows = con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"search failed: {exc}") from exc
    finally:
        con.close()
    stems = sorted({term for i, term in pairs if i < len(terms)})
    hits: list[Hit] = []
    for article_id, score, title, source_id, day_value, size, url, body, language in rows:
        if query.phrases:
            doc = _normalised(f"{title} {body}")
            if not all(f" {' '.join(p)} " in doc for p in query.phrases):
                continue
        hits.append(
            Hit(
                article_id=article_id,
                score=round(float(score), 4),
                title=title,
                source_id=source_id,
                day=day_value,
                story_size=int(size),
                url=url,
                snippet=snippet(body, stems, query.phrases),
                language=language,
            )
        )
        if len(hits) >= limit:
            break
    return hits
