"""The environment AppTests of the pages share (a pytest plugin loaded by tests/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

import application
from access import policy
from simulators.openai_compat import SIM_TOKEN
from tests.sim_fixtures import SimHandle

TEAM_SETTINGS = ("CHATDECK_TRUSTED_HEADER", "CHATDECK_ALLOWED_USERS", "CHATDECK_ADMINS", "CHATDECK_SIGN_OUT_URL",
                 policy.ENV_RATE_LIMIT)


@pytest.fixture
def pages_env(sqlite_url: str, allenai_sim: SimHandle, huggingface_sim: SimHandle,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Single-user mode on a fresh SQLite file, with the Ai2 and Hugging Face simulators (the server's
    Hugging Face login set); the application (engine, runner, policy, ...) is reset before and after. A fixture
    that changes the policy's environment calls ``policy.invalidate()`` after it."""
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_ALLENAI_URL", allenai_sim.url)
    monkeypatch.setenv("CHATDECK_HF_URL", huggingface_sim.url)
    monkeypatch.setenv("HF_TOKEN", SIM_TOKEN)
    monkeypatch.setenv("CHATDECK_SECRET_KEY", "page-tests-secret-key")
    for name in TEAM_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    application.reset()
    yield
    application.reset()


def shown(value: str) -> str:
    """What a reader sees of a markdown value the pages escaped with ``markup.safe_markdown.plain``: the text
    without the backslashes that keep outside text (names, errors, file names) from being formatted."""
    return re.sub(r"\\(.)", r"\1", value)
