"""Shares and presets in storage, on SQLite and PostgreSQL: what a share opens, to whom, what it carries,
"continue as my copy", revoking; and that everything not shared stays as isolated as before (every new
owner-scoped function called by another user with an unshared id finds, changes and reveals nothing)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from storage import backend_states, comparisons, presets, sharing, transfer
from storage import repository as repo
from storage.db import session


def _people(engine: Engine) -> tuple[int, int, int]:
    with session(engine) as s:
        ann = repo.sign_in(s, "ann@example.com", email="ann@example.com", display_name="Ann", is_admin=False).id
        bob = repo.sign_in(s, "bob@example.com", email="bob@example.com", display_name="Bob", is_admin=False).id
        cat = repo.sign_in(s, "cat@example.com", email="cat@example.com", display_name="Cat", is_admin=True).id
    return ann, bob, cat


def _anns_chat(engine: Engine, ann: int) -> str:
    with session(engine) as s:
        chat = repo.create_conversation(s, ann, provider="allenai", model="m", title="Ann's plans",
                                        system_prompt="Answer as a travel agent.")
        repo.add_message(s, ann, chat.id, role="user", content="zanzibar holiday plans")
        reply = repo.add_message(s, ann, chat.id, role="assistant", content="Go in June.", provider="allenai",
                                 model="m")
        repo.update_message(s, reply.id, reasoning="weather", ttft_ms=120, total_ms=900,
                            extra={"sources": [{"url": "https://example.org", "title": "Ex"}],
                                   "backend_state": {"anonymous_user_id": "ann-anon-id"},
                                   "state_before": {"anonymous_user_id": "ann-anon-id"}})
        old = repo.add_message(s, ann, chat.id, role="assistant", content="an abandoned version")
        repo.update_message(s, old.id, extra={"superseded": True})
        backend_states.save_backend_state(s, chat.id, "allenai", "m",
                                          {"anonymous_user_id": "ann-anon-id", "parent": "x"})
        return chat.id


def test_a_share_opens_for_its_viewer_only_and_revoking_ends_it(engine: Engine) -> None:
    ann, bob, cat = _people(engine)
    chat_id = _anns_chat(engine, ann)
    with session(engine) as s:
        share_id = sharing.share(s, ann, "conversation", chat_id, viewer_id=bob).id
        assert sharing.share(s, ann, "conversation", chat_id, viewer_id=bob).id == share_id  # same link
    with session(engine) as s:
        view = sharing.open_share(s, bob, share_id)
        assert view is not None and view.title == "Ann's plans" and view.owner_name == "Ann"
        assert view.viewer_name == "Bob" and view.kind == "conversation"
        assert [v.id for v in sharing.shared_with_me(s, bob)] == [share_id]
        assert [v.id for v in sharing.shared_by_me(s, ann)] == [share_id]
        messages = sharing.shared_messages(s, bob, share_id)
        assert [m.content for m in messages] == ["zanzibar holiday plans", "Go in June."]  # no abandoned version
        reply = messages[1]
        assert reply.reasoning == "weather" and reply.ttft_ms == 120 and reply.extra["sources"][0]["title"] == "Ex"
        assert "ann-anon-id" not in repr(messages)  # the backend's ids never travel
        assert sharing.shared_system_prompt(s, bob, share_id) == "Answer as a travel agent."
        # Cat was not named: nothing at all
        assert sharing.open_share(s, cat, share_id) is None
        assert sharing.shared_system_prompt(s, cat, share_id) == ""
        assert sharing.shared_messages(s, cat, share_id) == []
        assert sharing.shared_with_me(s, cat) == []
        with pytest.raises(LookupError):
            sharing.fork(s, cat, share_id)
        # the share widens nothing else: the conversation itself stays Ann's alone
        assert repo.get_conversation(s, bob, chat_id) is None
        assert repo.recent_messages(s, bob, chat_id) == []
        assert transfer.conversation_json(s, bob, chat_id) is None
        assert b"zanzibar" not in transfer.all_conversations_json(s, bob)
        anns_export = transfer.conversation_json(s, ann, chat_id)
    with session(engine) as s, pytest.raises(transfer.ImportProblem, match="another account"):
        transfer.import_file(s, bob, anns_export or b"")  # a shared conversation's id is still Ann's alone
    with session(engine) as s:
        assert sharing.revoke(s, ann, share_id)
    with session(engine) as s:
        assert sharing.open_share(s, bob, share_id) is None
        assert sharing.shared_messages(s, bob, share_id) == []
        assert sharing.shared_with_me(s, bob) == [] and sharing.shared_by_me(s, ann) == []


def test_sharing_with_everyone_and_with_nobody(engine: Engine) -> None:
    ann, bob, cat = _people(engine)
    chat_id = _anns_chat(engine, ann)
    with session(engine) as s:
        team = sharing.share(s, ann, "conversation", chat_id, viewer_id=None).id
        named = sharing.share(s, ann, "conversation", chat_id, viewer_id=bob).id
        assert {v.audience for v in sharing.shares_of(s, ann, "conversation", chat_id)} == {"team", "user"}
    with session(engine) as s:
        assert sharing.open_share(s, cat, team) is not None and sharing.open_share(s, cat, named) is None
        assert [v.id for v in sharing.shared_with_me(s, cat)] == [team]
        assert sharing.shared_with_me(s, ann) == []  # not listed to its own owner
        assert sharing.open_share(s, ann, named) is not None  # the owner may open her own link
    with session(engine) as s:
        assert sharing.revoke_item(s, ann, "conversation", chat_id) == 2
    with session(engine) as s:
        assert sharing.open_share(s, cat, team) is None and sharing.open_share(s, bob, named) is None


def test_continue_as_my_copy_copies_the_visible_history_without_backend_state(engine: Engine) -> None:
    ann, bob, _ = _people(engine)
    chat_id = _anns_chat(engine, ann)
    with session(engine) as s:
        share_id = sharing.share(s, ann, "conversation", chat_id, viewer_id=bob).id
    with session(engine) as s:
        copy = sharing.fork(s, bob, share_id)
        copy_id = copy.id
    with session(engine) as s:
        mine = repo.get_conversation(s, bob, copy_id)
        assert mine is not None and mine.owner_id == bob and mine.system_prompt == "Answer as a travel agent."
        assert mine.title == "Ann's plans (copy)" and (mine.provider, mine.model) == ("allenai", "m")
        rows = repo.recent_messages(s, bob, copy_id)
        assert [m.content for m in rows] == ["zanzibar holiday plans", "Go in June."]
        assert rows[1].reasoning == "weather" and "backend_state" not in rows[1].extra
        assert backend_states.get_backend_state(s, copy_id, "allenai", "m") == {}  # the next turn sends the history
        assert b"zanzibar" in transfer.all_conversations_json(s, bob)  # his copy is his
        assert len(repo.recent_messages(s, ann, chat_id)) == 3  # Ann's conversation is untouched


def test_a_shared_comparison_shows_its_rounds_votes_and_forks_a_column(engine: Engine) -> None:
    ann, bob, cat = _people(engine)
    with session(engine) as s:
        compared = comparisons.create(s, ann, [("allenai", "a"), ("huggingface", "b")], title="Which is best")
        cols = [c.id for c in compared.columns]
        answers = {}
        for column in compared.columns:
            repo.add_message(s, ann, column.conversation_id, role="user", content="name a prime")
            answers[column.id] = repo.add_message(s, ann, column.conversation_id, role="assistant",
                                                  content=f"seven from {column.provider}").id
        round_ = comparisons.add_round(s, ann, compared.id, "name a prime", answers)
        comparisons.vote(s, ann, round_.id, "best", cols[1])
        share_id = sharing.share(s, ann, "comparison", compared.id, viewer_id=bob).id
    with session(engine) as s:
        shown = sharing.shared_comparison(s, bob, share_id)
        assert shown is not None and shown.title == "Which is best"
        assert [c[1] for c in shown.columns] == ["allenai", "huggingface"]
        assert shown.rounds[0].verdict == "best" and shown.rounds[0].winner == cols[1]
        assert shown.rounds[0].answers[cols[0]].content == "seven from allenai"
        assert sharing.shared_comparison(s, cat, share_id) is None
        assert sharing.shared_messages(s, bob, share_id) == []  # a comparison share is not a conversation
        copy = sharing.fork(s, bob, share_id, column_id=cols[1])
        assert [m.content for m in repo.recent_messages(s, bob, copy.id)] == ["name a prime", "seven from huggingface"]
        with pytest.raises(LookupError):
            sharing.fork(s, bob, share_id, column_id=cols[0] + 1000)
        assert comparisons.get(s, bob, compared.id) is None and comparisons.rounds(s, bob, compared.id) == []


def test_bob_cannot_share_revoke_or_list_anything_of_anns(engine: Engine) -> None:
    ann, bob, cat = _people(engine)
    chat_id = _anns_chat(engine, ann)
    with session(engine) as s:
        compared = comparisons.create(s, ann, [("allenai", "a"), ("huggingface", "b")])
        comparison_id = compared.id
        anns_share = sharing.share(s, ann, "conversation", chat_id, viewer_id=cat).id
        anns_preset = presets.create(s, ann, name="Ann's", provider="allenai", model="m", system_prompt="secret").id
    with session(engine) as s:
        with pytest.raises(LookupError):
            sharing.share(s, bob, "conversation", chat_id, viewer_id=None)
        with pytest.raises(LookupError):
            sharing.share(s, bob, "comparison", comparison_id, viewer_id=bob)
        assert not sharing.revoke(s, bob, anns_share)
        assert sharing.revoke_item(s, bob, "conversation", chat_id) == 0
        assert sharing.shared_by_me(s, bob) == [] and sharing.shares_of(s, bob, "conversation", chat_id) == []
        assert sharing.shared_with_me(s, bob) == []
        assert sharing.open_share(s, bob, anns_share) is None
        assert sharing.shared_messages(s, bob, anns_share) == []
        assert sharing.shared_system_prompt(s, bob, anns_share) == ""
        assert sharing.shared_comparison(s, bob, anns_share) is None
        with pytest.raises(LookupError):
            sharing.fork(s, bob, anns_share)
        assert sharing.open_share(s, bob, chat_id) is None  # an item id is not a share id
        assert not repo.set_system_prompt(s, bob, chat_id, "pwned")
        assert presets.get(s, bob, anns_preset) is None
        assert [p.id for p in presets.visible(s, bob)] == []
        assert not presets.update(s, bob, anns_preset, system_prompt="pwned")
        assert not presets.delete(s, bob, anns_preset)
    with session(engine) as s:  # unchanged
        assert sharing.open_share(s, cat, anns_share) is not None
        conversation = repo.get_conversation(s, ann, chat_id)
        assert conversation is not None and conversation.system_prompt == "Answer as a travel agent."
        preset = presets.get(s, ann, anns_preset)
        assert preset is not None and preset.system_prompt == "secret"


def test_sharing_refuses_oneself_and_unknown_people(engine: Engine) -> None:
    ann, _, _ = _people(engine)
    chat_id = _anns_chat(engine, ann)
    with session(engine) as s:
        with pytest.raises(sharing.ShareProblem):
            sharing.share(s, ann, "conversation", chat_id, viewer_id=ann)
        with pytest.raises(sharing.ShareProblem):
            sharing.share(s, ann, "conversation", chat_id, viewer_id=987654)
        assert sharing.find_user(s, " BOB@example.com ") is not None
        assert sharing.find_user(s, "nobody@example.com") is None


def test_deleting_a_conversation_ends_its_shares(engine: Engine) -> None:
    ann, bob, _ = _people(engine)
    chat_id = _anns_chat(engine, ann)
    with session(engine) as s:
        share_id = sharing.share(s, ann, "conversation", chat_id, viewer_id=bob).id
    with session(engine) as s:
        assert repo.delete_conversation(s, ann, chat_id)
    with session(engine) as s:
        assert sharing.open_share(s, bob, share_id) is None and sharing.shared_with_me(s, bob) == []


def test_team_presets_are_seen_by_everyone_and_curated_by_admins(engine: Engine) -> None:
    ann, bob, cat = _people(engine)
    with session(engine) as s:
        with pytest.raises(presets.PresetProblem):
            presets.create(s, bob, name="Team", provider="allenai", model="m", team=True, is_admin=False)
        team = presets.create(s, cat, name="Brief answers", provider="huggingface", model="x",
                              options={"temperature": 0.2, "junk": 1}, system_prompt="Be brief.", team=True,
                              is_admin=True).id
        own = presets.create(s, bob, name="Mine", provider="allenai", model="m").id
    with session(engine) as s:
        assert [p.id for p in presets.visible(s, bob)] == [own, team]
        assert [p.id for p in presets.visible(s, ann)] == [team]
        assert presets.get(s, ann, team).options == {"temperature": 0.2}  # type: ignore[union-attr]
        assert not presets.update(s, bob, team, system_prompt="changed")  # not an admin
        assert not presets.delete(s, ann, team)
        assert presets.update(s, cat, team, is_admin=True, system_prompt="Be very brief.")
        assert not presets.update(s, cat, own, is_admin=True, name="taken")  # an admin curates team presets only
    with session(engine) as s:
        assert presets.get(s, bob, team).system_prompt == "Be very brief."  # type: ignore[union-attr]
        assert presets.delete(s, cat, team, is_admin=True)
        assert [p.id for p in presets.visible(s, ann)] == []


def test_a_system_prompt_survives_export_and_import(engine: Engine) -> None:
    ann, _, _ = _people(engine)
    chat_id = _anns_chat(engine, ann)
    with session(engine) as s:
        exported = transfer.all_conversations_json(s, ann)
        assert repo.delete_conversation(s, ann, chat_id)
    with session(engine) as s:
        assert transfer.import_file(s, ann, exported).imported == 1
    with session(engine) as s:
        conversation = repo.get_conversation(s, ann, chat_id)
        assert conversation is not None and conversation.system_prompt == "Answer as a travel agent."


def test_a_copy_takes_backend_state_only_where_it_names_nobody(engine: Engine) -> None:
    from providers import registry

    assert {n: registry.BACKENDS[n].state_travels for n in registry.BACKENDS} == {
        "allenai": False, "hailuo": False, "huggingchat": False, "huggingface": True}
    ann, bob, _ = _people(engine)
    chat_id = _anns_chat(engine, ann)  # Ai2 state with Ann's anonymous id
    with session(engine) as s:
        backend_states.save_backend_state(s, chat_id, "huggingface", "x", {"model": "x"})
        share_id = sharing.share(s, ann, "conversation", chat_id, viewer_id=bob).id
    with session(engine) as s:
        copy = sharing.fork(s, bob, share_id, travelling={"huggingface"})
        assert backend_states.get_backend_state(s, copy.id, "huggingface", "x") == {"model": "x"}
        assert backend_states.get_backend_state(s, copy.id, "allenai", "m") == {}
