"""The team board against an independent computation from its own export (SQLite and PostgreSQL).

A seeded few hundred votes by two users (ties, "all bad" verdicts, blind rounds, and blind rounds
whose answers name their own model) go through storage like the compare page's; the board's export is
then read back with the csv module alone and rated again with scipy: Bradley–Terry maximum likelihood
with ties as half a win, 1000 + 400/ln 10 * beta, bootstrap percentiles over the documented resamples,
rank bands by the documented rule, the win-rate matrix by counting, and style control as a joint fit.
Finally the file is imported into a fresh install, whose board must come out the same.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, log_expit

import application
from arena import board, ratings
from arena.battles import parse
from storage import comparisons
from storage import repository as repo
from storage.models import utcnow
from tests.db_fixtures import SessionFactory

MODELS = [("allenai", "OLMo-2-13B"), ("allenai", "Tulu-3-8B"), ("huggingface", "org/Qwen3-4B"),
          ("huggingface", "org/Mistral-7B"), ("hailuo", "MiniMax-Text-01")]
SELF_NAMES = ["OLMo", "Tulu", "Qwen3", "Mistral", "MiniMax"]  # how each model might introduce itself
STRENGTH = [0.9, 0.4, 0.0, -0.3, -0.8]
ROUNDS = 320
LEAKS = 12  # blind rounds where the first answer names its own model


def _answer(rng: np.random.Generator) -> str:
    """A plain answer of random length and formatting (no model or backend names in it)."""
    parts = ["Here is what I found."] + ["- a point"] * int(rng.integers(0, 4)) + ["**note**"] * int(rng.integers(0, 2))
    return "\n".join(parts) + " x" * int(rng.integers(0, 200))


def populate(db: SessionFactory) -> None:
    """Seeded votes by Ann and Bob; the winner drawn from the models' strengths (plus a length bias)."""
    rng = np.random.default_rng(7)
    with db() as s:
        users = []
        for address in ("ann@example.com", "bob@example.com"):
            user = repo.get_or_create_user(s, address)
            user.email = address
            users.append(user.id)
        made: dict[tuple[int, int, int, bool], str] = {}
        for number in range(ROUNDS + LEAKS):
            leak = number >= ROUNDS
            i, j = (int(x) for x in rng.choice(len(MODELS), 2, replace=False))
            owner = users[number % 2]
            blind = leak or bool(rng.random() < 0.4)
            key = (owner, i, j, blind)
            if key not in made:
                made[key] = comparisons.create(s, owner, [MODELS[i], MODELS[j]], blind=blind,
                                               category=("code", "writing")[number % 3 == 0]).id
            comparison = comparisons.get(s, owner, made[key])
            replies = {}
            texts = [_answer(rng), _answer(rng)]
            if leak:
                texts[0] = f"As {SELF_NAMES[i]}, I can help. " + texts[0]
            for column, text in zip(comparison.columns, texts, strict=True):
                repo.add_message(s, owner, column.conversation_id, role="user", content=f"Q{number}")
                reply = repo.add_message(s, owner, column.conversation_id, role="assistant", content="")
                repo.update_message(s, reply.id, content=text, status="complete", ttft_ms=100 + number, total_ms=900)
                replies[column.id] = reply.id
            round_ = comparisons.add_round(s, owner, comparison.id, f"Q{number}", replies)
            length_bias = 0.3 * (len(texts[0]) - len(texts[1])) / (len(texts[0]) + len(texts[1]))
            p = float(expit(STRENGTH[i] - STRENGTH[j] + length_bias))
            u = rng.random()
            if u < 0.12:
                comparisons.vote(s, owner, round_.id, "tie")
            elif u < 0.18:
                comparisons.vote(s, owner, round_.id, "all_bad")
            else:
                won = comparison.columns[0] if rng.random() < p else comparison.columns[1]
                comparisons.vote(s, owner, round_.id, "best", won.id)


def independent_fit(a: list[int], b: list[int], y: list[float], k: int, x: np.ndarray | None = None,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """Bradley–Terry MLE with scipy: beta_0 fixed at 0, then centred; returns (beta..., gamma...)."""
    a_, b_, y_ = np.array(a), np.array(b), np.array(y)
    w = np.ones(len(a)) if weights is None else weights
    c = 0 if x is None else x.shape[1]

    def nll(free: np.ndarray) -> tuple[float, np.ndarray]:
        beta = np.concatenate([[0.0], free[: k - 1]])
        d = beta[a_] - beta[b_] + (x @ free[k - 1:] if c else 0.0)
        value = -np.sum(w * (y_ * log_expit(d) + (1 - y_) * log_expit(-d)))
        r = w * (expit(d) - y_)
        g = np.zeros(k)
        np.add.at(g, a_, r)
        np.add.at(g, b_, -r)
        grad = np.concatenate([g[1:], x.T @ r if c else []])
        return float(value), grad

    result = minimize(nll, np.zeros(k - 1 + c), jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000})
    beta = np.concatenate([[0.0], result.x[: k - 1]])
    return np.concatenate([beta - beta.mean(), result.x[k - 1:]])


def read_export(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def app_db(db: SessionFactory, db_url: str, monkeypatch: pytest.MonkeyPatch) -> SessionFactory:
    monkeypatch.setenv("CHATDECK_DATABASE_URL", db_url)
    application.reset()
    populate(db)
    return db


def test_board_matches_an_independent_computation_from_its_export(app_db: SessionFactory,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    since = utcnow() - timedelta(days=1)
    shown = board.load(since=since)
    exported = read_export(board.export_csv(shown))
    assert len(exported) == ROUNDS + LEAKS == len(shown.battles) == shown.counted
    assert {r["winner"] for r in exported} == {"model_a", "model_b", "tie", "tie (bothbad)"}
    assert {r["judge"] for r in exported} == {"ann@example.com", "bob@example.com"}  # two users pooled
    assert shown.leaks == LEAKS and sum(r["identity_leak"] == "true" for r in exported) == LEAKS

    names = sorted({r["model_a"] for r in exported} | {r["model_b"] for r in exported})
    assert names == sorted(f"{p}/{m}" for p, m in MODELS)
    index = {n: i for i, n in enumerate(names)}
    a = [index[r["model_a"]] for r in exported]
    b = [index[r["model_b"]] for r in exported]
    y = [{"model_a": 1.0, "model_b": 0.0}.get(r["winner"], 0.5) for r in exported]
    k = len(names)

    scale = 400 / math.log(10)
    point = 1000 + scale * independent_fit(a, b, y, k)
    rng = np.random.default_rng(ratings.SEED)  # the documented resampling, redrawn here
    samples = []
    for _ in range(ratings.BOOTSTRAP_ROUNDS):
        drawn = rng.integers(0, len(a), size=len(a))
        samples.append(1000 + scale * independent_fit(a, b, y, k, weights=np.bincount(drawn, minlength=len(a)))[:k])
    lower, upper = np.percentile(np.array(samples), [2.5, 97.5], axis=0)
    ranks = [1 + sum(lower[j] > upper[i] for j in range(k)) for i in range(k)]
    counts = np.bincount(a, minlength=k) + np.bincount(b, minlength=k)

    by_model = {r.model: r for r in shown.ratings}
    for name, i in index.items():
        got = by_model[name]
        assert got.rating == pytest.approx(point[i], abs=0.01)
        assert got.lower == pytest.approx(lower[i], abs=0.01) and got.upper == pytest.approx(upper[i], abs=0.01)
        assert got.rank == ranks[i] and got.battles == counts[i] and got.too_few == (counts[i] < ratings.MIN_BATTLES)
    assert shown.ratings[0].model == "allenai/OLMo-2-13B"  # the strongest model leads
    assert max(r.rank for r in shown.ratings) > 1  # the intervals separate some models, not all

    for cell in shown.matrix:  # the win-rate matrix by plain counting
        pair = {cell.model, cell.opponent}
        wins = [s if r["model_a"] == cell.model else 1 - s
                for s, r in zip(y, exported, strict=True) if {r["model_a"], r["model_b"]} == pair]
        assert cell.battles == len(wins) and cell.win_rate == pytest.approx(sum(wins) / len(wins))

    # Style control: length and markdown covariates (normalised differences, standardised) in a joint fit.
    styled = board.load(since=since, style_control=True)
    columns = []
    for left, right in (("length_a", "length_b"), ("markdown_a", "markdown_b")):
        va, vb = np.array([float(r[left]) for r in exported]), np.array([float(r[right]) for r in exported])
        diff = np.where(va + vb > 0, (va - vb) / np.where(va + vb > 0, va + vb, 1), 0.0)
        columns.append((diff - diff.mean()) / diff.std())
    joint = independent_fit(a, b, y, k, x=np.column_stack(columns))
    for r in styled.ratings:
        assert r.rating == pytest.approx(1000 + scale * joint[index[r.model]], abs=0.01)
    assert styled.style_effects["length"] == pytest.approx(scale * joint[k], abs=0.01)
    assert styled.style_effects["length"] > 0  # the seeded votes favour longer answers

    # Blind only: blind votes without a leak; the leaks are counted, not rated.
    board.set_blind_only(True)
    blind = board.load(since=since)
    assert blind.blind_only and blind.counted == sum(r["blind"] == "true" and r["identity_leak"] == "false"
                                                     for r in exported)
    assert blind.leaks == LEAKS and blind.counted < shown.counted
    board.set_blind_only(False)

    # Slices: one judge's votes, one category's.
    ann = board.load(since=since, view=board.Slice(judge="ann@example.com"))
    assert ann.counted == sum(r["judge"] == "ann@example.com" for r in exported) < shown.counted
    code = board.load(since=since, view=board.Slice(category="code"))
    assert code.counted == sum(r["category"] == "code" for r in exported)

    # A fresh install importing the file shows the same board; JSON reads the same; importing twice adds nothing.
    json_text = board.export_json(shown)
    assert parse(json_text.encode()) == parse(board.export_csv(shown).encode())
    assert json.loads(json_text)[0].keys() >= {"model_a", "model_b", "winner", "tie", "judge", "timestamp",
                                               "category", "blind"}
    monkeypatch.setenv("CHATDECK_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    application.reset()
    assert board.load(since=since).ratings == []
    assert board.import_battles(parse(board.export_csv(shown).encode())) == ROUNDS + LEAKS
    assert board.import_battles(parse(json_text.encode())) == 0
    again = board.load(since=since)
    assert again.ratings == shown.ratings and again.matrix == shown.matrix and again.leaks == LEAKS
    assert board.load(since=since, style_control=True).ratings == styled.ratings
