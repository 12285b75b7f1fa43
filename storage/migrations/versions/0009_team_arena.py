"""team arena: private and category on comparisons, imported battles

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
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


def downgrade() -> None:
    op.drop_table("arena_battles")
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_column("category")
        batch_op.drop_column("private")
