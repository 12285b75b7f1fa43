"""The chat page's turn controls under AppTest: regenerate and switch versions, edit and resend, load earlier."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from storage import repository as repo
from storage.db import get_engine, session
from tests.sim_fixtures import SimHandle
from tests.test_chat_page import APP, app, current_id, texts  # the app fixture, shared

__all__ = ["app"]


def keyed(at: AppTest, prefix: str) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith(prefix)]


def click(at: AppTest, prefix: str) -> None:
    (key,) = keyed(at, prefix)
    at.button(key=key).click().run()
    assert not at.exception, at.exception


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_regenerate_keeps_both_versions_and_switches_between_them(app: AppTest, allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.chunks = ["Take ", "one."]
    app.run()
    app.chat_input(key="prompt").set_value("Tell me something").run()
    assert "Take one." in texts(app) and not keyed(app, "version_prev_")

    allenai_sim.sim.script.chunks = ["Take ", "two."]
    click(app, "regen_")
    assert "Take two." in texts(app) and "Take one." not in texts(app)
    assert [m.name for m in app.chat_message] == ["user", "assistant"]
    assert "2/2" in captions(app)
    assert len(allenai_sim.sim.chat_requests()) == 2

    click(app, "version_prev_")
    assert "Take one." in texts(app) and "Take two." not in texts(app) and "1/2" in captions(app)
    assert app.button(key=keyed(app, "version_prev_")[0]).disabled
    click(app, "version_next_")
    assert "Take two." in texts(app) and "2/2" in captions(app)

    reopened = AppTest.from_file(APP, default_timeout=30)  # the choice is stored, not kept in the session
    reopened.query_params["c"] = current_id(app)
    reopened.run()
    assert "Take two." in texts(reopened) and "2/2" in captions(reopened)


def test_edit_and_resend_replaces_the_exchange_and_keeps_the_old_one(app: AppTest, allenai_sim: SimHandle) -> None:
    allenai_sim.sim.script.chunks = ["Cats purr."]
    app.run()
    app.chat_input(key="prompt").set_value("Tell me about cats").run()
    click(app, "edit_")
    (area,) = [t for t in app.text_area if t.key and t.key.startswith("edit_text_")]
    assert area.value == "Tell me about cats"
    area.set_value("Tell me about dogs")
    allenai_sim.sim.script.chunks = ["Dogs bark."]
    next(b for b in app.button if b.label == "Send").click().run()
    assert not app.exception
    assert "Tell me about dogs" in texts(app) and "Dogs bark." in texts(app)
    assert "Tell me about cats" not in texts(app) and "Cats purr." not in texts(app)
    assert allenai_sim.sim.chat_requests()[-1].form["content"] == "Tell me about dogs"

    click(app, "version_prev_")  # the old exchange, prompt and answer, is one version away
    assert "Tell me about cats" in texts(app) and "Cats purr." in texts(app) and "Dogs bark." not in texts(app)


def test_a_long_conversation_shows_the_latest_fifty_and_loads_earlier_pages(app: AppTest) -> None:
    app.run()  # creates the database
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        cid = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-instruct", title="Long").id
        for i in range(120):
            repo.add_message(s, owner, cid, role="user" if i % 2 == 0 else "assistant", content=f"message {i:03d}")
    app.query_params["c"] = cid
    app.run()
    shown = [t for t in texts(app) if t.startswith("message ")]
    assert shown == [f"message {i:03d}" for i in range(70, 120)]

    click(app, f"earlier_{cid}")
    shown = [t for t in texts(app) if t.startswith("message ")]
    assert shown == [f"message {i:03d}" for i in range(20, 120)]
    click(app, f"earlier_{cid}")
    shown = [t for t in texts(app) if t.startswith("message ")]
    assert shown == [f"message {i:03d}" for i in range(120)]
    assert not keyed(app, "earlier_")
