"""index streaming replies by when they were last touched

A partial index on ``messages(updated_at)`` holding only replies still being written
(``status = 'streaming'``): the runner's periodic sweep for replies whose writer died reads
these few rows instead of the whole table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_messages_streaming_updated_at"
STREAMING = sa.text("status = 'streaming'")


def upgrade() -> None:
    # A plain CREATE INDEX on both databases: no batch rebuild of ``messages`` (which would drop the
    # full-text search triggers of 0006 on SQLite).
    op.create_index(INDEX, "messages", ["updated_at"], unique=False,
                    sqlite_where=STREAMING, postgresql_where=STREAMING)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="messages")
