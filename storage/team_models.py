"""The tables of team work (issue 17): shares and presets. Imported by storage.models, which owns ``Base``.

- ``shares``: one row per (item, audience). An item is a conversation or a comparison; the audience is one
  named user (``viewer_id``) or everyone signed in to this Chatdeck (``viewer_id`` NULL, ``audience="team"``).
  Revoking deletes the row, so a revoked share and one that never existed look the same: not found.
  The share's own id is what a link carries (``?shared=<id>``), never the item's.
- ``presets``: a name, backend, model, sampling options and system prompt; personal (``team`` false, only its
  owner sees it) or the team's (``team`` true, everyone sees it, admins curate it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, new_id, utcnow

KINDS = ("conversation", "comparison")
AUDIENCES = ("user", "team")


class Share(Base):
    __tablename__ = "shares"
    __table_args__ = (
        CheckConstraint("kind IN ('conversation', 'comparison')", name="kind"),
        CheckConstraint("audience IN ('user', 'team')", name="audience"),
        # exactly the target its kind names, and a viewer exactly when shared with one person
        CheckConstraint("(kind = 'conversation') = (conversation_id IS NOT NULL) AND "
                        "(kind = 'comparison') = (comparison_id IS NOT NULL)", name="target"),
        CheckConstraint("(audience = 'user') = (viewer_id IS NOT NULL)", name="viewer"),
        Index(None, "owner_id", "created_at"),  # "Shared by me"
        Index(None, "viewer_id", "created_at"),  # "Shared with me", one person
        Index(None, "audience", "created_at"),  # "Shared with me", everyone
        Index(None, "conversation_id"),
        Index(None, "comparison_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    comparison_id: Mapped[str | None] = mapped_column(ForeignKey("comparisons.id", ondelete="CASCADE"))
    audience: Mapped[str] = mapped_column(String(16))
    viewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Share(id={self.id!r}, kind={self.kind!r}, audience={self.audience!r})"


class Preset(Base):
    __tablename__ = "presets"
    __table_args__ = (Index(None, "owner_id", "name"), Index(None, "team", "name"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))  # who made it
    team: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(255))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # temperature, top_p
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Preset(id={self.id!r}, name={self.name!r}, team={self.team!r})"
