"""Bradley–Terry ratings with bootstrap intervals, rank bands and a win-rate matrix (pure numpy).

Why this shape: at team scale (tens to hundreds of votes) a bare win rate or a single Elo number
misleads, so every rating comes with its 95% interval and a rank band, and models with few battles
are flagged. Everything here is a pure function of the battles, so the board can be recomputed
independently from an export (tests/test_arena_ratings.py does it with scipy).

The model, exactly:

* A battle between models ``a`` and ``b`` has a score ``y``: 1 when ``a`` won, 0 when ``b`` won and
  0.5 for a tie (a "both bad" verdict is a tie too).
* ``P(a beats b) = sigmoid(beta_a - beta_b + gamma . x)`` where ``x`` are the battle's style covariates
  (none unless style control is on). ``beta`` and ``gamma`` maximise
  ``sum_i w_i [y_i log p_i + (1 - y_i) log(1 - p_i)] - RIDGE / 2 * |theta|^2``: the maximum likelihood
  fit with ties as half a win. The tiny ridge only makes the fit finite when a model won (or lost)
  every battle; on real data it moves a rating by far less than a hundredth of a point.
* ``beta`` is centred (mean 0) and put on the usual scale: ``rating = 1000 + 400 / ln 10 * beta``.
* The 95% interval is the 2.5th and 97.5th percentile (numpy's default, linear) of the ratings refitted on
  :data:`BOOTSTRAP_ROUNDS` resamples. The resamples are drawn, in order, as
  ``rng = numpy.random.default_rng(seed)`` then ``rng.integers(0, n, size=n)`` per round: a seeded
  board is reproducible, and anyone can redraw the same resamples.
* Rank: one plus the number of models whose lower bound is above this model's upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

SCALE = 400 / math.log(10)
BASE = 1000.0
RIDGE = 1e-6
BOOTSTRAP_ROUNDS = 200
MIN_BATTLES = 20  # below this a model's rating is flagged "too few votes"
SEED = 20261205

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Battles:
    """Battles as arrays: indices into ``models`` for a and b, the score of a, and style covariates."""

    models: list[str]
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    score: Array
    covariates: Array  # shape (n, k); k = 0 without style control

    @property
    def n(self) -> int:
        return int(self.a.shape[0])


@dataclass(frozen=True)
class Rating:
    model: str
    rating: float
    lower: float
    upper: float
    rank: int
    battles: int
    too_few: bool


def make_battles(
    pairs: Sequence[tuple[str, str, float]], covariates: Sequence[Sequence[float]] | None = None
) -> Battles:
    """``pairs`` of (model a, model b, score of a); models are indexed in sorted order."""
    models = sorted({m for a, b, _ in pairs for m in (a, b)})
    index = {m: i for i, m in enumerate(models)}
    a = np.array([index[p[0]] for p in pairs], dtype=np.int64)
    b = np.array([index[p[1]] for p in pairs], dtype=np.int64)
    score = np.array([p[2] for p in pairs], dtype=np.float64)
    x = np.array(covariates, dtype=np.float64) if covariates else np.zeros((len(pairs), 0))
    return Battles(models, a, b, score, x.reshape(len(pairs), -1))


@dataclass(frozen=True)
class _Rows:
    """Distinct battles (identical ones folded into one weighted row: the fit is a sum over battles, so
    this changes nothing but the time): model indices, style covariates and score per row."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    cov: Array
    y: Array
    k: int


def _compressed(battles: Battles) -> tuple[_Rows, NDArray[np.int64]]:
    """The distinct rows, and each battle's row."""
    key = np.column_stack([battles.a, battles.b, battles.covariates, battles.score])
    rows, inverse = np.unique(key, axis=0, return_inverse=True)
    folded = _Rows(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2:-1], rows[:, -1],
                   len(battles.models))
    return folded, inverse.reshape(-1)


def _margin(rows: _Rows, theta: Array) -> Array:
    """``beta_a - beta_b + gamma . x`` for every row."""
    return theta[rows.a] - theta[rows.b] + rows.cov @ theta[rows.k:]


def _objective(rows: _Rows, w: Array, theta: Array) -> float:
    d = _margin(rows, theta)
    # log sigmoid(d) = -logaddexp(0, -d); log(1 - sigmoid(d)) = -logaddexp(0, d)
    ll = -(w * (rows.y * np.logaddexp(0.0, -d) + (1 - rows.y) * np.logaddexp(0.0, d))).sum()
    return float(ll - RIDGE / 2 * theta @ theta)


def fit(battles: Battles, weights: Array | None = None) -> tuple[Array, Array]:
    """The penalised maximum likelihood ``(beta, gamma)``; ``beta`` centred (mean 0), in natural-log units.

    ``weights`` count each battle (a bootstrap resample) and default to one each.
    """
    rows, inverse = _compressed(battles)
    counts = np.ones(battles.n) if weights is None else weights
    # numpy's stubs type bincount's result as integers; with float weights it is float64
    theta = _newton(rows, np.bincount(inverse, weights=counts, minlength=rows.y.shape[0]))  # type: ignore[arg-type]
    k = rows.k
    return theta[:k] - theta[:k].mean(), theta[k:]


def _derivatives(rows: _Rows, w: Array, theta: Array) -> tuple[Array, Array]:
    """The gradient and the negated Hessian of the penalised log-likelihood, assembled from each row's
    two models and covariates (a design matrix would cost rows x parameters^2)."""
    k, c = rows.k, rows.cov.shape[1]
    p = 1.0 / (1.0 + np.exp(-_margin(rows, theta)))
    r, d = w * (rows.y - p), w * p * (1 - p)
    gradient = np.concatenate([np.bincount(rows.a, r, k) - np.bincount(rows.b, r, k), rows.cov.T @ r])
    hessian = np.zeros((k + c, k + c))
    pairs = np.bincount(rows.a * k + rows.b, d, k * k).reshape(k, k)
    hessian[:k, :k] = np.diag(pairs.sum(axis=1) + pairs.sum(axis=0)) - pairs - pairs.T
    if c:
        weighted = rows.cov * d[:, None]
        cross = np.stack([np.bincount(rows.a, weighted[:, j], k) - np.bincount(rows.b, weighted[:, j], k)
                          for j in range(c)], axis=1)
        hessian[:k, k:], hessian[k:, :k], hessian[k:, k:] = cross, cross.T, rows.cov.T @ weighted
    return gradient - RIDGE * theta, hessian + RIDGE * np.eye(k + c)


def _newton(rows: _Rows, w: Array) -> Array:
    """Newton's method with step halving on the concave penalised log-likelihood."""
    theta = np.zeros(rows.k + rows.cov.shape[1])
    current = _objective(rows, w, theta)
    for _ in range(200):
        gradient, hessian = _derivatives(rows, w, theta)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-8:
            value = _objective(rows, w, theta + size * step)
            if value >= current - 1e-12:
                break
            size /= 2
        else:
            break  # no step improves the fit: at the optimum within rounding
        theta, current = theta + size * step, value
        if np.max(np.abs(size * step)) < 1e-10:
            break
    return theta


def to_scale(beta: Array) -> Array:
    """Natural-log strengths to the usual rating scale around 1000."""
    return BASE + SCALE * beta


def bootstrap(battles: Battles, rounds: int = BOOTSTRAP_ROUNDS, seed: int = SEED) -> Array:
    """Ratings refitted on ``rounds`` resamples of the battles, shape (rounds, models)."""
    rng = np.random.default_rng(seed)
    rows, inverse = _compressed(battles)
    k = rows.k
    samples = np.empty((rounds, k))
    for r in range(rounds):
        drawn = rng.integers(0, battles.n, size=battles.n)
        weights = np.bincount(inverse[drawn], minlength=rows.y.shape[0]).astype(np.float64)
        beta = _newton(rows, weights)[:k]
        samples[r] = to_scale(beta - beta.mean())
    return samples


def rank_bands(lower: Array, upper: Array) -> list[int]:
    """One plus the number of models whose lower bound is above this model's upper bound."""
    return [1 + int(np.sum(lower > upper[i])) for i in range(len(upper))]


def battle_counts(battles: Battles) -> NDArray[np.int64]:
    k = len(battles.models)
    return np.bincount(battles.a, minlength=k) + np.bincount(battles.b, minlength=k)


def rate(battles: Battles, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = SEED,
         min_battles: int = MIN_BATTLES) -> list[Rating]:
    """Every model's rating, 95% interval, rank band and battle count, best first."""
    if battles.n == 0:
        return []
    point = to_scale(fit(battles)[0])
    samples = bootstrap(battles, rounds, seed)
    lower, upper = np.percentile(samples, [2.5, 97.5], axis=0)
    ranks = rank_bands(lower, upper)
    counts = battle_counts(battles)
    table = [
        Rating(m, float(point[i]), float(lower[i]), float(upper[i]), ranks[i], int(counts[i]),
               bool(counts[i] < min_battles))
        for i, m in enumerate(battles.models)
    ]
    return sorted(table, key=lambda r: (r.rank, -r.rating, r.model))


@dataclass(frozen=True)
class Cell:
    """How often ``model`` beat ``opponent`` in their battles (ties count half)."""

    model: str
    opponent: str
    win_rate: float
    battles: int


def win_matrix(battles: Battles) -> list[Cell]:
    """The pairwise win-rate matrix, one cell per ordered pair of models that met."""
    k = len(battles.models)
    won = np.zeros((k, k))
    met = np.zeros((k, k), dtype=np.int64)
    np.add.at(won, (battles.a, battles.b), battles.score)
    np.add.at(won, (battles.b, battles.a), 1 - battles.score)
    np.add.at(met, (battles.a, battles.b), 1)
    np.add.at(met, (battles.b, battles.a), 1)
    return [
        Cell(battles.models[i], battles.models[j], float(won[i, j] / met[i, j]), int(met[i, j]))
        for i in range(k) for j in range(k) if i != j and met[i, j]
    ]


def style_covariates(lengths: Sequence[tuple[int, int]], markdown: Sequence[tuple[int, int]]) -> list[list[float]]:
    """Style control's covariates per battle: normalised differences of answer length and of markdown
    element counts, ``(a - b) / (a + b)`` (0 when both are 0), each then standardised over the battles
    (mean 0, standard deviation 1; a column without variation stays 0). ``gamma`` then measures how much
    longer or richer formatting sways votes, and ``beta`` is the strength with that effect removed.
    """
    columns = []
    for pairs in (lengths, markdown):
        values = np.array([(a - b) / (a + b) if a + b else 0.0 for a, b in pairs], dtype=np.float64)
        spread = values.std() if values.size else 0.0
        columns.append((values - values.mean()) / spread if spread > 0 else np.zeros_like(values))
    return np.column_stack(columns).tolist() if lengths else []
