"""The sidebar's conversation library under AppTest: groups, pin, archive, rename, delete, search, exports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

import application
from storage import library
from storage import repository as repo
from storage.db import get_engine, session
from storage.models import Conversation, utcnow
from tests.sim_fixtures import SimHandle

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture
def app(sqlite_url: str, allenai_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CHATDECK_ALLENAI_URL", allenai_sim.url)
    yield AppTest.from_file(APP, default_timeout=30)
    application.reset()


def _seed(spec: list[tuple[str, int, str]]) -> dict[str, str]:
    """Conversations (title, days since last activity, one message) of the local user; their ids by title."""
    ids = {}
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        for title, days, content in spec:
            c = repo.create_conversation(s, owner, provider="allenai", model="olmo-3.1-32b-think", title=title)
            repo.add_message(s, owner, c.id, role="user", content=content)
            when = utcnow() - timedelta(days=days)
            s.execute(update(Conversation).where(Conversation.id == c.id).values(updated_at=when))
            ids[title] = c.id
    return ids


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def _listed(at: AppTest) -> list[str]:
    return [b.label for b in at.sidebar.button if b.key and b.key.startswith("conv_")]


def _conversation(conversation_id: str) -> Conversation | None:
    with session(get_engine()) as s:
        return repo.get_conversation(s, repo.local_user(s).id, conversation_id)


SPEC = [("Old trip", 30, "We saw a zebra in Kenya."), ("Last week", 3, "Stripes and flies"), ("Today's", 0, "Hello")]


def test_the_list_is_grouped_by_date_with_pinned_on_top(app: AppTest) -> None:
    ids = _seed(SPEC)
    app.run()
    assert not app.exception
    assert _captions(app)[:3] == ["Today", "Previous 7 days", "Older"]
    assert _listed(app) == ["Today's", "Last week", "Old trip"]

    app.button(key=f"conv_{ids['Old trip']}").click().run()  # its menu is on the open conversation
    app.button(key=f"pin_{ids['Old trip']}").click().run()
    assert _captions(app)[:3] == ["Pinned", "Today", "Previous 7 days"] and "Older" not in _captions(app)
    assert _listed(app)[0] == ":material/push_pin: Old trip"
    assert _conversation(ids["Old trip"]).pinned  # type: ignore[union-attr]
    app.button(key=f"pin_{ids['Old trip']}").click().run()
    assert _listed(app) == ["Today's", "Last week", "Old trip"]


def test_archive_hides_a_conversation_and_the_archive_view_shows_it(app: AppTest) -> None:
    ids = _seed(SPEC)
    app.run()
    app.button(key=f"conv_{ids['Last week']}").click().run()  # its menu is on the open conversation
    app.button(key=f"archive_{ids['Last week']}").click().run()
    assert _listed(app) == ["Today's", "Old trip"]
    app.toggle(key="show_archived").set_value(True).run()
    assert _listed(app) == ["Last week"]
    assert _captions(app)[0] == "Archived · Previous 7 days"
    app.button(key=f"archive_{ids['Last week']}").click().run()  # "Unarchive" in the archive view
    assert _listed(app) == []
    assert "No archived conversations." in _captions(app)
    app.toggle(key="show_archived").set_value(False).run()
    assert _listed(app) == ["Today's", "Last week", "Old trip"]


def test_rename_through_its_dialog(app: AppTest) -> None:
    ids = _seed(SPEC)
    app.run()
    app.button(key=f"conv_{ids['Old trip']}").click().run()  # its menu is on the open conversation
    app.button(key=f"rename_{ids['Old trip']}").click().run()
    assert app.text_input(key="rename_title").value == "Old trip"
    app.text_input(key="rename_title").set_value("Safari notes")
    next(b for b in app.button if b.label == "Save").click().run()
    assert not app.exception
    assert "Safari notes" in _listed(app) and "Old trip" not in _listed(app)
    assert _conversation(ids["Old trip"]).title == "Safari notes"  # type: ignore[union-attr]
    app.run()  # the dialog stays closed
    assert not [t for t in app.text_input if t.key == "rename_title"]


def test_delete_asks_first_and_cancel_keeps_the_conversation(app: AppTest) -> None:
    ids = _seed(SPEC)
    app.query_params["c"] = ids["Last week"]
    app.run()
    app.button(key=f"delete_{ids['Last week']}").click().run()
    assert any("cannot be undone" in m.value for m in app.markdown)
    app.button(key="delete_cancel").click().run()
    assert _conversation(ids["Last week"]) is not None
    assert not [b for b in app.button if b.key == "delete_confirm"]

    app.button(key=f"delete_{ids['Last week']}").click().run()
    app.button(key="delete_confirm").click().run()
    assert not app.exception
    assert _conversation(ids["Last week"]) is None
    assert _listed(app) == ["Today's", "Old trip"]
    assert "c" not in app.query_params  # it was open: back to a new chat
    assert "Chatdeck" in [t.value for t in app.title]


def test_search_shows_highlighted_snippets_and_opens_a_result(app: AppTest) -> None:
    ids = _seed(SPEC)
    with session(get_engine()) as s:
        library.set_archived(s, repo.local_user(s).id, ids["Old trip"], True)
    app.run()
    app.text_input(key="library_search").set_value("zebra kenya").run()
    hits = [b for b in app.sidebar.button if b.key and b.key.startswith("hit_")]
    assert [b.label for b in hits] == [":material/archive: Old trip"]  # archived ones are found too
    assert "We saw a :orange-background[zebra] in :orange-background[Kenya]\\." in _captions(app)
    hits[0].click().run()
    assert app.query_params["c"] in (ids["Old trip"], [ids["Old trip"]])
    assert "We saw a zebra in Kenya." in [m.value for m in app.markdown]
    app.text_input(key="library_search").set_value("nothing-like-this").run()
    assert "No conversation matches every word." in _captions(app)
    app.text_input(key="library_search").set_value("").run()
    assert _listed(app) == ["Today's", "Last week"]


def test_the_open_conversation_offers_its_exports(app: AppTest) -> None:
    ids = _seed(SPEC)
    app.query_params["c"] = ids["Today's"]
    app.run()
    keys = {b.key for b in app.get("download_button")}
    today = ids["Today's"]
    assert keys == {f"export_md_{today}", f"export_json_{today}"}  # only the open one's


def test_a_new_chat_appears_in_the_list_at_once(app: AppTest, allenai_sim: SimHandle) -> None:
    _seed(SPEC)
    allenai_sim.sim.script.chunks = ["Sure."]
    app.run()
    app.chat_input(key="prompt").set_value("Brand new question").run()
    assert _listed(app)[0] == "Brand new question"
    current = app.query_params["c"]
    current = current[0] if isinstance(current, list) else current
    assert app.button(key=f"conv_{current}").proto.type == "primary"
