"""Which addresses a user-configured server (team / own SMTP, Exchange On-Prem) may be.

Mailroom connects to hosts its users type in, from inside the operator's network. So that
"Authenticate and save" is not a port scanner for every rep, a host is resolved once, every
address it resolves to must be public, and the connection goes to that checked address (the
name stays the TLS server name and is what the certificate is verified against). Private,
loopback, link-local, unspecified, multicast and reserved addresses, IPv4 and IPv6, are
refused unless the operator lists them in MAILROOM_ALLOWED_PRIVATE_NETWORKS (comma-separated
addresses or CIDR networks; the demo and the tests allow the sandbox's 127.0.0.1)."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The host is (or resolves to) an address Mailroom may not connect to."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def _allowed_networks() -> tuple:
    return _networks(tuple(settings.MAILROOM_ALLOWED_PRIVATE_NETWORKS))


def address_is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_private
    )


def address_allowed(address: Address) -> bool:
    if address_is_public(address):
        return True
    return any(address in network for network in _allowed_networks())


def resolve_checked(host: str, port: int) -> str:
    """The one address to connect to for host:port, checked; raises AddressRefused.

    Every address the name resolves to must be allowed (a name that resolves to a public and a
    private address is refused), so the answer does not depend on which one DNS lists first."""
    host = (host or "").strip().strip("[]")
    # An unknown name raises socket.gaierror, as connecting would (a DNS outage is transient).
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[Address] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    refused = [a for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        shown = ", ".join(str(a) for a in refused) or "nothing"
        raise AddressRefused(
            f"{host} is a private, local or reserved address ({shown}): Mailroom only connects "
            "to servers on the public internet. Your operator can allow an internal server in "
            "MAILROOM_ALLOWED_PRIVATE_NETWORKS."
        )
    return str(addresses[0])
