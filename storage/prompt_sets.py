"""Prompt sets and their batches: plain functions taking a Session, like :mod:`storage.repository`.

What a user does (save a set, start a batch, cancel it, list and reopen them) is scoped by owner. What
the batch worker does (claim a batch by lease, move its items along) takes ids the worker read from
a claimed batch; the lease makes one process at a time work on a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from storage import repository as repo
from storage.models import Batch, BatchItem, Comparison, PromptSet, utcnow

MAX_PROMPTS = 500  # per set: a batch asks every column once per prompt
MAX_PROMPT_CHARS = 20_000


def save_set(s: Session, owner_id: int, name: str, prompts: Sequence[dict[str, str]],
             set_id: str | None = None) -> PromptSet:
    """Create a prompt set, or replace the name and prompts of one of this user's sets."""
    cleaned = [{"prompt": p["prompt"].strip()[:MAX_PROMPT_CHARS], "category": (p.get("category") or "").strip()[:64]}
               for p in prompts if p.get("prompt", "").strip()]
    if not cleaned:
        raise ValueError("a prompt set needs at least one prompt")
    if len(cleaned) > MAX_PROMPTS:
        raise ValueError(f"a prompt set holds up to {MAX_PROMPTS} prompts, not {len(cleaned)}")
    existing = get_set(s, owner_id, set_id) if set_id else None
    if existing is None:
        existing = PromptSet(owner_id=owner_id, name=name.strip()[:200] or "Prompt set", prompts=cleaned)
        s.add(existing)
    else:
        existing.name, existing.prompts = name.strip()[:200] or existing.name, cleaned
    s.flush()
    return existing


def get_set(s: Session, owner_id: int, set_id: str | None) -> PromptSet | None:
    if not repo.is_conversation_id(set_id):
        return None
    return s.scalar(select(PromptSet).where(PromptSet.id == set_id, PromptSet.owner_id == owner_id))


def list_sets(s: Session, owner_id: int, *, limit: int = 50) -> list[PromptSet]:
    return list(s.scalars(select(PromptSet).where(PromptSet.owner_id == owner_id)
                          .order_by(PromptSet.updated_at.desc()).limit(min(max(limit, 0), repo.MAX_LIMIT))))


def start_batch(s: Session, owner_id: int, prompt_set: PromptSet, columns: Sequence[tuple[str, str]], *,
                blind: bool = False, private: bool = False, category: str = "") -> Batch:
    """A batch of the set's prompts against ``columns``, every item pending; the worker picks it up."""
    if len(columns) < 2:
        raise ValueError("a batch needs at least two columns")
    if prompt_set.owner_id != owner_id:
        raise LookupError("prompt set not found")
    batch = Batch(owner_id=owner_id, prompt_set_id=prompt_set.id, name=prompt_set.name,
                  columns=[list(c) for c in columns], blind=blind, private=private, status="running", waiting="")
    s.add(batch)
    s.flush()
    s.add_all(BatchItem(batch_id=batch.id, number=i, prompt=p["prompt"],
                        category=(p.get("category") or category).strip()[:64],
                        status="pending", restarts=0) for i, p in enumerate(prompt_set.prompts))
    s.flush()
    return batch


def get_batch(s: Session, owner_id: int, batch_id: str | None) -> Batch | None:
    if not repo.is_conversation_id(batch_id):
        return None
    return s.scalar(select(Batch).where(Batch.id == batch_id, Batch.owner_id == owner_id))


def list_batches(s: Session, owner_id: int, *, limit: int = 30) -> list[Batch]:
    return list(s.scalars(select(Batch).where(Batch.owner_id == owner_id)
                          .order_by(Batch.created_at.desc()).limit(min(max(limit, 0), repo.MAX_LIMIT))))


def items(s: Session, batch_id: str) -> list[BatchItem]:
    """A batch's items in order (the caller has the batch: by owner, or by the worker's lease)."""
    return list(s.scalars(select(BatchItem).where(BatchItem.batch_id == batch_id).order_by(BatchItem.number)
                          .limit(MAX_PROMPTS)))


def cancel(s: Session, owner_id: int, batch_id: str) -> bool:
    """Cancel a running batch of this user's: its pending items will not be asked. ``False``: not running."""
    batch = get_batch(s, owner_id, batch_id)
    if batch is None or batch.status != "running":
        return False
    batch.status, batch.finished_at, batch.waiting = "cancelled", utcnow(), ""
    s.execute(update(BatchItem).where(BatchItem.batch_id == batch_id, BatchItem.status == "pending")
              .values(status="cancelled"))
    s.flush()
    return True


# --- the worker's side --------------------------------------------------------------------------


def claim(s: Session, worker: str, *, now: datetime, until: datetime) -> Batch | None:
    """Take the oldest running batch nobody holds (or whose holder's lease lapsed, or that is ours)."""
    free = or_(Batch.lease_owner.is_(None), Batch.lease_until < now, Batch.lease_owner == worker)
    candidate = s.scalar(select(Batch.id).where(Batch.status == "running", free).order_by(Batch.created_at)
                         .limit(1))
    if candidate is None:
        return None
    taken = s.execute(update(Batch).where(Batch.id == candidate, Batch.status == "running", free)
                      .values(lease_owner=worker, lease_until=until))
    if taken.rowcount != 1:  # type: ignore[attr-defined]  # another process took it first
        return None
    return s.get(Batch, candidate, populate_existing=True)


def renew(s: Session, batch_id: str, worker: str, *, until: datetime, waiting: str | None = None) -> str | None:
    """Extend our lease; returns the batch's status, or ``None`` if the lease is no longer ours."""
    values: dict[str, object] = {"lease_until": until}
    if waiting is not None:
        values["waiting"] = waiting
    result = s.execute(update(Batch).where(Batch.id == batch_id, Batch.lease_owner == worker).values(**values))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return s.scalar(select(Batch.status).where(Batch.id == batch_id))


def release(s: Session, batch_id: str, worker: str) -> None:
    s.execute(update(Batch).where(Batch.id == batch_id, Batch.lease_owner == worker)
              .values(lease_owner=None, lease_until=None, waiting=""))


def finish(s: Session, batch_id: str) -> None:
    """Every item is answered: the batch is done, and nobody holds it any more (in the same write)."""
    s.execute(update(Batch).where(Batch.id == batch_id, Batch.status == "running")
              .values(status="done", finished_at=utcnow(), waiting="", lease_owner=None, lease_until=None))


def restarts(s: Session, item_id: int) -> int:
    return s.scalar(select(BatchItem.restarts).where(BatchItem.id == item_id)) or 0


def set_item(s: Session, item_id: int, *, status: str, comparison_id: str | None = None,
             restarted: bool = False) -> None:
    item = s.get(BatchItem, item_id)
    if item is None:
        return
    item.status = status
    if comparison_id is not None or status == "pending":
        item.comparison_id = comparison_id
    if restarted:
        item.restarts += 1
    s.flush()


def discard_comparison(s: Session, owner_id: int, comparison_id: str) -> None:
    """Delete a comparison a server stop cut off, with its columns' conversations (the item is asked again)."""
    comparison = s.scalar(select(Comparison).where(Comparison.id == comparison_id, Comparison.owner_id == owner_id)
                          .options(selectinload(Comparison.columns)))
    if comparison is None:
        return
    conversations = [c.conversation_id for c in comparison.columns]
    s.delete(comparison)
    s.flush()
    for conversation_id in conversations:
        repo.delete_conversation(s, owner_id, conversation_id)
