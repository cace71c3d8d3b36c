"""Private networks: the addresses a URL found in feed content may not reach.

A feed entry's link is chosen by whoever publishes the feed. Fetched blindly (article pages,
their robots.txt), a link to ``http://127.0.0.1:8080/admin`` or ``http://169.254.169.254/`` would
make the daemon read the user's own network and store what it found. So a request whose URL came
from feed content is made with an :class:`AddressPolicy`: the host name is resolved once, every
address it resolves to is checked, and the socket is connected to an address that passed (the
name is not resolved again between check and connect, so a name that answers a public address to
the check and a private one to the connection, DNS rebinding, gets nowhere). Each redirect hop is
a new connection, checked the same way. The connected socket's peer address is checked once more.

Refused: loopback, private (RFC 1918, and the other special-purpose ranges Python's ``ipaddress``
does not call global), link-local (169.254/16, fe80::/10: cloud metadata services), shared address
space (CGNAT, 100.64/10), multicast, unique-local (fc00::/7), unspecified, reserved, and IPv6
forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible, 6to4, NAT64)
when the address inside is one of these.

``[fetch] allow_private_networks = true`` turns the check off, for a user whose article pages are
on a LAN. The feeds the user configured are never checked: the user chose those URLs.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from relaywatch.poll.fetcherrors import AddressRefused

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrInfo = tuple[Any, Any, int, str, tuple[Any, ...]]
Resolver = Callable[[str, int], Iterable[AddrInfo]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


def system_resolver(host: str, port: int) -> list[AddrInfo]:
    """The operating system's resolver (``getaddrinfo``), TCP addresses only."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _V4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal(ip: IP) -> str | None:
    """Why a request from feed content may not go to ``ip`` ("loopback", ...), or None: public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            why = refusal(inner)
            return f"{why}, {inner} inside an IPv6 address" if why else None
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_loopback, "loopback"),
        (ip.is_unspecified, "unspecified address"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip in _CGNAT, "shared address space (CGNAT)"),
        (ip in _UNIQUE_LOCAL, "unique-local"),
        (ip.is_private, "private network"),
        (ip.is_reserved, "reserved address"),
        (not ip.is_global, "not a public address"),
    )
    return next((why for hit, why in checks if hit), None)


def _ip(text: str) -> IP:
    return ipaddress.ip_address(text.split("%")[0])


@dataclass(frozen=True)
class AddressPolicy:
    """How a request from feed content connects: only to addresses ``refuse`` finds nothing against
    (unless ``allow_private``), resolving names with ``resolver``. Both default to the real thing;
    tests, which cannot reach a public address, give a resolver and a ``refuse`` that takes one
    loopback address for a public one."""

    allow_private: bool = False
    resolver: Resolver = field(default=system_resolver)
    refuse: Callable[[IP], str | None] = field(default=refusal)

    def connect(self, host: str, port: int, timeout: float | None,
                options: Iterable[tuple[int, int, int | bytes]] = ()) -> socket.socket:
        """A socket connected to an allowed address of ``host``. :class:`AddressRefused` when every
        address is refused; ``socket.gaierror`` / ``OSError`` / ``TimeoutError`` as connecting does."""
        refused: list[str] = []
        error: OSError | None = None
        for family, kind, proto, _name, addr in self.resolver(host, port):
            why = None if self.allow_private else self.refuse(_ip(addr[0]))
            if why:
                refused.append(f"{_ip(addr[0])} ({why})")
                continue
            sock = socket.socket(family, kind, proto)
            try:
                for option in options:
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                sock.connect(addr)
                self._check_peer(host, sock)
                return sock
            except AddressRefused:
                sock.close()
                raise
            except OSError as e:
                sock.close()
                error = e
        if error is not None:
            raise error
        if refused:
            raise AddressRefused(f"refusing {host}: it resolves to {', '.join(refused[:3])}; a link in a feed "
                                 "may not reach a private network ([fetch] allow_private_networks = true allows it)")
        raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")

    def _check_peer(self, host: str, sock: socket.socket) -> None:
        if self.allow_private:
            return
        peer = _ip(sock.getpeername()[0])
        why = self.refuse(peer)
        if why:
            raise AddressRefused(f"refusing {host}: connected to {peer} ({why})")
