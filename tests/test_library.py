"""The conversation library on SQLite and PostgreSQL: sidebar order and groups, pin and archive, search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select, text, update

from storage import library
from storage import repository as repo
from storage.db import make_engine, session
from storage.models import Conversation
from tests.db_fixtures import SessionFactory

H, E = library.HIGHLIGHT_START, library.HIGHLIGHT_END

# A small corpus: (title, [messages]). Searched the same way on both databases.
CORPUS = [
    ("Zebra facts", ["Tell me about stripes.", "Stripes help with flies."]),
    ("Trip planning", ["We saw a zebra once in Kenya, on a long and dusty road far from everything else.",
                       "Book the hotel near the station."]),
    ("Animal quiz", ["zebra zebra zebra zebra", "Quiz time!"]),
    ("Cooking", ["Crème brûlée needs a torch.", "Use example.com recipes or foo-bar sauce."]),
    ("Untitled thoughts", ["Nothing about horses here, only a zebrafish tank."]),
]


def _corpus(db: SessionFactory, owner_name: str = "alice") -> tuple[int, dict[str, str]]:
    ids = {}
    with db() as s:
        owner = repo.get_or_create_user(s, owner_name).id
        for title, messages in CORPUS:
            conversation = repo.create_conversation(s, owner, provider="sim", model="m", title=title)
            for n, content in enumerate(messages):
                repo.add_message(s, owner, conversation.id, role="user" if n % 2 == 0 else "assistant", content=content)
            ids[title] = conversation.id
    return owner, ids


def _titles(db: SessionFactory, owner: int, query: str) -> list[str]:
    with db() as s:
        return [hit.title for hit in library.search(s, owner, query)]


# --- sidebar ----------------------------------------------------------------------------------------


def test_sidebar_lists_pinned_first_and_leaves_archived_out(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
        a, b, c, _d = (repo.create_conversation(s, owner, provider="sim", model="m", title=t).id for t in "abcd")
    with db() as s:
        assert library.set_pinned(s, owner, a, True)
        assert library.set_archived(s, owner, c, True)
    with db() as s:
        assert [x.title for x in library.sidebar_conversations(s, owner)] == ["a", "d", "b"]
        assert [x.title for x in library.sidebar_conversations(s, owner, archived=True)] == ["c"]
        assert [x.title for x in library.sidebar_conversations(s, owner, limit=2)] == ["a", "d"]
    with db() as s:
        repo.add_message(s, owner, b, role="user", content="new activity")  # activity reorders below the pins
        assert library.set_pinned(s, owner, a, False)
        assert library.set_archived(s, owner, c, False)
    with db() as s:
        assert [x.title for x in library.sidebar_conversations(s, owner)] == ["b", "d", "c", "a"]
        other = repo.get_or_create_user(s, "mallory").id
        assert not library.set_pinned(s, other, a, True)
        assert not library.set_archived(s, other, a, True)
        assert not library.set_pinned(s, owner, "not-an-id", True)
        assert library.sidebar_conversations(s, other) == []


def test_group_by_date_in_the_users_timezone() -> None:
    tokyo = timezone(timedelta(hours=9))
    now = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)  # 10:00 on the 22nd in Tokyo

    def conv(title: str, updated: datetime, *, pinned: bool = False) -> Conversation:
        return Conversation(id=title, title=title, updated_at=updated, pinned=pinned, archived=False)

    items = [
        conv("pinned old", now - timedelta(days=40), pinned=True),
        conv("today", now - timedelta(hours=9)),  # 01:00 on the 22nd in Tokyo (the 21st in UTC)
        conv("yesterday", now - timedelta(hours=11)),  # 23:00 on the 21st in Tokyo
        conv("six days", now - timedelta(days=6)),
        conv("seven days", now - timedelta(days=7)),
        conv("older", now - timedelta(days=8)),
    ]
    groups = library.group_by_date(items, now=now, tz=tokyo)
    assert [(name, [c.title for c in cs]) for name, cs in groups] == [
        ("Pinned", ["pinned old"]), ("Today", ["today"]), ("Yesterday", ["yesterday"]),
        ("Previous 7 days", ["six days", "seven days"]), ("Older", ["older"]),
    ]
    in_utc = library.group_by_date(items[1:3], now=now, tz=UTC)
    assert [(name, len(cs)) for name, cs in in_utc] == [("Yesterday", 2)]  # both on the 21st in UTC


# --- search -----------------------------------------------------------------------------------------


def test_search_ranks_title_matches_first_then_by_relevance(db: SessionFactory) -> None:
    owner, ids = _corpus(db)
    with db() as s:
        hits = library.search(s, owner, "zebra")
    # the title first; then four mentions before one; one mention in a short message ("zebrafish" matches the
    # prefix) before one in a long message
    assert [h.title for h in hits] == ["Zebra facts", "Animal quiz", "Untitled thoughts", "Trip planning"]
    assert hits[0].title_matched and hits[0].message_id is None and hits[0].snippet == ""
    assert hits[1].score > hits[2].score > hits[3].score > 0
    assert hits[1].conversation_id == ids["Animal quiz"]
    assert hits[1].snippet == f"{H}zebra{E} {H}zebra{E} {H}zebra{E} {H}zebra{E}"
    assert hits[2].snippet == f"Nothing about horses here, only a {H}zebrafish{E} tank."
    assert f"{H}zebra{E} once in Kenya" in hits[3].snippet
    with db() as s:  # enough whole-word matches: prefixes ("zebrafish") are not looked up
        assert [h.title for h in library.search(s, owner, "zebra", limit=3)] == [
            "Zebra facts", "Animal quiz", "Trip planning"]


def test_search_words_prefixes_case_accents_and_punctuation(db: SessionFactory) -> None:
    owner, _ = _corpus(db)
    assert _titles(db, owner, "ZEBRAF") == ["Untitled thoughts"]
    assert _titles(db, owner, "zebra kenya") == ["Trip planning"]  # every word, in one message
    assert _titles(db, owner, "zebra hotel") == []  # not in one message
    assert _titles(db, owner, "brûlée") == ["Cooking"]
    assert _titles(db, owner, "brulee") == []  # accents are kept, the same on both databases
    assert _titles(db, owner, "example") == ["Cooking"]  # example.com splits into words on both
    assert _titles(db, owner, "bar") == ["Cooking"]
    assert _titles(db, owner, "quiz") == ["Animal quiz"]  # title and message: one result
    assert _titles(db, owner, '" OR * AND NOT ( :*') == []  # operators are not words
    assert _titles(db, owner, "   ") == []


def test_search_snippets_mark_every_matching_word_and_cut_long_text(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="sim", model="m", title="long")
        content = " ".join(f"word{i}" for i in range(200)) + " needle in the haystack " + " ".join(["tail"] * 100)
        repo.add_message(s, owner, conversation.id, role="assistant", content=content)
    with db() as s:
        [hit] = library.search(s, owner, "needle hay")
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert f"{H}needle{E} in the {H}haystack{E}" in hit.snippet
    assert len(hit.snippet) <= library.SNIPPET_CHARS + 10
    assert " word" in hit.snippet and "ord1 " not in hit.snippet.split("…")[1][:5]  # no half words


def test_search_is_owner_scoped_and_sees_archived_and_renamed(db: SessionFactory) -> None:
    owner, ids = _corpus(db)
    other, _ = _corpus(db, "mallory")
    with db() as s:
        assert all(h.conversation_id in ids.values() for h in library.search(s, owner, "zebra"))
        library.set_archived(s, owner, ids["Animal quiz"], True)
        repo.rename_conversation(s, owner, ids["Cooking"], "Dessert torch")
        repo.delete_conversation(s, owner, ids["Trip planning"])
    with db() as s:
        hits = {h.title: h for h in library.search(s, owner, "zebra")}
        assert set(hits) == {"Zebra facts", "Animal quiz", "Untitled thoughts"}
        assert hits["Animal quiz"].archived
        assert _titles(db, owner, "dessert") == ["Dessert torch"]
        assert _titles(db, owner, "cooking") == []
        assert _titles(db, other, "cooking") == ["Cooking"]  # mallory's own copy is untouched
        assert len(library.search(s, owner, "zebra", limit=1)) == 1
        if s.get_bind().dialect.name == "sqlite":  # the triggers kept the title index in step, row for row
            indexed = s.execute(text("SELECT conversation_id, title FROM conversations_fts")).all()
            assert sorted(indexed) == sorted(s.execute(select(Conversation.id, Conversation.title)).all())


def test_search_follows_a_reply_being_written(db: SessionFactory) -> None:
    with db() as s:
        owner = repo.local_user(s).id
        conversation = repo.create_conversation(s, owner, provider="sim", model="m", title="t")
        reply = repo.add_message(s, owner, conversation.id, role="assistant", content="", status="streaming")
    with db() as s:
        repo.update_message(s, reply.id, content="The platypus lays eggs")
    assert _titles(db, owner, "platypus") == ["t"]
    with db() as s:
        repo.update_message(s, reply.id, content="The echidna lays eggs too")
    assert _titles(db, owner, "platypus") == []
    assert _titles(db, owner, "echidna") == ["t"]


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_the_same_results(tmp_path: object, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("compares the PostgreSQL run with a SQLite run of its own")
    engines: list[Engine] = [make_engine(f"sqlite:///{tmp_path}/same.db"), make_engine(db_url)]  # type: ignore[str-bytes-safe]
    try:
        results = []
        for engine in engines:
            def db(engine: Engine = engine) -> object:
                return session(engine)
            owner, ids = _corpus(db)  # type: ignore[arg-type]
            with session(engine) as s:  # same activity times on both, so ties break the same way
                for n, conversation_id in enumerate(ids.values()):
                    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n)
                    s.execute(update(Conversation).where(Conversation.id == conversation_id).values(updated_at=when))
            queries = ["zebra", "zeb", "stripes", "zebra kenya", "brûlée", "example", "quiz", "time", "torch", "x"]
            with session(engine) as s:
                title_of = {v: k for k, v in ids.items()}
                results.append({
                    q: [(title_of[h.conversation_id], h.title_matched, h.snippet) for h in library.search(s, owner, q)]
                    for q in queries
                })
        assert results[0] == results[1]
        assert results[0]["zebra"][0][0] == "Zebra facts"
    finally:
        for engine in engines:
            engine.dispose()
