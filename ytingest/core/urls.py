"""Which URLs ytingest will fetch: channels, feed items, media, captions, and where redirects lead.

http(s) only (ALLOWED_URL_SCHEMES), never credentials in a URL (they would be stored and logged), and
no private, link-local or cloud-metadata address (169.254.169.254, fd00:ec2::254, 100.100.100.200...)
unless ALLOW_PRIVATE_NETWORKS: a feed must not make ytingest read the host's metadata service. Loopback
stays allowed: it is this machine, and the offline kit serves from it.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

from ytingest.settings import Settings, get_settings

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """A URL ytingest refuses to fetch; the message says why and never repeats a password."""


def without_credentials(url: str) -> str:
    """`url` with any user:password@ removed, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def check_url(url: str, what: str = "URL", settings: Settings | None = None) -> str:
    """Return `url` unchanged if ytingest may fetch it, else raise UnsafeUrl naming the rule. Pass
    `settings` when checking many URLs (a 100k-item feed): reading them is the costly part."""
    settings = settings or get_settings()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise UnsafeUrl(f"{what} is not a valid URL") from None
    shown = without_credentials(url)[:200]
    if parts.scheme.lower() not in settings.allowed_url_schemes:
        raise UnsafeUrl(f"{what} {shown!r}: {parts.scheme or 'no'} scheme is not allowed (ALLOWED_URL_SCHEMES)")
    if not host:
        raise UnsafeUrl(f"{what} {shown!r} has no host")
    if "@" in parts.netloc:
        raise UnsafeUrl(f"{what} {shown!r} carries credentials; they are never stored or sent")
    if not settings.allow_private_networks:
        for address in _addresses(host.lower()):
            if _refused(address):
                raise UnsafeUrl(
                    f"{what} {shown!r} is at a private, link-local or metadata address ({address});"
                    " set ALLOW_PRIVATE_NETWORKS=true to allow it"
                )
    return url


def check_address(address: str, host: str, settings: Settings) -> None:
    """Raise UnsafeUrl if a connection to `host` is about to go to `address` (what it resolved to just
    now) and the rule forbids that address: a redirect hop or a rebound DNS name ends up here."""
    if settings.allow_private_networks:
        return
    found = _normalized(ipaddress.ip_address(address.split("%")[0]))
    if _refused(found):
        raise UnsafeUrl(
            f"connection to {host[:200]!r} refused: it resolved to a private, link-local or metadata address"
            f" ({found}); set ALLOW_PRIVATE_NETWORKS=true to allow it"
        )


def is_allowed(url: str | None, settings: Settings | None = None) -> bool:
    if not url:
        return False
    try:
        check_url(url, settings=settings)
    except UnsafeUrl:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _addresses(host: str) -> tuple[_Address, ...]:
    """The host's addresses: itself if it is one, else what it resolves to (nothing if it does not)."""
    try:
        found = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            found = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(host, None)]
        except (OSError, UnicodeError):
            return ()
    return tuple(_normalized(a) for a in found)


def _normalized(address: _Address) -> _Address:
    return address.ipv4_mapped if getattr(address, "ipv4_mapped", None) else address


def _refused(address: _Address) -> bool:
    return not address.is_global and not address.is_loopback
