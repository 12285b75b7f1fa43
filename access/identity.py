"""Who is using Chatdeck: three identity modes, chosen by configuration.

* **single** (the default): no sign-in; one local user owns everything and administers the install.
* **oidc**: sign-in with ``st.login`` against an OpenID Connect provider, when ``.streamlit/secrets.toml``
  has an ``[auth]`` section (Streamlit's own format: ``redirect_uri``, ``cookie_secret``, ``client_id``,
  ``client_secret``, ``server_metadata_url``; or one sub-section per provider).
* **proxy**: a reverse proxy that signs people in (oauth2-proxy, an SSO gateway) passes the address in a
  header. The header is trusted only when ``CHATDECK_TRUSTED_HEADER`` names it (e.g. ``X-Forwarded-Email``);
  the app must then be reachable through that proxy only.

Whatever the mode, a signed-in address must be allowed (``CHATDECK_ALLOWED_USERS``: addresses and domains;
empty allows everyone the provider or proxy signs in), and admins are the addresses in ``CHATDECK_ADMINS``.
A user is keyed by their lowercased address, so the same person is the same user in either team mode.

Pure functions of configuration, claims and headers: nothing here renders or touches the database
(views/signin.py does both).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SINGLE, OIDC, PROXY = "single", "oidc", "proxy"
LOCAL_EXTERNAL_ID = "local"  # the one user of single-user mode (storage.repository.local_user)

ENV_TRUSTED_HEADER = "CHATDECK_TRUSTED_HEADER"
ENV_TRUSTED_NAME_HEADER = "CHATDECK_TRUSTED_NAME_HEADER"
ENV_ALLOWED = "CHATDECK_ALLOWED_USERS"
ENV_ADMINS = "CHATDECK_ADMINS"
ENV_SIGN_OUT_URL = "CHATDECK_SIGN_OUT_URL"

MAX_ADDRESS = 320


@dataclass(frozen=True)
class Config:
    mode: str
    header: str = ""  # proxy mode: the header carrying the signed-in address
    name_header: str = ""  # proxy mode, optional: a header carrying the display name
    allowed: tuple[str, ...] = ()  # lowercased addresses ("ann@example.com") and domains ("example.com")
    admins: frozenset[str] = frozenset()
    sign_out_url: str = ""  # proxy mode: where "Sign out" leads (the proxy's own sign-out)
    providers: tuple[str, ...] = ()  # oidc mode: named providers ([auth.NAME]); empty: the default one


@dataclass(frozen=True)
class Identity:
    """A signed-in person (or the local user)."""

    external_id: str  # the users row's key: the lowercased address, or "local"
    email: str | None
    name: str
    is_admin: bool


class NotAllowedError(Exception):
    """A signed-in address this server does not admit (the message is safe to show)."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.replace(";", ",").split(",") if part.strip())


def config(secrets: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The identity configuration from ``secrets`` (``st.secrets``) and ``env`` (``os.environ``)."""
    env = os.environ if env is None else env
    auth = (secrets or {}).get("auth")
    allowed = tuple(entry.removeprefix("@") for entry in _split(env.get(ENV_ALLOWED, "")))  # "@example.com" too
    admins = frozenset(_split(env.get(ENV_ADMINS, "")))
    if isinstance(auth, Mapping) and auth:
        providers = tuple(sorted(name for name, value in auth.items() if isinstance(value, Mapping)))
        return Config(OIDC, allowed=allowed, admins=admins, providers=() if "client_id" in auth else providers)
    header = env.get(ENV_TRUSTED_HEADER, "").strip()
    if header:
        return Config(PROXY, header=header, name_header=env.get(ENV_TRUSTED_NAME_HEADER, "").strip(),
                      allowed=allowed, admins=admins, sign_out_url=env.get(ENV_SIGN_OUT_URL, "").strip())
    return Config(SINGLE)


def streamlit_config() -> Config:
    """:func:`config` with Streamlit's secrets (no secrets file at all means no ``[auth]``)."""
    return config(_streamlit_secrets())


# Without a secrets file Streamlit looks for one again on every st.secrets access, under one lock: with
# every rerun reading the identity mode several times, a hundred busy sessions queued there. So "no
# secrets" is remembered for as long as the same st.secrets object and the same (absent) files stay.
_no_secrets: tuple[weakref.ref[Any], tuple[int | None, ...]] | None = None


def _streamlit_secrets() -> Mapping[str, Any]:
    global _no_secrets
    import streamlit as st
    from streamlit import config as st_config
    from streamlit.errors import StreamlitSecretNotFoundError

    signature = tuple(_modified(path) for path in st_config.get_option("secrets.files"))
    known = _no_secrets
    if known is not None and known[0]() is st.secrets and known[1] == signature:
        return {}
    try:
        return st.secrets.to_dict()
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        _no_secrets = (weakref.ref(st.secrets), signature)
        return {}


def _modified(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def local() -> Identity:
    return Identity(LOCAL_EXTERNAL_ID, None, "Local user", is_admin=True)


def _normalise(address: object) -> str | None:
    if not isinstance(address, str):
        return None
    address = address.strip().lower()
    local_part, at, domain = address.partition("@")
    if not at or not local_part or "." not in domain or len(address) > MAX_ADDRESS or not address.isprintable():
        return None
    if any(c.isspace() for c in address) or "," in address:
        return None
    return address


def is_allowed(address: str, cfg: Config) -> bool:
    """Whether ``address`` may sign in: listed itself, or its domain (or a parent domain) is listed."""
    if not cfg.allowed:
        return True
    domain = address.rpartition("@")[2]
    parents = {".".join(domain.split(".")[i:]) for i in range(domain.count("."))}
    return address in cfg.allowed or any(entry in parents for entry in cfg.allowed if "@" not in entry)


def _admitted(address: str, name: str, cfg: Config) -> Identity:
    if not is_allowed(address, cfg):
        raise NotAllowedError(f"{address} is not allowed to use this Chatdeck. Ask an admin to add your address "
                              "or your domain to the allowed users.")
    return Identity(address, address, name.strip()[:255] or address, is_admin=address in cfg.admins)


def from_claims(claims: Mapping[str, Any], cfg: Config) -> Identity:
    """The identity in an OIDC user's claims (``st.user``); raises :class:`NotAllowedError`."""
    address = _normalise(claims.get("email"))
    if address is None:
        raise NotAllowedError("Your identity provider did not share an e-mail address, which Chatdeck needs to "
                              "know who you are. Ask your admin to request the `email` scope.")
    if claims.get("email_verified") is False:
        raise NotAllowedError(f"Your identity provider says {address} is not verified yet. Verify it there, "
                              "then sign in again.")
    name = claims.get("name") or claims.get("preferred_username") or ""
    return _admitted(address, str(name), cfg)


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive): all of a repeated header's lines where the
    mapping keeps them (Streamlit's ``st.context.headers`` has ``get_all``), else the one value."""
    get_all = getattr(headers, "get_all", None)
    if callable(get_all):
        return [str(value) for value in get_all(name)]
    return [value for key, value in headers.items() if key.lower() == name.lower()]


def _one_header(headers: Mapping[str, str], name: str) -> str:
    """The header's value, stripped ("" when absent); refused when it came more than once, since a
    proxy that appends to a client's own header instead of replacing it would let the first one win."""
    values = [value.strip() for value in _header_values(headers, name)]
    if len(values) > 1:
        raise NotAllowedError(f"The sign-in proxy passed {name} more than once; Chatdeck accepts exactly one. "
                              "Ask your admin to make the proxy replace the header instead of adding to it.")
    return values[0] if values else ""


def from_headers(headers: Mapping[str, str], cfg: Config) -> Identity | None:
    """The identity the trusted proxy passed, or ``None`` when the header is missing or empty.

    Raises :class:`NotAllowedError` for an address that is malformed or not allowed, and for an address
    or name header that came more than once (a comma-joined address is malformed).
    """
    raw = _one_header(headers, cfg.header)
    if not raw:
        return None
    address = _normalise(raw)
    if address is None:
        raise NotAllowedError(f"The sign-in proxy passed {cfg.header} in a form Chatdeck does not accept "
                              "(one e-mail address is expected).")
    name = _one_header(headers, cfg.name_header) if cfg.name_header else ""
    return _admitted(address, name, cfg)


def admits(external_id: str, cfg: Config) -> bool:
    """Whether the user keyed ``external_id`` may still use Chatdeck under ``cfg``.

    REST API tokens outlive browser sessions: an address removed from the allowed users (or the local
    user of a server that became a team server) is refused there too.
    """
    if cfg.mode == SINGLE:
        return True
    address = _normalise(external_id)
    return address is not None and is_allowed(address, cfg)
