"""conversation library (pin, archive) and full-text search

SQLite: FTS5 tables kept in step by triggers. ``messages_fts`` indexes ``messages.content`` as an
external-content table (keyed by the message id, which is the rowid: stable, never reused);
``conversations_fts`` holds each conversation's title and id (searches name the title column). Both use the
``unicode61`` tokenizer without diacritics folding, which splits and lowercases words like PostgreSQL's
``simple`` configuration.

PostgreSQL: a generated, stored ``search_tsv`` column on both tables, ``to_tsvector('simple', ...)`` of the same
two columns with every run of characters other than letters and digits made a space first, so words split
exactly as FTS5 splits them (PostgreSQL's parser would keep ``example.com`` or ``foo-bar`` whole), and a GIN
index on it. Stored, not an expression index: a plan that filters rows one by one (newest first) then costs a
``@@`` per row, not a ``regexp_replace`` and a ``to_tsvector``.

A batch migration that rebuilds ``messages`` or ``conversations`` on SQLite drops their triggers:
such a migration must create them again (copy ``SQLITE_TRIGGERS`` below).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENIZE = "unicode61 remove_diacritics 0"

_DELETE_TITLE = (
    "DELETE FROM conversations_fts WHERE rowid IN (SELECT rowid FROM conversations_fts "
    "WHERE conversations_fts MATCH 'conversation_id : \"' || old.id || '\"')"
)
SQLITE_TRIGGERS = {
    "messages_fts_insert": """
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END""",
    "messages_fts_delete": """
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        END""",
    "messages_fts_update": """
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END""",
    "conversations_fts_insert": """
        CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
            INSERT INTO conversations_fts(title, conversation_id) VALUES (new.title, new.id);
        END""",
    # The id column is indexed (one hex token), so a title is found by its conversation's id at once; unlike
    # the rowid of ``conversations`` (which VACUUM may renumber) the id never changes.
    "conversations_fts_delete": f"""
        CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
            {_DELETE_TITLE};
        END""",
    "conversations_fts_update": f"""
        CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
            {_DELETE_TITLE};
            INSERT INTO conversations_fts(title, conversation_id) VALUES (new.title, new.id);
        END""",  # noqa: S608 - constant SQL
}


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(
        op.f("ix_conversations_owner_id_archived_pinned_updated_at"),
        "conversations",
        ["owner_id", "archived", "pinned", "updated_at"],
        unique=False,
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_search()
    elif dialect == "postgresql":
        for table, column in (("messages", "content"), ("conversations", "title")):
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS "
                f"(to_tsvector('simple', regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g'))) STORED"
            )
            op.execute(f"CREATE INDEX ix_{table}_{column}_tsv ON {table} USING gin (search_tsv)")


def _sqlite_search() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5("
        f"content, content='messages', content_rowid='id', tokenize='{TOKENIZE}')"
    )
    op.execute(
        f"CREATE VIRTUAL TABLE conversations_fts USING fts5(title, conversation_id, tokenize='{TOKENIZE}')"
    )
    op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    op.execute("INSERT INTO conversations_fts(title, conversation_id) SELECT title, id FROM conversations")
    for ddl in SQLITE_TRIGGERS.values():
        op.execute(ddl)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
        op.execute("DROP TABLE IF EXISTS conversations_fts")
    elif dialect == "postgresql":
        for table, column in (("messages", "content"), ("conversations", "title")):
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_tsv")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_tsv")
    op.drop_index(op.f("ix_conversations_owner_id_archived_pinned_updated_at"), table_name="conversations")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("archived")
        batch_op.drop_column("pinned")
