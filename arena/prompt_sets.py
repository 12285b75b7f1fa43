"""Prompt sets for the pages: reading prompts typed, pasted or imported, saving sets, starting, following,
cancelling and reopening batches. The page (views/prompt_sets.py) only draws what these return."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from arena.batch_worker import get_worker
from storage import comparisons, team_votes
from storage import prompt_sets as store
from storage.db import get_engine, session
from storage.models import Batch


class PromptFileError(ValueError):
    """The prompts could not be read; the message says where and why (safe to show)."""


def from_text(text: str) -> list[dict[str, str]]:
    """Typed or pasted prompts: separated by a line holding only ``---``, or else one per line."""
    if any(line.strip() == "---" for line in text.splitlines()):
        chunks: list[str] = []
        current: list[str] = []
        for line in text.splitlines():
            if line.strip() == "---":
                chunks.append("\n".join(current))
                current = []
            else:
                current.append(line)
        chunks.append("\n".join(current))
    else:
        chunks = text.splitlines()
    return [{"prompt": c.strip(), "category": ""} for c in chunks if c.strip()]


def from_file(name: str, data: bytes) -> list[dict[str, str]]:
    """Prompts from a CSV file (a ``prompt`` column, optionally ``category``) or JSONL (one object per line
    with ``prompt`` and optionally ``category``; a bare JSON string is a prompt too)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PromptFileError("the file is not UTF-8 text") from None
    prompts = []
    if name.lower().endswith((".jsonl", ".json", ".ndjson")):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PromptFileError(f"line {number}: not JSON ({exc.msg})") from None
            if isinstance(value, str):
                value = {"prompt": value}
            if not isinstance(value, dict) or not isinstance(value.get("prompt"), str):
                raise PromptFileError(f'line {number}: an object with a "prompt" string was expected')
            prompts.append({"prompt": value["prompt"], "category": str(value.get("category") or "")})
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "prompt" not in reader.fieldnames:
            raise PromptFileError('the CSV file needs a header row with a "prompt" column')
        prompts = [{"prompt": row.get("prompt") or "", "category": row.get("category") or ""} for row in reader]
    prompts = [p for p in prompts if p["prompt"].strip()]
    if not prompts:
        raise PromptFileError("no prompts in the file")
    return prompts


@dataclass(frozen=True)
class SetView:
    id: str
    name: str
    prompts: list[dict[str, str]]


def save(owner: int, name: str, prompts: Sequence[dict[str, str]], set_id: str | None = None) -> SetView:
    with session(get_engine()) as s:
        saved = store.save_set(s, owner, name, prompts, set_id)
        return SetView(saved.id, saved.name, list(saved.prompts))


def sets(owner: int) -> list[SetView]:
    with session(get_engine()) as s:
        return [SetView(p.id, p.name, list(p.prompts)) for p in store.list_sets(s, owner)]


def start(owner: int, set_id: str, columns: Sequence[tuple[str, str]], *, blind: bool, private: bool,
          category: str = "") -> str:
    """Start a batch of the set against ``columns`` (``category`` for prompts without one of their own);
    the worker picks it up at once. Returns its id."""
    with session(get_engine()) as s:
        prompt_set = store.get_set(s, owner, set_id)
        if prompt_set is None:
            raise LookupError("that prompt set was not found")
        batch_id = store.start_batch(s, owner, prompt_set, columns, blind=blind, private=private,
                                     category=category).id
    get_worker().wake()
    return batch_id


def cancel(owner: int, batch_id: str) -> bool:
    with session(get_engine()) as s:
        return store.cancel(s, owner, batch_id)


def ensure_worker() -> None:
    """Make sure this process works batches (the server starts it too; a page visit is enough)."""
    get_worker()


@dataclass(frozen=True)
class ItemView:
    number: int
    prompt: str
    category: str
    status: str  # pending, running, done, cancelled
    comparison_id: str | None
    columns: list[str]  # each column's reply status in column order: complete, error, streaming, ...
    restarts: int


@dataclass(frozen=True)
class BatchView:
    id: str
    name: str
    status: str  # running, done, cancelled
    waiting: str
    columns: list[tuple[str, str]]
    blind: bool
    items: list[ItemView] = field(default_factory=list)

    @property
    def progress(self) -> float:
        finished = sum(1 for i in self.items if i.status in ("done", "cancelled"))
        return finished / len(self.items) if self.items else 1.0

    @property
    def counts(self) -> Counter[str]:
        return Counter(i.status for i in self.items)

    @property
    def failures(self) -> int:
        return sum(1 for i in self.items for c in i.columns if c in ("error", "partial"))


def batches(owner: int) -> list[BatchView]:
    """This user's batches, newest first, with their items' progress."""
    with session(get_engine()) as s:
        return [_view(s, owner, b, detail=False) for b in store.list_batches(s, owner)]


def batch(owner: int, batch_id: str) -> BatchView | None:
    with session(get_engine()) as s:
        found = store.get_batch(s, owner, batch_id)
        return _view(s, owner, found, detail=True) if found else None


def _view(s: Session, owner: int, b: Batch, *, detail: bool) -> BatchView:
    """A batch and its items; with ``detail``, each item's reply status per column (two queries an item)."""
    views = []
    for item in store.items(s, b.id):
        statuses: list[str] = []
        if detail and item.comparison_id:
            comparison = comparisons.get(s, owner, item.comparison_id)
            rounds = comparisons.rounds(s, owner, item.comparison_id, limit=1)
            if comparison and rounds:
                statuses = [rounds[0].answers[c.id].status if c.id in rounds[0].answers else "missing"
                            for c in comparison.columns]
        views.append(ItemView(item.number, item.prompt, item.category, item.status, item.comparison_id, statuses,
                              item.restarts))
    return BatchView(b.id, b.name, b.status, b.waiting, [(c[0], c[1]) for c in b.columns], b.blind, views)


# --- the team's votes on other members' shared batches -------------------------------------------


def team_batches(viewer: int) -> list[team_votes.SharedBatch]:
    """Other members' shared (not private) batches this member can vote on."""
    with session(get_engine()) as s:
        return team_votes.shared_batches(s, viewer)


def team_rounds(viewer: int, batch_id: str) -> tuple[team_votes.SharedBatch | None, list[team_votes.VoteRound]]:
    """A shared batch and its answered prompts with this member's verdicts (``None``: not shared, or own)."""
    with session(get_engine()) as s:
        shared = next((b for b in team_votes.shared_batches(s, viewer, limit=1000) if b.id == batch_id), None)
        rounds = team_votes.batch_rounds(s, viewer, batch_id) if shared else None
    return shared, rounds or []


def team_vote(viewer: int, round_id: int, verdict: str, column_id: int | None) -> None:
    with session(get_engine()) as s:
        team_votes.cast(s, viewer, round_id, verdict, column_id)
VoteRound = team_votes.VoteRound  # what views/team_vote.py draws
