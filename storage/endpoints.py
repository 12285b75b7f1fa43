"""Custom OpenAI-compatible endpoints an admin added: plain functions taking a Session.

Each endpoint becomes a backend of its own (see runner/custom_backends.py). Its optional API key
is sealed with :mod:`storage.secrets` like a user's login and opened only to build a provider. Its
base URL is shown to admins only (:func:`shown_url`); everyone else sees the endpoint's name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from providers import endpoint_urls
from storage.models import CustomEndpoint, utcnow
from storage.secrets import seal, unseal

LIST_LIMIT = 100  # more endpoints than any picker could show
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def slugify(name: str) -> str:
    """A backend-name-safe slug of a display name ("My vLLM box" -> "my-vllm-box")."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")


def add(
    s: Session, *, display_name: str, base_url: str, models: Sequence[str] = (), api_key: str = "",
    slug: str | None = None,
) -> CustomEndpoint:
    """Add an endpoint. Raises ValueError for a bad name or URL, or a name already taken.

    The URL is checked as written (:func:`providers.endpoint_urls.check`); the Settings page also
    checks what its host resolves to before calling this.
    """
    display_name = display_name.strip()
    slug = slug or slugify(display_name)
    base_url = base_url.strip().rstrip("/")
    if not display_name or not SLUG.fullmatch(slug):
        raise ValueError("give the endpoint a name with at least one letter or digit")
    base_url = endpoint_urls.check(base_url)  # form, no user:password@, no link-local or metadata host
    if s.scalar(select(CustomEndpoint.id).where(CustomEndpoint.slug == slug)) is not None:
        raise ValueError(f"an endpoint named {slug!r} already exists")
    endpoint = CustomEndpoint(
        slug=slug, display_name=display_name[:100], base_url=base_url[:500],
        models=[m.strip() for m in models if m.strip()],
        secret=seal({"api_key": api_key.strip()}) if api_key.strip() else None,
        created_at=utcnow(), updated_at=utcnow(),
    )
    s.add(endpoint)
    s.flush()
    return endpoint


def list_endpoints(s: Session, *, limit: int = LIST_LIMIT) -> list[CustomEndpoint]:
    """All endpoints, in the order they were added."""
    return list(s.scalars(select(CustomEndpoint).order_by(CustomEndpoint.id).limit(max(0, min(limit, LIST_LIMIT)))))


def remove(s: Session, slug: str) -> bool:
    result = s.execute(delete(CustomEndpoint).where(CustomEndpoint.slug == slug))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def shown_url(endpoint: CustomEndpoint) -> str:
    """The base URL as the admin's list shows it: without a user name or password, should one have been
    saved before they were refused."""
    return endpoint_urls.without_userinfo(endpoint.base_url)


def api_key(endpoint: CustomEndpoint) -> str | None:
    """The endpoint's decrypted API key, or None."""
    return unseal(endpoint.secret).get("api_key") if endpoint.secret else None
