"""What the Leaderboard page calls: the user's comparison answers over a period, summed up per backend and
model (storage/comparisons.py), and their CSV and JSON exports. One session per call; frozen values back.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from storage import comparisons, spreadsheet
from storage.comparisons import AnswerRow
from storage.db import get_engine, session
from storage.models import utcnow

__all__ = ["AnswerRow"]


@dataclass(frozen=True, slots=True)
class Board:
    """The user's answers over a period and their summary per backend and model."""

    rows: list[AnswerRow]  # newest first
    summary: list[dict[str, Any]]  # one record per (provider, model): comparisons.summarize
    rounds: int  # how many rounds the answers belong to


def board(owner: int, days: int) -> Board:
    """The answers of the user's comparison rounds asked in the last ``days``."""
    with session(get_engine()) as s:
        rows = comparisons.answer_rows(s, owner, since=utcnow() - timedelta(days=days))
    return Board(rows, comparisons.summarize(rows) if rows else [],
                 len({(r.comparison_id, r.round) for r in rows}))


def answers_csv(rows: list[AnswerRow]) -> str:
    """Every answer and vote as CSV; text from outside (prompts, model ids, answers) never reads as a formula."""
    out = io.StringIO()
    records = _records(rows)
    writer = csv.DictWriter(out, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows({k: spreadsheet.guard(v) for k, v in r.items()} for r in records)  # model ids from outside
    return out.getvalue()


def answers_json(rows: list[AnswerRow]) -> str:
    """Every answer and vote as JSON."""
    return json.dumps([{**asdict(r), "asked_at": r.asked_at.isoformat()} for r in rows], indent=2)


def _records(rows: list[AnswerRow]) -> list[dict[str, object]]:
    return [{**asdict(r), "asked_at": r.asked_at.isoformat(), "options": json.dumps(r.options)} for r in rows]
