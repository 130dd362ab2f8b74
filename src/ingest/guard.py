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
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
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


class _CountedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self.inner = inner
        self.done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            if self.done is not None:
                self.done()
                self.done = None


class _Pool:
    def __init__(self, transport: httpx.AsyncHTTPTransport) -> None:
        self.transport = transport
        self.in_flight = 0


class PerOriginTransport(httpx.AsyncBaseTransport):
    """One small connection pool per origin, at most ``max_pools`` kept open.

    httpcore's pool looks at every connection it holds for every request, and
    a single pool shared by hundreds of hosts also evicts each host's idle
    connection before it can be reused: per origin, a pool of 2 stays small
    and keeps its connections alive. Idle pools beyond ``max_pools`` are
    closed, least recently used first, which also bounds open sockets.
    """

    def __init__(
        self, factory: Callable[[], httpx.AsyncHTTPTransport], max_pools: int = 256
    ) -> None:
        self.factory = factory
        self.max_pools = max_pools
        self._pools: OrderedDict[tuple[bytes, bytes, int | None], _Pool] = OrderedDict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(self.factory())
            await self._evict()
        self._pools.move_to_end(key)
        pool.in_flight += 1

        def done() -> None:
            pool.in_flight -= 1

        try:
            response = await pool.transport.handle_async_request(request)
        except BaseException:
            done()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(response.stream, done)
        return response

    async def _evict(self) -> None:
        while len(self._pools) > self.max_pools:
            key = next((k for k, p in self._pools.items() if p.in_flight == 0), None)
            if key is None:
                return  # every pool is busy: keep them until some finish
            await self._pools.pop(key).transport.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.transport.aclose()


def guarded_transport(guard: AddressGuard, **kwargs: Any) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every TCP connection passes the guard."""
    transport = httpx.AsyncHTTPTransport(**kwargs)
    pool = transport._pool
    pool._network_backend = _GuardedBackend(guard, pool._network_backend)
    return transport
