"""Which backend URLs Chatdeck accepts from an admin, and what of them may be shown.

* **No secrets in URLs.** A URL with ``user:password@`` is refused for a custom endpoint (the key has
  its own field, stored encrypted and never shown). ``CHATDECK_HF_URL`` comes from the environment,
  where refusing would stop the server: its user name and password are dropped, with a warning.
* **No requests to link-local or cloud-metadata addresses** (server-side request forgery: a custom
  endpoint at ``http://169.254.169.254/`` would let whoever can chat read the cloud's instance
  credentials through error messages). Refused are link-local addresses (169.254.0.0/16, fe80::/10,
  which hold every cloud's metadata service), the other metadata addresses (``fd00:ec2::254``,
  ``100.100.100.200``) and names (``metadata.google.internal``), also as IPv4-mapped IPv6.
  Loopback and private ranges stay allowed: self-hosted servers live there. An admin who really runs
  a model server on a link-local address sets ``CHATDECK_ALLOW_LINK_LOCAL_ENDPOINTS=1``.
  The host is checked when the endpoint is saved (:func:`check_resolved`: a literal address, a known
  name, and what the name resolves to then) and again before every request (:func:`ensure_allowed`:
  the name resolved anew, since DNS can change after the save). The connection then resolves the name
  itself, so a DNS answer that changes within that moment is not caught; the address actually
  connected to is not checked.

Pure functions of a URL (and, for the resolving ones, the system's resolver); no I/O besides DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from urllib.parse import urlsplit, urlunsplit

from providers.errors import UnavailableError

log = logging.getLogger(__name__)

ENV_ALLOW_LINK_LOCAL = "CHATDECK_ALLOW_LINK_LOCAL_ENDPOINTS"
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog"})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254",
                                                                  "100.100.100.200"))

Resolver = Callable[[str], Iterable[str]]


class EndpointURLError(ValueError):
    """A URL Chatdeck refuses (the message is safe to show to the admin who typed it)."""


def has_userinfo(url: str) -> bool:
    """Whether ``url`` carries a user name or password (``https://user:pass@host/``)."""
    return "@" in urlsplit(url.strip()).netloc


def without_userinfo(url: str) -> str:
    """``url`` without its ``user:password@`` part (unchanged when it has none)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def from_environment(url: str, variable: str) -> str:
    """A backend URL from the environment, its user name and password dropped with a warning (once)."""
    if not has_userinfo(url):
        return url
    _warn_userinfo(variable)
    return without_userinfo(url)


@cache
def _warn_userinfo(variable: str) -> None:
    log.warning("%s carries a user name or password (user:password@); Chatdeck ignores them so that they are "
                "never sent or shown. Give the token in its own setting (HF_TOKEN, or a user's login in Settings).",
                variable)


def link_local_allowed(env: Mapping[str, str] | None = None) -> bool:
    """Whether an admin allowed endpoints on link-local and metadata addresses."""
    value = (os.environ if env is None else env).get(ENV_ALLOW_LINK_LOCAL, "").strip().lower()
    return value in {"1", "true", "yes", "on"}


def host_of(url: str) -> str:
    """The URL's host name or address, lowercased, without brackets or a trailing dot ("" if none)."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_forbidden_address(value: str) -> bool:
    """Whether ``value`` is a link-local or cloud-metadata address (IPv4, IPv6 or IPv4-mapped IPv6)."""
    address = _address(value.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") says nothing here
    return address is not None and (address.is_link_local or address in METADATA_ADDRESSES)


def _refusal() -> str:
    return (f"link-local and cloud-metadata addresses are refused (they can expose the server's own "
            f"credentials); an admin can allow them with {ENV_ALLOW_LINK_LOCAL}=1")


def check(url: str, env: Mapping[str, str] | None = None) -> str:
    """``url`` stripped, if Chatdeck accepts it as a custom endpoint's base URL; else EndpointURLError.

    Checks the form (http or https, a host), that it carries no user name or password, and that its
    host is not a forbidden address or name as written. Does not resolve names (see :func:`check_resolved`).
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise EndpointURLError("the base URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise EndpointURLError("the base URL must start with http:// or https://")
    if "@" in parts.netloc:
        raise EndpointURLError("the base URL must not carry a user name or password (user:password@): put the key "
                               "in the API key field, where it is stored encrypted and never shown")
    host = host_of(url)
    if not host:
        raise EndpointURLError("the base URL has no host")
    if not link_local_allowed(env) and (host in METADATA_HOSTS or is_forbidden_address(host)):
        raise EndpointURLError(f"{host} is not allowed: {_refusal()}")
    return url


def _resolve(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


def check_resolved(url: str, env: Mapping[str, str] | None = None, resolve: Resolver = _resolve) -> str:
    """:func:`check`, and that the host's name does not resolve to a forbidden address now.

    A name that does not resolve at all is accepted (the server may be set up later); every request
    checks again (:func:`ensure_allowed`).
    """
    url = check(url, env)
    host = host_of(url)
    if link_local_allowed(env) or _address(host) is not None:
        return url
    try:
        addresses = list(resolve(host))
    except OSError:
        return url
    if any(is_forbidden_address(a) for a in addresses):
        raise EndpointURLError(f"{host} resolves to a forbidden address: {_refusal()}")
    return url


async def ensure_allowed(url: str, backend: str) -> None:
    """Before a request: raise UnavailableError if the URL's host is (or now resolves to) a forbidden
    address. The message names the backend, not the host (users who are not admins see it)."""
    if link_local_allowed():
        return
    host = host_of(url)
    refused = UnavailableError(f"{backend} is configured with an address Chatdeck refuses: {_refusal()}",
                               backend=backend)
    if host in METADATA_HOSTS or is_forbidden_address(host):
        raise refused
    if _address(host) is not None:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return  # unresolvable: the request itself will say the backend is unreachable
    if any(is_forbidden_address(str(info[4][0])) for info in infos):
        raise refused
