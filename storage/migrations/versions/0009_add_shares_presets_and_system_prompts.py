"""add shares, presets and conversations' system prompts

``shares``: conversations and comparisons shared with one user or everyone (a revoked share is deleted).
``presets``: saved backend, model, sampling options and system prompt, personal or the team's.
``conversations.system_prompt``: what each backend receives as the conversation's system prompt.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: a batch rebuild of ``conversations`` would drop the full-text
    # search triggers of 0006 on SQLite.
    op.add_column("conversations", sa.Column("system_prompt", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "shares",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("comparison_id", sa.String(length=32), nullable=True),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("viewer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('conversation', 'comparison')", name=op.f("ck_shares_kind")),
        sa.CheckConstraint("audience IN ('user', 'team')", name=op.f("ck_shares_audience")),
        sa.CheckConstraint("(kind = 'conversation') = (conversation_id IS NOT NULL) AND "
                           "(kind = 'comparison') = (comparison_id IS NOT NULL)", name=op.f("ck_shares_target")),
        sa.CheckConstraint("(audience = 'user') = (viewer_id IS NOT NULL)", name=op.f("ck_shares_viewer")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_shares_owner_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_shares_conversation_id_conversations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["comparison_id"], ["comparisons.id"],
                                name=op.f("fk_shares_comparison_id_comparisons"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["viewer_id"], ["users.id"], name=op.f("fk_shares_viewer_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
    )
    op.create_index(op.f("ix_shares_owner_id_created_at"), "shares", ["owner_id", "created_at"])
    op.create_index(op.f("ix_shares_viewer_id_created_at"), "shares", ["viewer_id", "created_at"])
    op.create_index(op.f("ix_shares_audience_created_at"), "shares", ["audience", "created_at"])
    op.create_index(op.f("ix_shares_conversation_id"), "shares", ["conversation_id"])
    op.create_index(op.f("ix_shares_comparison_id"), "shares", ["comparison_id"])
    op.create_table(
        "presets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_presets_owner_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presets")),
    )
    op.create_index(op.f("ix_presets_owner_id_name"), "presets", ["owner_id", "name"])
    op.create_index(op.f("ix_presets_team_name"), "presets", ["team", "name"])


def downgrade() -> None:
    op.drop_table("presets")
    op.drop_table("shares")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason as above.
    op.drop_column("conversations", "system_prompt")
