"""Text as the pipeline compares it: one normal form, one word count, one hash."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Text as compared for exact duplicates: NFKC, case-folded, one space."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def word_count(text: str) -> int:
    return len(text.split())


def content_hash(body: str) -> str:
    return hashlib.sha256(normalise_text(body).encode("utf-8")).hexdigest()
