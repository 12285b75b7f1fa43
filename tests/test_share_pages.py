"""The sharing and preset parts of the pages under AppTest (single-user mode: the local user is the viewer or
the owner; Ann is another user of the same database): a shared item read-only at its own address, not found
once revoked; the share dialog's lists; a system prompt typed for a new chat and one from a preset reaching
the backend; a compare column filled from a preset."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from storage import comparisons, presets, sharing
from storage import repository as repo
from storage.db import get_engine, session
from tests.sim_fixtures import SimHandle
from views import presets_view

SHARED = "from views import shared\nshared.render()"
CHAT = "from views import chat\nchat.render()"
COMPARE = "from views import compare\ncompare.render()"


def page(script: str, **params: str) -> AppTest:
    at = AppTest.from_string(script, default_timeout=30)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def _ann_and_me() -> tuple[int, int]:
    with session(get_engine()) as s:
        ann = repo.sign_in(s, "ann@example.com", email="ann@example.com", display_name="Ann", is_admin=True).id
        me = repo.local_user(s).id
    return ann, me


def _anns_conversation(ann: int) -> str:
    with session(get_engine()) as s:
        chat = repo.create_conversation(s, ann, provider="allenai", model="olmo-3.1-32b-instruct",
                                        title="Ann's **plan**", system_prompt="Be a travel agent.")
        repo.add_message(s, ann, chat.id, role="user", content="Where to in June?")
        reply = repo.add_message(s, ann, chat.id, role="assistant", content="Zanzibar.", provider="allenai",
                                 model="olmo-3.1-32b-instruct")
        repo.update_message(s, reply.id, reasoning="It is dry season.", ttft_ms=250, total_ms=1250,
                            extra={"sources": [{"url": "https://example.org/z", "title": "Zanzibar guide"}]})
        return chat.id


def texts(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [e.label for e in at.expander])


def test_a_shared_conversation_opens_read_only_at_its_address_until_revoked(pages_env: None) -> None:
    ann, me = _ann_and_me()
    chat_id = _anns_conversation(ann)
    with session(get_engine()) as s:
        share_id = sharing.share(s, ann, "conversation", chat_id, viewer_id=me).id
    at = page(SHARED).run()
    assert not at.exception
    assert "Ann" in texts(at) and at.button(key=f"open_{share_id}") is not None  # Shared with me
    at = page(SHARED, id=share_id).run()
    assert not at.exception
    shown = texts(at)
    assert "Where to in June?" in shown and "Zanzibar." in shown and "Zanzibar guide" in shown
    assert "Reasoning" in shown and "first token" in shown and "1.2 s" in shown
    assert "Read-only" in shown and "Ann" in shown
    assert at.subheader[0].value == r"Ann's \*\*plan\*\*"  # the title is the owner's text, shown literally
    assert at.button(key="fork") is not None
    assert not at.chat_input  # read-only: nothing to send
    with session(get_engine()) as s:
        assert sharing.revoke(s, ann, share_id)
    at = page(SHARED, id=share_id).run()
    assert "not found" in " ".join(w.value for w in at.warning)
    assert "Zanzibar" not in texts(at)


def test_a_never_shared_id_is_not_found(pages_env: None) -> None:
    ann, _ = _ann_and_me()
    chat_id = _anns_conversation(ann)
    for wanted in (chat_id, "0" * 32, "not-an-id"):
        at = page(SHARED, id=wanted).run()
        assert "not found" in " ".join(w.value for w in at.warning)
        assert "Zanzibar" not in texts(at)


def test_the_shared_page_lists_what_i_share_and_revokes_it(pages_env: None) -> None:
    _, me = _ann_and_me()
    with session(get_engine()) as s:
        chat = repo.create_conversation(s, me, provider="allenai", model="m", title="My notes")
        share_id = sharing.share(s, me, "conversation", chat.id, viewer_id=None).id
    at = page(SHARED).run()
    assert "everyone signed in" in texts(at) and any(share_id in c.value for c in at.code)
    at.button(key=f"revoke_{share_id}").click().run()
    assert not at.exception and "You share nothing" in texts(at)


def test_a_shared_comparison_shows_answers_timings_and_the_vote(pages_env: None) -> None:
    ann, me = _ann_and_me()
    with session(get_engine()) as s:
        compared = comparisons.create(s, ann, [("allenai", "a"), ("huggingface", "b")], title="Primes")
        answers = {}
        for column in compared.columns:
            repo.add_message(s, ann, column.conversation_id, role="user", content="a prime?")
            reply = repo.add_message(s, ann, column.conversation_id, role="assistant", content=f"{column.provider} 7")
            repo.update_message(s, reply.id, ttft_ms=100, total_ms=600)
            answers[column.id] = reply.id
        round_ = comparisons.add_round(s, ann, compared.id, "a prime?", answers)
        comparisons.vote(s, ann, round_.id, "tie")
        share_id = sharing.share(s, ann, "comparison", compared.id, viewer_id=me).id
    at = page(SHARED, id=share_id).run()
    assert not at.exception
    shown = texts(at)
    assert "allenai 7" in shown and "huggingface 7" in shown and "Voted a tie" in shown and "total 0.60 s" in shown
    assert len([b for b in at.button if b.key and b.key.startswith("fork_")]) == 2


def test_a_system_prompt_typed_for_a_new_chat_reaches_the_backend(pages_env: None, allenai_sim: SimHandle) -> None:
    at = page(CHAT).run()
    assert "marked" in texts(at)  # the Ai2 Playground has none: says it is prepended
    at.text_area(key=presets_view.NEW_CHAT_SYSTEM).set_value("Answer in French.").run()
    at.chat_input(key="prompt").set_value("Hello").run()
    assert not at.exception
    assert allenai_sim.sim.chat_requests()[-1].form["content"] == "System: Answer in French.\nUser: Hello\nAssistant:"
    value = at.query_params["c"]
    with session(get_engine()) as s:
        conversation = repo.get_conversation(s, repo.local_user(s).id, value[0] if isinstance(value, list) else value)
        assert conversation is not None and conversation.system_prompt == "Answer in French."


def test_a_team_preset_starts_a_chat_in_one_click(pages_env: None, huggingface_sim: SimHandle) -> None:
    ann, _ = _ann_and_me()
    with session(get_engine()) as s:
        preset = presets.create(s, ann, name="Terse HF", provider="huggingface", model="openai/gpt-oss-20b",
                                options={"temperature": 0.2}, system_prompt="Be terse.", team=True, is_admin=True)
    at = page(CHAT).run()
    at.button(key=f"preset_{preset.id}").click().run()
    assert not at.exception
    assert at.selectbox(key="provider").value == "huggingface"
    assert at.slider(key="temperature").value == pytest.approx(0.2)
    assert any(b.key == f"preset_delete_{preset.id}" for b in at.button)  # the local user administers: curates
    at.chat_input(key="prompt").set_value("Hi").run()
    body: Any = huggingface_sim.sim.chat_requests()[-1].json_body
    assert body["model"] == "openai/gpt-oss-20b" and body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert body["temperature"] == pytest.approx(0.2)


def test_a_preset_fills_a_compare_column_with_its_system_prompt(
    pages_env: None, allenai_sim: SimHandle, huggingface_sim: SimHandle
) -> None:
    _, me = _ann_and_me()
    with session(get_engine()) as s:
        preset = presets.create(s, me, name="HF pirate", provider="huggingface", model="openai/gpt-oss-20b",
                                system_prompt="Talk like a pirate.")
    at = page(COMPARE).run()
    at.selectbox(key="cmp_backend_0").select("allenai").run()
    at.selectbox(key="cmp_preset_1").select(preset.id).run()
    assert at.selectbox(key="cmp_backend_1").value == "huggingface"
    assert at.text_area(key="cmp_system_1").value == "Talk like a pirate."
    at.chat_input(key="compare_prompt").set_value("Say hi").run()
    assert not at.exception
    body: Any = huggingface_sim.sim.chat_requests()[-1].json_body
    assert body["messages"][0] == {"role": "system", "content": "Talk like a pirate."}
    assert "System:" not in allenai_sim.sim.chat_requests()[-1].form["content"]  # the other column has none


def test_a_shared_view_draws_hostile_content_exactly_as_the_owners_page(pages_env: None) -> None:
    hostile = "Look ![pixel](https://evil.example/track.png?c=1) and [click](javascript:alert(1)) <img src=x>"
    with session(get_engine()) as s:
        me = repo.local_user(s).id
        chat = repo.create_conversation(s, me, provider="allenai", model="m", title="Hostile")
        repo.add_message(s, me, chat.id, role="user", content="hi")
        repo.add_message(s, me, chat.id, role="assistant", content=hostile, provider="allenai", model="m")
        share_id = sharing.share(s, me, "conversation", chat.id, viewer_id=None).id

    def drawn(at: AppTest) -> list[str]:
        return [m.value for m in at.markdown if "evil.example" in m.value or "javascript" in m.value]

    owners = drawn(page(CHAT, c=chat.id).run())
    shared = drawn(page(SHARED, id=share_id).run())
    assert owners and shared == owners  # one rendering function: whatever it makes safe, it makes safe here
