"""Encryption of stored credentials, with a key derived from ``CHATDECK_SECRET_KEY``.

A team deployment sets ``CHATDECK_SECRET_KEY`` (the same value on every replica). A single-user
install without it gets a random key generated once into ``data/secret.key`` (readable by the
owner only), so stored logins are never in plain text on disk.

Values are JSON-encoded and sealed with Fernet (AES-128-CBC + HMAC-SHA256); the Fernet key is
HKDF-SHA256 of the secret, so the same secret can key other things without reuse.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE = Path(__file__).resolve().parent.parent / "data" / "secret.key"
_lock = threading.Lock()


class SecretKeyError(RuntimeError):
    """Stored credentials cannot be opened with the configured secret key."""


def secret_key() -> bytes:
    """CHATDECK_SECRET_KEY, or this install's generated key file."""
    configured = os.environ.get("CHATDECK_SECRET_KEY")
    if configured:
        return configured.encode()
    with _lock:
        if not KEY_FILE.exists():
            KEY_FILE.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # as storage.db makes it
            fd = os.open(KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        return KEY_FILE.read_text().strip().encode()


def derive_key(purpose: bytes, secret: bytes | None = None) -> bytes:
    """32 bytes for one purpose (``b"credentials"``, ``b"api tokens"``), derived from the secret key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"chatdeck", info=purpose)
    return hkdf.derive(secret if secret is not None else secret_key())


def _fernet(secret: bytes | None = None) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(b"credentials", secret)))


def seal(values: dict[str, str], secret: bytes | None = None) -> str:
    return _fernet(secret).encrypt(json.dumps(values).encode()).decode()


def unseal(token: str, secret: bytes | None = None) -> dict[str, str]:
    try:
        data = json.loads(_fernet(secret).decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretKeyError(
            "stored credentials cannot be decrypted: CHATDECK_SECRET_KEY differs from the key they were saved with"
        ) from exc
    return {str(k): str(v) for k, v in data.items()}


def mask(value: str) -> str:
    """A hint that identifies a secret without revealing it: its length class and last 4 characters."""
    value = value.strip()
    if len(value) < 12:
        return "•" * 6
    return "•" * 6 + value[-4:]
