"""The private-address guard.

Every host we are about to connect to is resolved and refused when any of its
addresses is loopback, private, link-local, multicast, reserved or otherwise
not globally routable, unless the operator listed the host or the address in
``INGEST_ALLOW_PRIVATE_HOSTS``. The check runs on every redirect hop and again
inside the connection layer, which connects to the address it checked (so a
DNS answer that changes between check and connect cannot slip through).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(httpcore.ConnectError):
    """The host resolves to an address the guard refuses."""

    def __init__(self, host: str, reason: str) -> None:
        self.host = host
        self.reason = reason
        super().__init__(f"blocked: {host}: {reason}")


def _unwrap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return mapped
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def refusal(ip: IPAddress) -> str | None:
    """Why an address must not be fetched, or None when it is public."""
    ip = _unwrap(ip)
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address {ip}"
    if not ip.is_global:
        return f"non-global address {ip}"
    return None


class AddressGuard:
    def __init__(self, allow: Iterable[str] = (), resolve: Mapping[str, str] | None = None) -> None:
        self.allow = frozenset(a.strip().lower().strip("[]") for a in allow if a.strip())
        self.static = {k.lower(): v for k, v in (resolve or {}).items()}

    def _allowed(self, host: str, ip: IPAddress) -> bool:
        return host in self.allow or str(ip) in self.allow or str(_unwrap(ip)) in self.allow

    async def addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return the addresses we may connect to.

        Raises :class:`BlockedAddress` when any address is refused: a name
        that resolves to both a public and a private address is refused too.
        """
        host = host.lower().strip("[]").rstrip(".")
        candidates: list[str]
        if host in self.static:
            candidates = [self.static[host]]
        else:
            try:
                candidates = [str(ipaddress.ip_address(host))]
            except ValueError:
                loop = asyncio.get_running_loop()
                try:
                    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                except socket.gaierror as exc:
                    raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
                candidates = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not candidates:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        for text in candidates:
            ip = ipaddress.ip_address(text.split("%", 1)[0])
            reason = refusal(ip)
            if reason and not self._allowed(host, ip):
                raise BlockedAddress(host, reason)
        return candidates


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend) -> None:
        self.guard = guard
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.guard.addresses(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_transport(guard: AddressGuard, **kwargs: Any) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every TCP connection passes the guard."""
    transport = httpx.AsyncHTTPTransport(**kwargs)
    pool = transport._pool
    pool._network_backend = _GuardedBackend(guard, pool._network_backend)
    return transport
