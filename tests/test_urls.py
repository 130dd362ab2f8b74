"""URL canonical forms: two links to one article compare equal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.urls import BadURL, canonicalize, on_domain, registered_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/b", "http://example.com/a/b"),
        ("https://www.ex.com:443", "https://www.ex.com/"),
        ("https://ex.com:8443/x", "https://ex.com:8443/x"),
        ("https://ex.com/story?utm_source=rss&utm_medium=feed&id=3", "https://ex.com/story?id=3"),
        (
            "https://ex.com/story?fbclid=abc&gclid=x&b=2&a=1#comments",
            "https://ex.com/story?a=1&b=2",
        ),
        ("https://ex.com/%7euser/a b", "https://ex.com/~user/a%20b"),
        ("https://EX.com./path", "https://ex.com/path"),
        ("https://bücher.example/seite", "https://xn--bcher-kva.example/seite"),
    ],
)
def test_canonical_forms(raw: str, expected: str) -> None:
    assert canonicalize(raw) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://ex.com/x",
        "data:text/html,hi",
        "",
        "http://",
        "https://ex.com:99999/",
    ],
)
def test_refuses_non_http(bad: str) -> None:
    with pytest.raises(BadURL):
        canonicalize(bad)


def test_relative_links_resolve_against_base() -> None:
    assert (
        canonicalize("/news/1?utm_campaign=x", base="https://ex.com/feed")
        == "https://ex.com/news/1"
    )


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("news.abc.net.au", "abc.net.au"),
        ("127.0.0.1", "127.0.0.1"),
        ("www.harbour-times.test", "harbour-times.test"),
        ("localhost", "localhost"),
    ],
)
def test_registered_domain(host: str, domain: str) -> None:
    assert registered_domain(host) == domain


def test_on_domain() -> None:
    assert on_domain("www.bbc.co.uk", "bbc.co.uk")
    assert not on_domain("notbbc.co.uk", "bbc.co.uk")


segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~%", min_size=0, max_size=12)
params = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "id", "utm_source", "fbclid", "page", "q"]),
        st.text(alphabet="abcXYZ019", min_size=1, max_size=5),
    ),
    max_size=5,
)


@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "Https"]),
    host=st.from_regex(r"[a-z]{1,10}(\.[a-z]{2,8}){1,2}", fullmatch=True),
    path=st.lists(segment, max_size=4),
    query=params,
    fragment=st.text(alphabet="abc123", max_size=5),
)
def test_canonicalize_is_idempotent_and_order_free(
    scheme: str, host: str, path: list[str], query: list[tuple[str, str]], fragment: str
) -> None:
    q = "&".join(f"{k}={v}" for k, v in query)
    url = f"{scheme}://{host.upper()}/{'/'.join(path)}?{q}#{fragment}"
    once = canonicalize(url)
    assert canonicalize(once) == once
    shuffled = "&".join(f"{k}={v}" for k, v in reversed(query))
    assert canonicalize(f"{scheme}://{host}/{'/'.join(path)}?{shuffled}") == once
    assert "utm_source" not in once and "fbclid" not in once and "#" not in once
    assert once.startswith(("http://", "https://"))
