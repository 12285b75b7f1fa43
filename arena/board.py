"""The team board as view values: battles from everyone's shared votes and imports, rated with intervals.

The page (views/arena.py) only draws what :func:`load` returns. The battles come from two places,
pooled: votes on every member's non-private comparisons (storage/arena.py), and battles imported
from a battles file. A battle in both (a file exported here and imported back) counts once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arena import ratings
from arena.battles import Battle, identity_names, markdown_count, names_itself, to_csv, to_json
from arena.ratings import Cell
from providers import registry
from storage import arena as store
from storage import comparisons, team_votes
from storage.db import get_engine, session


def model_key(provider: str, model: str) -> str:
    """How a backend's model is named on the board and in files: ``backend/model-id``."""
    return f"{provider}/{model}"


def battles_from_answers(answers: Sequence[store.TeamAnswer],
                         team: Sequence[team_votes.Judgment] = ()) -> list[Battle]:
    """Each judgment's battles: "best" beats every other column; "tie" and "all bad" tie every pair.

    The judgments are each round's owner's vote (in ``answers``) and other members' ``team`` votes
    on the same rounds. A blind round in which any answer names its own model or backend is flagged
    ``identity_leak``: its votes are kept, but a blind-only board leaves them out.
    """
    rounds: dict[int, list[store.TeamAnswer]] = {}
    for answer in answers:
        rounds.setdefault(answer.round_id, []).append(answer)
    for in_round in rounds.values():
        in_round.sort(key=lambda a: a.row.column)
    owners = [team_votes.Judgment(m[0].round_id, m[0].judge, m[0].row.verdict, m[0].winner_column_id)
              for m in rounds.values() if m[0].row.verdict is not None]
    backends = registry.all_backends()
    leaks: dict[int, bool] = {}
    battles = []
    for judgment in [*owners, *team]:
        members = rounds.get(judgment.round_id)
        if not members:
            continue  # a round outside the period or its answer limit
        first = members[0]
        if judgment.round_id not in leaks:
            leaks[judgment.round_id] = first.blind and any(
                names_itself(a.row.answer, identity_names(
                    a.row.provider, backends[a.row.provider].display_name if a.row.provider in backends else "",
                    a.row.model))
                for a in members
            )
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if judgment.verdict == "best" and judgment.winner_column_id not in (a.column_id, b.column_id):
                    continue  # two losers of a "best" vote: the vote says nothing between them
                battles.append(Battle(
                    model_a=model_key(a.row.provider, a.row.model), model_b=model_key(b.row.provider, b.row.model),
                    winner=_winner(judgment, a, b), judge=judgment.judge, timestamp=first.row.asked_at,
                    category=first.category, blind=first.blind, identity_leak=leaks[judgment.round_id],
                    length_a=len(a.row.answer or ""), length_b=len(b.row.answer or ""),
                    markdown_a=markdown_count(a.row.answer), markdown_b=markdown_count(b.row.answer),
                ))
    return [b for b in battles if b.model_a != b.model_b]


def _winner(judgment: team_votes.Judgment, a: store.TeamAnswer, b: store.TeamAnswer) -> str:
    if judgment.verdict == "tie":
        return "tie"
    if judgment.verdict == "all_bad":
        return "tie (bothbad)"
    return "model_a" if judgment.winner_column_id == a.column_id else "model_b"


def from_stored(b: store.StoredBattle) -> Battle:
    style = b.style or {}
    return Battle(b.model_a, b.model_b, b.winner, b.judge, b.timestamp, b.category, b.blind, b.identity_leak,
                  **{k: int(style.get(k, 0)) for k in ("length_a", "length_b", "markdown_a", "markdown_b")})


def to_stored(b: Battle) -> store.StoredBattle:
    return store.StoredBattle(b.key(), b.model_a, b.model_b, b.winner, b.judge, b.timestamp, b.category,
                              b.blind, b.identity_leak, {"length_a": b.length_a, "length_b": b.length_b,
                                                         "markdown_a": b.markdown_a, "markdown_b": b.markdown_b})


@dataclass(frozen=True)
class Slice:
    """Which battles the board counts (besides the period): one judge, one category, or everyone's."""

    judge: str | None = None
    category: str | None = None


@dataclass
class Board:
    ratings: list[ratings.Rating]
    matrix: list[Cell]  # not ``ratings.Cell``: in this class ``ratings`` names the field above
    battles: list[Battle]  # every battle of the period (exports carry them all)
    counted: int  # battles the ratings count
    leaks: int  # blind votes left out of blind ratings because an answer named its model or backend
    blind_only: bool
    style_control: bool
    style_effects: dict[str, float]  # style control's coefficients (per standard deviation)
    judges: list[str]
    categories: list[str]
    speed: list[dict[str, Any]] = field(default_factory=list)


def counted_battles(battles: Sequence[Battle], view: Slice, blind_only: bool) -> list[Battle]:
    """The battles the ratings count: the slice's, and with blind-only on, blind ones without a leak."""
    return [
        b for b in battles
        if (view.judge is None or b.judge == view.judge)
        and (view.category is None or b.category == view.category)
        and (b.counts_as_blind or not blind_only)
    ]


def rate(battles: Sequence[Battle], *, style_control: bool) -> tuple[list[ratings.Rating], list[ratings.Cell],
                                                                     dict[str, float]]:
    """Ratings (with intervals and rank bands), the win-rate matrix and the style coefficients."""
    return _rate(tuple(battles), style_control)


@functools.lru_cache(maxsize=32)  # a rerun with the same battles (a toggle elsewhere) costs nothing
def _rate(battles: tuple[Battle, ...], style_control: bool) -> tuple[list[ratings.Rating], list[ratings.Cell],
                                                                     dict[str, float]]:
    if not battles:
        return [], [], {}
    covariates = None
    if style_control:
        covariates = ratings.style_covariates([(b.length_a, b.length_b) for b in battles],
                                              [(b.markdown_a, b.markdown_b) for b in battles])
    data = ratings.make_battles([(b.model_a, b.model_b, b.score) for b in battles], covariates)
    effects = {}
    if style_control:
        gamma = ratings.fit(data)[1]
        effects = {"length": float(gamma[0] * ratings.SCALE), "markdown": float(gamma[1] * ratings.SCALE)}
    return ratings.rate(data), ratings.win_matrix(data), effects


def load(*, since: datetime, until: datetime | None = None, view: Slice = Slice(),
         style_control: bool = False) -> Board:
    """Everything the team board shows for a period and slice."""
    with session(get_engine()) as s:
        answers = store.team_answers(s, since=since, until=until)
        team = team_votes.judgments(s, since=since, until=until)
        imported = store.imported_battles(s, since=since, until=until)
        blind_only = store.blind_only(s)
    battles = _pooled(battles_from_answers(answers, team), [from_stored(b) for b in imported])
    counted = counted_battles(battles, view, blind_only)
    rated, matrix, effects = rate(counted, style_control=style_control)
    leaks = sum(1 for b in battles if b.blind and b.identity_leak
                and (view.judge is None or b.judge == view.judge)
                and (view.category is None or b.category == view.category))
    rows = [a.row for a in answers
            if (view.judge is None or a.judge == view.judge) and (view.category is None or a.category == view.category)]
    speed = [{**r, "model_key": model_key(r["provider"], r["model"])} for r in comparisons.summarize(rows)]
    return Board(
        ratings=rated, matrix=matrix, battles=battles, counted=len(counted), leaks=leaks, blind_only=blind_only,
        style_control=style_control, style_effects=effects, judges=sorted({b.judge for b in battles if b.judge}),
        categories=sorted({b.category for b in battles if b.category}), speed=speed,
    )


def _pooled(own: list[Battle], imported: list[Battle]) -> list[Battle]:
    seen: set[str] = set()
    pooled = []
    for b in own + imported:
        key = b.key()
        if key not in seen:
            seen.add(key)
            pooled.append(b)
    return sorted(pooled, key=lambda b: (b.timestamp, b.model_a, b.model_b))


def export_csv(shown: Board) -> str:
    """The period's battles (all of them, whatever the slice) as the documented CSV file."""
    return to_csv(shown.battles)


def export_json(shown: Board) -> str:
    return to_json(shown.battles)


def import_battles(battles: Sequence[Battle]) -> int:
    """Store imported battles (an admin's action); returns how many were new."""
    with session(get_engine()) as s:
        return store.add_battles(s, [to_stored(b) for b in battles])


def set_private(owner_id: int, comparison_id: str, private: bool) -> bool:
    """Keep one of this user's comparisons off the team board, or share it again."""
    with session(get_engine()) as s:
        return store.set_private(s, owner_id, comparison_id, private)


def set_blind_only(value: bool) -> None:
    with session(get_engine()) as s:
        store.set_blind_only(s, value)


def table(shown: Board) -> list[dict[str, Any]]:
    """The board's table: each model's rating, interval, rank band and battles, with its speed beside it."""
    speed = {s["model_key"]: s for s in shown.speed}
    rows = []
    for r in shown.ratings:
        s = speed.get(r.model, {})
        rows.append({
            "rank": r.rank, "model": r.model, "rating": r.rating, "lower": r.lower, "upper": r.upper,
            "battles": r.battles, "too_few": r.too_few, "ttft_median_ms": s.get("ttft_median_ms"),
            "ttft_p90_ms": s.get("ttft_p90_ms"), "chars_per_s_median": s.get("chars_per_s_median"),
            "chars_per_s_p90": s.get("chars_per_s_p90"), "failure_rate": s.get("failure_rate"),
        })
    return rows
