"""Custom endpoint URLs: no ``user:password@`` (refused, pointing at the key field), no link-local or
cloud-metadata host (refused at save and again before every request, unless an admin allows them), and
no host shown to anyone but admins.

No test here sends anything off loopback: refused addresses are literals or known names, refused
before any connection, and requests that would go out go to an in-memory transport that records them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

import application
from providers import endpoint_urls, registry
from providers.base import Guarded
from providers.endpoint_urls import ENV_ALLOW_LINK_LOCAL, EndpointURLError
from providers.errors import UnavailableError
from providers.events import ChatMessage, ChatRequest, Finished
from runner import custom_backends
from storage import endpoints
from storage.db import get_engine, make_engine, session
from storage.models import CustomEndpoint, utcnow
from tests.page_fixtures import shown

ALLOW = {ENV_ALLOW_LINK_LOCAL: "1"}
FORBIDDEN = ["http://169.254.169.254/latest", "http://169.254.10.1:8000/v1", "http://[fe80::1]:8000/v1",
             "http://[fe80::1%25eth0]/v1", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/",
             "http://metadata.google.internal/computeMetadata/v1", "http://METADATA.google.internal./",
             "http://100.100.100.200/"]
ALLOWED = ["http://127.0.0.1:11434/v1", "http://localhost:8000/v1", "http://[::1]:8000/v1",
           "http://10.0.0.5:8000/v1", "http://192.168.1.20/v1", "https://172.16.3.4/v1", "http://gpu-box:8000/v1"]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_link_local_and_metadata_hosts_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(EndpointURLError, match=ENV_ALLOW_LINK_LOCAL):
        endpoint_urls.check(url, env={})
    assert endpoint_urls.check(url, env=ALLOW) == url


@pytest.mark.parametrize("url", ALLOWED)
def test_loopback_and_private_hosts_stay_allowed(url: str) -> None:
    assert endpoint_urls.check(url, env={}) == url


@pytest.mark.parametrize("url", ["http://admin:hunter2@10.0.0.5/v1", "https://token@gpu:8000/v1",
                                 "http://:pw@localhost/v1"])
def test_a_user_name_or_password_in_the_url_is_refused_pointing_at_the_key_field(url: str) -> None:
    with pytest.raises(EndpointURLError, match="API key field"):
        endpoint_urls.check(url, env=ALLOW)


def test_a_name_is_refused_by_what_it_resolves_to_when_saved() -> None:
    def resolver(answer: list[str]) -> endpoint_urls.Resolver:
        return lambda host: answer

    with pytest.raises(EndpointURLError, match="resolves to a forbidden address"):
        endpoint_urls.check_resolved("http://sneaky:8000/v1", env={}, resolve=resolver(["10.0.0.1", "169.254.1.1"]))
    assert endpoint_urls.check_resolved("http://box:8000/v1", env={}, resolve=resolver(["10.0.0.1"]))
    assert endpoint_urls.check_resolved("http://sneaky/v1", env=ALLOW, resolve=resolver(["169.254.1.1"]))

    def unresolvable(host: str) -> list[str]:
        raise OSError("no such name")

    assert endpoint_urls.check_resolved("http://later:8000/v1", env={}, resolve=unresolvable)  # checked at use
    assert endpoint_urls.check_resolved("http://localhost:8000/v1", env={})  # the system's resolver, locally


def test_the_environments_url_loses_its_user_name_and_password() -> None:
    assert endpoint_urls.from_environment("https://u:p@proxy.example/v1", "X") == "https://proxy.example/v1"
    assert endpoint_urls.from_environment("http://127.0.0.1:9", "X") == "http://127.0.0.1:9"


def test_storage_refuses_what_the_form_refuses(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_ALLOW_LINK_LOCAL, raising=False)
    engine = make_engine(sqlite_url)
    try:
        with session(engine) as s:
            for url in ("http://user:pass@10.0.0.5/v1", "http://169.254.169.254/v1"):
                with pytest.raises(ValueError, match=r"user name or password|link-local"):
                    endpoints.add(s, display_name="Box", base_url=url)
            assert endpoints.list_endpoints(s) == []
    finally:
        engine.dispose()


# --- before every request -------------------------------------------------------------------------


def _stored(engine: Engine, base_url: str) -> None:
    """An endpoint row as saved before these checks existed (or before its name moved)."""
    with session(engine) as s:
        s.add(CustomEndpoint(slug="box", display_name="Box", base_url=base_url, models=["m"], secret=None,
                             created_at=utcnow(), updated_at=utcnow()))


def _provider(engine: Engine, sent: list[httpx.Request]) -> object:
    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503, json={"error": {"message": f"nothing behind {request.url.host}:{request.url.port}"
                                                              f" ({request.url})"}})

    ((_info, factory),) = custom_backends.load(engine)
    return Guarded(factory(httpx.AsyncClient(transport=httpx.MockTransport(record)), None))  # as registry.create


async def _finished(provider: object) -> Finished:
    events = [e async for e in provider.stream(ChatRequest("m", (ChatMessage("user", "hi"),)))]  # type: ignore[attr-defined]
    assert isinstance(events[-1], Finished)
    return events[-1]


@pytest.mark.parametrize("url", ["http://169.254.169.254/v1", "http://metadata.google.internal/v1"])
def test_a_stored_forbidden_host_is_refused_before_any_request(
    sqlite_url: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_ALLOW_LINK_LOCAL, raising=False)
    engine = make_engine(sqlite_url)
    sent: list[httpx.Request] = []
    try:
        _stored(engine, url)
        provider = _provider(engine, sent)
        finished = asyncio.run(_finished(provider))
        assert finished.error.kind == "unavailable"
        assert "Box is configured with an address Chatdeck refuses" in finished.error.message
        assert "169.254" not in finished.error.message and "metadata.google" not in finished.error.message
        with pytest.raises(UnavailableError):
            asyncio.run(provider.list_models())  # type: ignore[attr-defined]
        assert sent == []  # nothing was sent anywhere

        monkeypatch.setenv(ENV_ALLOW_LINK_LOCAL, "1")  # an admin allowed it: the request is made
        asyncio.run(_finished(provider))
        assert [str(r.url) for r in sent] == [url + "/chat/completions"]
    finally:
        engine.dispose()


def test_an_allowed_host_is_asked_as_before_and_its_errors_do_not_name_it(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    sent: list[httpx.Request] = []
    try:
        _stored(engine, "http://localhost:9/v1")  # resolved anew on this machine: loopback
        finished = asyncio.run(_finished(_provider(engine, sent)))
        assert [str(r.url) for r in sent] == ["http://localhost:9/v1/chat/completions"]
        message = finished.error.message  # type: ignore[union-attr]
        assert "(HTTP 503): nothing behind" in message and "localhost:9" not in message  # the server's words, no host
    finally:
        engine.dispose()


# --- what the pages show --------------------------------------------------------------------------


@pytest.fixture
def pages(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "endpoint-url-test-secret")
    monkeypatch.delenv(ENV_ALLOW_LINK_LOCAL, raising=False)
    yield
    application.reset()


def _settings() -> AppTest:
    return AppTest.from_string("from views import settings\nsettings.render()", default_timeout=30)


def _add(app: AppTest, url: str) -> None:
    app.text_input(key="endpoint_name").set_value("Box")
    app.text_input(key="endpoint_url").set_value(url)
    app.button[[b.label for b in app.button].index("Add endpoint")].click().run()


@pytest.mark.usefixtures("pages")
def test_the_admin_form_refuses_secrets_and_metadata_hosts_with_the_reason() -> None:
    app = _settings().run()
    _add(app, "http://admin:hunter2@127.0.0.1:8000/v1")
    assert any("API key field" in shown(e.value) for e in app.error)
    _add(app, "http://169.254.169.254/v1")
    assert any(ENV_ALLOW_LINK_LOCAL in shown(e.value) for e in app.error)
    assert "custom-box" not in registry.all_backends()
    assert all("hunter2" not in shown(m.value) for m in app.markdown)


@pytest.mark.usefixtures("pages")
def test_hosts_are_shown_to_admins_only_and_never_a_password() -> None:
    _stored(get_engine(), "http://admin:hunter2@127.0.0.42:8000/v1")  # saved before userinfo was refused
    registry.refresh()
    settings = _settings().run()  # the local user: an admin
    listed = " ".join(shown(m.value) for m in settings.markdown)
    assert "http://127.0.0.42:8000/v1" in listed and "hunter2" not in listed and "admin:" not in listed

    backends = AppTest.from_string("from views import backends\nbackends.render()", default_timeout=30)
    backends.session_state["owner_id"] = _guest()
    backends.run()
    assert not backends.exception
    drawn = " ".join(shown(e.value) for e in [*backends.markdown, *backends.caption])
    assert "Box" in drawn and "127.0.0.42" not in drawn and "hunter2" not in drawn


def _guest() -> int:
    from storage import repository as repo

    with session(get_engine()) as s:
        return repo.get_or_create_user(s, "guest@example.com", "Guest").id


def test_the_hugging_face_backend_never_sends_a_url_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_HF_URL", "http://user:hunter2@127.0.0.1:9/v1")
    provider = registry.create("huggingface", None, {"token": "hf_test"})
    assert provider.base_url == "http://127.0.0.1:9/v1"  # type: ignore[attr-defined]
