"""team arena: private and category on comparisons, imported battles, team votes, prompt sets and batches

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("category", sa.String(length=64), server_default="", nullable=False))
    op.create_table(
        "arena_battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("model_a", sa.String(length=400), nullable=False),
        sa.Column("model_b", sa.String(length=400), nullable=False),
        sa.Column("winner", sa.String(length=16), nullable=False),
        sa.Column("judge", sa.String(length=320), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("identity_leak", sa.Boolean(), nullable=False),
        sa.Column("style", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "winner IN ('model_a', 'model_b', 'tie', 'tie (bothbad)')", name=op.f("ck_arena_battles_winner")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arena_battles")),
        sa.UniqueConstraint("key", name=op.f("uq_arena_battles_key")),
    )
    with op.batch_alter_table("arena_battles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arena_battles_timestamp"), ["timestamp"], unique=False)


    op.create_table(
        "team_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("column_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("verdict IN ('best', 'tie', 'all_bad')", name=op.f("ck_team_votes_verdict")),
        sa.ForeignKeyConstraint(["column_id"], ["comparison_columns.id"],
                                name=op.f("fk_team_votes_column_id_comparison_columns"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["round_id"], ["comparison_rounds.id"],
                                name=op.f("fk_team_votes_round_id_comparison_rounds"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["voter_id"], ["users.id"], name=op.f("fk_team_votes_voter_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_votes")),
        sa.UniqueConstraint("round_id", "voter_id", name=op.f("uq_team_votes_round_id_voter_id")),
    )
    _prompt_sets()


def _prompt_sets() -> None:
    op.create_table(
        "prompt_sets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prompts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_prompt_sets_owner_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_sets")),
    )
    with op.batch_alter_table("prompt_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompt_sets_owner_id_updated_at"), ["owner_id", "updated_at"],
                              unique=False)
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("prompt_set_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("waiting", sa.Text(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done', 'cancelled')", name=op.f("ck_batches_status")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_batches_owner_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["prompt_set_id"], ["prompt_sets.id"],
                                name=op.f("fk_batches_prompt_set_id_prompt_sets"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_owner_id_created_at"), ["owner_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_batches_status"), ["status"], unique=False)
    op.create_table(
        "batch_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comparison_id", sa.String(length=32), nullable=True),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'running', 'done', 'cancelled')",
                           name=op.f("ck_batch_items_status")),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_batch_items_batch_id_batches"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["comparison_id"], ["comparisons.id"],
                                name=op.f("fk_batch_items_comparison_id_comparisons"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_items")),
        sa.UniqueConstraint("batch_id", "number", name=op.f("uq_batch_items_batch_id_number")),
    )


def downgrade() -> None:
    op.drop_table("batch_items")
    op.drop_table("batches")
    op.drop_table("prompt_sets")
    op.drop_table("team_votes")
    op.drop_table("arena_battles")
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_column("category")
        batch_op.drop_column("private")
