"""The private-address guard refuses every private address in every spelling."""

from __future__ import annotations

import asyncio
import ipaddress

import httpcore
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.guard import AddressGuard, BlockedAddress, refusal


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.2",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "100.64.0.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "localhost",
    ],
)
def test_private_hosts_blocked(host: str) -> None:
    with pytest.raises(BlockedAddress):
        asyncio.run(AddressGuard().addresses(host, 80))


def test_allow_list_by_address_and_by_name() -> None:
    assert asyncio.run(AddressGuard(["127.0.0.1"]).addresses("127.0.0.1", 80)) == ["127.0.0.1"]
    # another loopback address stays blocked while only 127.0.0.1 is allowed
    with pytest.raises(BlockedAddress):
        asyncio.run(AddressGuard(["127.0.0.1"]).addresses("127.0.0.2", 80))
    guard = AddressGuard(["127.0.0.1"], resolve={"news.test": "127.0.0.1"})
    assert asyncio.run(guard.addresses("news.test", 80)) == ["127.0.0.1"]
    blocked = AddressGuard(["127.0.0.1"], resolve={"evil.test": "10.0.0.1"})
    with pytest.raises(BlockedAddress):
        asyncio.run(blocked.addresses("evil.test", 80))


def test_public_address_passes() -> None:
    assert asyncio.run(AddressGuard().addresses("93.184.215.14", 80)) == ["93.184.215.14"]


def test_unresolvable_is_a_connect_error() -> None:
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(AddressGuard().addresses("no-such-host.invalid", 80))


@given(st.ip_addresses())
def test_refusal_matches_is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    reason = refusal(ip)
    if reason is None:
        assert ip.is_global
        assert not ip.is_multicast
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None and not mapped.is_global:
        assert reason is not None


@given(
    st.ip_addresses(v=4, network="127.0.0.0/8")
    | st.ip_addresses(v=4, network="10.0.0.0/8")
    | st.ip_addresses(v=4, network="192.168.0.0/16")
    | st.ip_addresses(v=6, network="fc00::/7")
)
def test_private_ranges_always_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert refusal(ip) is not None
    if isinstance(ip, ipaddress.IPv4Address):
        assert refusal(ipaddress.IPv6Address(f"::ffff:{ip}")) is not None


def test_connection_layer_guard_without_precheck() -> None:
    """The transport itself refuses a blocked address (DNS may change after the check)."""
    import httpx

    from ingest.guard import guarded_transport

    async def go() -> BaseException | None:
        transport = guarded_transport(
            AddressGuard(["127.0.0.1"], resolve={"rebind.test": "127.0.0.2"})
        )
        async with httpx.AsyncClient(transport=transport) as client:
            try:
                await client.get("http://rebind.test:9/")
            except httpx.ConnectError as exc:
                return exc.__cause__
        return None

    assert isinstance(asyncio.run(go()), BlockedAddress)
