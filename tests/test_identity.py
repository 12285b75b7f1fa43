"""access/identity.py: the mode chosen by configuration, allowed addresses and domains, admins, and what
is accepted from OIDC claims and from a trusted proxy header."""

from __future__ import annotations

from pathlib import Path

import pytest

from access import identity
from access.identity import OIDC, PROXY, SINGLE, NotAllowedError

AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "s", "client_id": "c",
        "client_secret": "x", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}


def test_single_user_is_the_default() -> None:
    cfg = identity.config({}, {})
    assert cfg.mode == SINGLE
    local = identity.local()
    assert local.external_id == "local" and local.is_admin


def test_an_auth_section_means_oidc_even_with_a_trusted_header_configured() -> None:
    cfg = identity.config({"auth": AUTH}, {"CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email"})
    assert cfg.mode == OIDC and cfg.providers == ()
    named = identity.config({"auth": {"redirect_uri": "r", "cookie_secret": "s", "okta": {"client_id": "a"},
                                      "google": {"client_id": "b"}}}, {})
    assert named.providers == ("google", "okta")


def test_the_proxy_header_is_trusted_only_when_configured() -> None:
    assert identity.config({}, {"CHATDECK_TRUSTED_HEADER": " "}).mode == SINGLE
    cfg = identity.config({}, {"CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email", "CHATDECK_SIGN_OUT_URL": "/out"})
    assert (cfg.mode, cfg.header, cfg.sign_out_url) == (PROXY, "X-Forwarded-Email", "/out")


@pytest.mark.parametrize(
    ("allowed", "address", "ok"),
    [
        ("", "anyone@anywhere.org", True),
        ("ann@example.com", "ann@example.com", True),
        ("ann@example.com", "bob@example.com", False),
        ("example.com", "bob@example.com", True),
        ("@example.com", "bob@example.com", True),
        ("example.com", "bob@eu.example.com", True),  # a subdomain of an allowed domain
        ("example.com", "bob@notexample.com", False),
        ("example.com", "bob@example.com.evil.org", False),
        ("example.com; ann@other.org", "ann@other.org", True),
        ("example.com, ann@other.org", "zed@other.org", False),
    ],
)
def test_allowed_addresses_and_domains(allowed: str, address: str, ok: bool) -> None:
    cfg = identity.config({}, {"CHATDECK_TRUSTED_HEADER": "X-Email", "CHATDECK_ALLOWED_USERS": allowed})
    assert identity.is_allowed(address, cfg) is ok


def test_oidc_claims_give_a_lowercased_address_and_admin_rights_from_configuration() -> None:
    cfg = identity.config({"auth": AUTH},
                          {"CHATDECK_ADMINS": "Boss@Example.com", "CHATDECK_ALLOWED_USERS": "example.com"})
    boss = identity.from_claims({"email": "BOSS@example.com", "name": "The Boss", "email_verified": True}, cfg)
    assert (boss.external_id, boss.email, boss.name, boss.is_admin) == (
        "boss@example.com", "boss@example.com", "The Boss", True)
    ann = identity.from_claims({"email": "ann@example.com"}, cfg)
    assert (ann.name, ann.is_admin) == ("ann@example.com", False)
    with pytest.raises(NotAllowedError, match="not allowed"):
        identity.from_claims({"email": "eve@evil.org"}, cfg)
    with pytest.raises(NotAllowedError, match="e-mail address"):
        identity.from_claims({"sub": "123"}, cfg)
    with pytest.raises(NotAllowedError, match="not verified"):
        identity.from_claims({"email": "ann@example.com", "email_verified": False}, cfg)


def test_proxy_headers_are_read_case_insensitively_and_checked() -> None:
    cfg = identity.config({}, {"CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email",
                               "CHATDECK_TRUSTED_NAME_HEADER": "X-Forwarded-User"})
    who = identity.from_headers({"x-forwarded-email": "Ann@Example.com", "X-FORWARDED-USER": "Ann"}, cfg)
    assert who is not None and (who.external_id, who.name) == ("ann@example.com", "Ann")
    assert identity.from_headers({}, cfg) is None
    assert identity.from_headers({"X-Forwarded-Email": "  "}, cfg) is None
    for forged in ("ann@example.com, eve@evil.org", "not an address", "ann@localhost", "a b@example.com"):
        with pytest.raises(NotAllowedError):
            identity.from_headers({"X-Forwarded-Email": forged}, cfg)


def test_a_repeated_identity_header_is_refused_not_first_wins() -> None:
    """Headers as Streamlit hands them to the page (``st.context.headers``), built from the request's
    header lines: a proxy that appended its header to the client's own must not let either one in."""
    from streamlit.runtime.context import StreamlitHeaders

    cfg = identity.config({}, {"CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email",
                               "CHATDECK_TRUSTED_NAME_HEADER": "X-Forwarded-User"})
    one = StreamlitHeaders([("X-Forwarded-Email", "ann@example.com"), ("X-Forwarded-User", "Ann")])
    who = identity.from_headers(one, cfg)
    assert who is not None and (who.external_id, who.name) == ("ann@example.com", "Ann")
    repeated = [
        [("X-Forwarded-Email", "eve@evil.org"), ("x-forwarded-email", "ann@example.com")],
        [("X-Forwarded-Email", "ann@example.com"), ("X-Forwarded-Email", "ann@example.com")],
        [("X-Forwarded-Email", "ann@example.com"), ("X-Forwarded-User", "Eve"), ("X-Forwarded-User", "Ann")],
    ]
    for lines in repeated:
        with pytest.raises(NotAllowedError, match="more than once"):
            identity.from_headers(StreamlitHeaders(lines), cfg)


def test_the_remembered_absence_of_secrets_ends_when_a_secrets_file_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st
    from streamlit import config as st_config
    from streamlit.runtime.secrets import Secrets

    path = tmp_path / "secrets.toml"
    monkeypatch.setattr(st, "secrets", Secrets())
    looked: list[str] = []
    look = Secrets._parse_file_path
    monkeypatch.setattr(Secrets, "_parse_file_path", lambda self, p: looked.append(p) or look(self, p))
    original = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(path)])
    try:
        assert identity.streamlit_config().mode == identity.SINGLE
        assert looked == [str(path)]
        assert identity.streamlit_config().mode == identity.SINGLE
        assert looked == [str(path)]  # the absence remembered: no second look for the file
        path.write_text('[auth]\nredirect_uri = "http://localhost/oauth2callback"\nclient_id = "x"\n')
        assert identity.streamlit_config().mode == identity.OIDC
    finally:
        st_config.set_option("secrets.files", original)
