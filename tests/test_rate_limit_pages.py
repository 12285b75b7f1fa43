"""The rate limit and a disabled backend on the pages, under AppTest (single-user mode, real runner, real
database, the simulators on loopback): the message is refused with the reason on screen, nothing is saved
or sent, and nothing typed is lost (the prompt is back in the chat input, an edit stays open)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from access import policy
from storage import repository as repo
from storage.db import get_engine, session
from tests.page_fixtures import shown
from tests.sim_fixtures import SimHandle

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
COMPARE = "from views import compare\ncompare.render()"
LIMITED = re.compile(r"You have sent (\d+) messages? in the last minute \(your limit\)\. Try again in (\d+) s\.")


@pytest.fixture
def env(pages_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(policy.ENV_RATE_LIMIT, "2")
    policy.invalidate()


def stored(conversation_id: str) -> list[tuple[str, str]]:
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        return [(m.role, m.content) for m in repo.recent_messages(s, owner, conversation_id)]


def current_id(at: AppTest) -> str:
    value = at.query_params["c"]
    return value[0] if isinstance(value, list) else value


def limited(at: AppTest) -> re.Match[str] | None:
    return next((m for w in at.warning if (m := LIMITED.fullmatch(shown(w.value)))), None)


def in_the_input(at: AppTest, key: str) -> str | None:
    """The text the page put in a chat input (as the browser would show it), if any."""
    proto = at.chat_input(key=key).proto
    return proto.value if proto.set_value else None


def test_the_chat_page_refuses_over_the_limit_and_gives_the_prompt_back(
    env: None, allenai_sim: SimHandle
) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    for prompt in ("one", "two"):
        at.chat_input(key="prompt").set_value(prompt).run()
    conversation = current_id(at)
    at.chat_input(key="prompt").set_value("three, with care").run()
    assert not at.exception
    match = limited(at)
    assert match is not None and match[1] == "2" and 1 <= int(match[2]) <= 60
    assert in_the_input(at, "prompt") == "three, with care"
    assert [content for role, content in stored(conversation) if role == "user"] == ["one", "two"]
    assert len(allenai_sim.sim.chat_requests()) == 2
    assert "three, with care" not in [m.value for m in at.markdown]

    at.run()  # any rerun: the reason stays until its wait is over or the next message goes
    assert limited(at) is not None and in_the_input(at, "prompt") is None


def test_a_new_chat_over_the_limit_creates_no_conversation(env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(policy.ENV_RATE_LIMIT, "1")
    policy.invalidate()
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.chat_input(key="prompt").set_value("first").run()
    at.button(key="new_chat").click().run()
    at.chat_input(key="prompt").set_value("second chat").run()
    assert limited(at) is not None and "c" not in at.query_params
    with session(get_engine()) as s:
        assert len(repo.list_conversations(s, repo.local_user(s).id)) == 1


def test_regenerate_and_edit_over_the_limit_say_so_and_keep_the_edit(env: None, allenai_sim: SimHandle) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    for prompt in ("one", "two"):
        at.chat_input(key="prompt").set_value(prompt).run()
    conversation = current_id(at)
    before = stored(conversation)
    regenerate = next(b for b in at.button if b.key and b.key.startswith("regen_"))
    regenerate.click().run()
    assert not at.exception and limited(at) is not None
    assert stored(conversation) == before and len(allenai_sim.sim.chat_requests()) == 2

    edit = next(b for b in at.button if b.key and b.key.startswith("edit_"))
    message_id = edit.key.removeprefix("edit_")
    edit.click().run()
    at.text_area(key=f"edit_text_{message_id}").set_value("two, edited")
    at.button(key=f"FormSubmitter:edit_form_{message_id}-Send").click().run()
    assert not at.exception and limited(at) is not None
    assert at.text_area(key=f"edit_text_{message_id}").value == "two, edited"  # still open, nothing lost
    assert stored(conversation) == before


def test_the_compare_page_refuses_a_round_that_does_not_fit(
    env: None, allenai_sim: SimHandle, huggingface_sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(policy.ENV_RATE_LIMIT, "3")
    policy.invalidate()
    at = AppTest.from_string(COMPARE, default_timeout=30).run()
    at.selectbox(key="cmp_backend_0").select("allenai").run()
    at.selectbox(key="cmp_backend_1").select("huggingface").run()
    at.chat_input(key="compare_prompt").set_value("Round one").run()
    assert not at.exception and at.query_params["cmp"]
    at.chat_input(key="compare_prompt").set_value("Round two").run()  # needs 2 more; 1 is left
    assert not at.exception
    reasons = [shown(w.value) for w in at.warning]
    assert any(r.startswith("This needs 2 replies, and you have sent 2 messages in the last minute (your limit "
                            "is 3). Try again in ") for r in reasons), reasons
    assert in_the_input(at, "compare_prompt") == "Round two"
    assert len(allenai_sim.sim.chat_requests()) == 1 and len(huggingface_sim.sim.chat_requests()) == 1
    assert [m.value for m in at.markdown].count("Round two") == 0


def test_a_backend_disabled_after_the_page_was_drawn_is_refused_with_the_reason(env: None) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    policy.set_backend_enabled(get_engine(), "allenai", False)  # an admin, meanwhile
    at.chat_input(key="prompt").set_value("Anyone there?").run()
    assert not at.exception
    assert "Ai2 Playground is switched off by an admin. Pick another backend." in [shown(w.value) for w in at.warning]
    assert in_the_input(at, "prompt") == "Anyone there?"
    assert "c" not in at.query_params
