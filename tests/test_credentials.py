"""Backend logins: encrypted at rest, per user, never readable with another key."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage import credentials
from storage import repository as repo
from storage.db import session
from storage.secrets import SecretKeyError, derive_key, mask, seal, unseal

COOKIE = "hf-chat=0123456789abcdef; token=hf_SECRETSECRETSECRET"


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "test-secret-key-one")


def users(engine: Engine) -> tuple[int, int]:
    with session(engine) as s:
        return repo.local_user(s).id, repo.get_or_create_user(s, "bob@example.com").id


def test_saved_logins_are_encrypted_at_rest_and_per_user(engine: Engine) -> None:
    alice, bob = users(engine)
    with session(engine) as s:
        credentials.save(s, alice, "huggingchat", {"cookies": COOKIE})
    with session(engine) as s:
        assert credentials.load(s, alice, "huggingchat") == {"cookies": COOKIE}
        assert credentials.load(s, bob, "huggingchat") is None
        raw = " ".join(str(v) for row in s.execute(text("SELECT * FROM credentials")) for v in row)
    assert "SECRET" not in raw and "hf-chat" not in raw
    with session(engine) as s:
        hint, _updated = credentials.hints(s, alice)["huggingchat"]
        assert hint.endswith("CRET") and "hf_" not in hint
        assert credentials.hints(s, bob) == {}


def test_saving_again_replaces_and_removing_deletes(engine: Engine) -> None:
    alice, _ = users(engine)
    with session(engine) as s:
        credentials.save(s, alice, "hailuo", {"token": "first-token-value", "device_id": "1", "user_id": "2"})
        credentials.save(s, alice, "hailuo", {"token": "second-token-value", "device_id": "3", "user_id": "4"})
    with session(engine) as s:
        assert credentials.load(s, alice, "hailuo") == {"token": "second-token-value", "device_id": "3", "user_id": "4"}
        assert credentials.remove(s, alice, "hailuo")
        assert not credentials.remove(s, alice, "hailuo")
        assert credentials.load(s, alice, "hailuo") is None


def test_blank_values_save_nothing(engine: Engine) -> None:
    alice, _ = users(engine)
    with session(engine) as s:
        credentials.save(s, alice, "huggingface", {"token": "   "})
        assert credentials.load(s, alice, "huggingface") is None


def test_another_key_cannot_open_them(monkeypatch: pytest.MonkeyPatch) -> None:
    token = seal({"token": "abc"})
    assert unseal(token) == {"token": "abc"}
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "a-different-key")
    with pytest.raises(SecretKeyError, match="CHATDECK_SECRET_KEY"):
        unseal(token)


def test_keys_are_derived_per_purpose() -> None:
    assert derive_key(b"credentials") != derive_key(b"api tokens")
    assert len(derive_key(b"credentials")) == 32


def test_masks_reveal_no_more_than_four_characters() -> None:
    assert mask("hf_abcdefghijklmnop") == "••••••mnop"
    assert mask("short") == "••••••"


def test_without_a_configured_key_one_is_generated_once_and_kept_private(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from storage import secrets

    key_file = Path(str(tmp_path)) / "data" / "secret.key"
    monkeypatch.delenv("CHATDECK_SECRET_KEY")
    monkeypatch.setattr(secrets, "KEY_FILE", key_file)
    first = secrets.secret_key()
    assert secrets.secret_key() == first and len(first) >= 40
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert unseal(seal({"a": "b"})) == {"a": "b"}
