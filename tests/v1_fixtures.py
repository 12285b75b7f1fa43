"""The app over real HTTP with every backend pointed at its simulator, for the ``/v1`` API tests.

One app (``streamlit run`` in a subprocess) per test module, with the four built-in backends'
simulators on loopback. HailuoAI has no server-wide login here: Alice saves her own (as in
Settings), Bob has none. There is no default rate limit (the tests send more than 20 a minute).
A custom endpoint ``custom-off`` (the Hugging Face simulator again) exists
and is switched off by an admin before the app starts. Tokens are issued in this process into the
app's database with the same CHATDECK_SECRET_KEY, as the Settings page would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
from sqlalchemy.engine import Engine

from access import policy
from api import tokens
from simulators.allenai import AllenAISimulator
from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID, HailuoSimulator
from simulators.huggingchat import HuggingChatSimulator
from simulators.openai_compat import SIM_TOKEN, OpenAICompatSimulator
from simulators.serve import serve
from storage import credentials, endpoints
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, start_app, stop_app

SECRET = "openai-v1-test-secret-0123456789"
# One model of each built-in backend (providers/registry.py); a new backend adds its line and a simulator.
MODELS = {
    "allenai": "olmo-3.1-32b-instruct",
    "huggingface": "meta-llama/Llama-3.3-70B-Instruct",
    "hailuo": "minimax",
    "huggingchat": "meta-llama/Llama-3.3-70B-Instruct",
}


@dataclass
class V1Env:
    app: AppServer
    sims: dict[str, Any]  # backend name -> its simulator
    engine: Engine
    users: dict[str, int] = field(default_factory=dict)

    def token(self, user: str = "alice") -> str:
        with session(self.engine) as s:
            return tokens.issue(s, self.users[user], name="v1", lifetime=timedelta(hours=1)).token

    def client(self, user: str = "alice", token: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.app.url + "/v1", api_key=token or self.token(user), max_retries=0,
                             timeout=30)

    def messages(self, user: str, conversation_id: str) -> list[tuple[str, str, str]]:
        with session(self.engine) as s:
            return [(m.role, m.content, m.status)
                    for m in repo.recent_messages(s, self.users[user], conversation_id)]

    def fresh_scripts(self) -> None:
        for sim in self.sims.values():
            sim.script = type(sim.script)()


def start_v1_env(tmp: Path) -> Iterator[V1Env]:
    mp = pytest.MonkeyPatch()
    mp.setenv("CHATDECK_SECRET_KEY", SECRET)
    sims = {"allenai": AllenAISimulator(), "huggingface": OpenAICompatSimulator(), "hailuo": HailuoSimulator(),
            "huggingchat": HuggingChatSimulator()}
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(serve(sim.app)) for name, sim in sims.items()}
        engine = make_engine(f"sqlite:///{tmp / 'app.db'}")
        with session(engine) as s:
            users = {name: repo.get_or_create_user(s, name, name.title()).id for name in ("alice", "bob", "carol")}
            users["local"] = repo.local_user(s).id  # the single-user mode's user, who uses the browser
            credentials.save(s, users["alice"], "hailuo",
                             {"token": DEMO_TOKEN, "device_id": DEMO_DEVICE_ID, "user_id": DEMO_USER_ID})
            endpoints.add(s, display_name="Off", slug="off", base_url=urls["huggingface"] + "/v1",
                          models=[MODELS["huggingface"]], api_key=SIM_TOKEN)
        policy.set_backend_enabled(engine, "custom-off", False)
        app = start_app(tmp, {
            "CHATDECK_SECRET_KEY": SECRET, "CHATDECK_RATE_LIMIT": "0",  # no default limit: Carol gets her own
            "CHATDECK_ALLENAI_URL": urls["allenai"],
            "CHATDECK_HF_URL": urls["huggingface"] + "/v1", "HF_TOKEN": SIM_TOKEN,
            "CHATDECK_HAILUO_URL": urls["hailuo"],
            "CHATDECK_HUGGINGCHAT_URL": urls["huggingchat"] + "/chat",
            "CHATDECK_HUGGINGCHAT_COOKIES": sims["huggingchat"].cookie_header(),
        })
        try:
            yield V1Env(app, sims, engine, users)
        finally:
            stop_app(app)
            engine.dispose()
            mp.undo()
