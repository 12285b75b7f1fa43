"""Battles: the pairwise verdicts the team board is computed from, and their CSV / JSON file format.

A vote on a comparison round becomes battles between its columns: "best" makes the chosen column
beat each other column, "tie" and "all bad" make every pair a tie ("tie" and "tie (bothbad)", the
values public arena tooling uses). The file format is documented in README.md ("Battles file"); its
first eight fields are the ones public arena notebooks read, the rest let an import reproduce the
board exactly (the identity-leak flag and the style-control figures need the answers, which the file
does not carry).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from storage import spreadsheet

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
FIELDS = ("model_a", "model_b", "winner", "tie", "judge", "timestamp", "category", "blind",
          "identity_leak", "length_a", "length_b", "markdown_a", "markdown_b")
MAX_IMPORT_BATTLES = 100_000
MAX_NAME = 400


@dataclass(frozen=True)
class Battle:
    model_a: str
    model_b: str
    winner: str  # one of WINNERS
    judge: str
    timestamp: datetime
    category: str = ""
    blind: bool = False
    identity_leak: bool = False  # blind, but an answer named its own model or backend
    length_a: int = 0  # answer length in characters (style control)
    length_b: int = 0
    markdown_a: int = 0  # headers + list items + bold spans (style control)
    markdown_b: int = 0

    @property
    def tie(self) -> bool:
        return self.winner.startswith("tie")

    @property
    def score(self) -> float:
        """Model a's score: 1 for a win, 0 for a loss, a half for a tie."""
        return {"model_a": 1.0, "model_b": 0.0}.get(self.winner, 0.5)

    @property
    def counts_as_blind(self) -> bool:
        """A blind vote whose answers gave nothing away: the only kind a blind-only board counts."""
        return self.blind and not self.identity_leak

    def key(self) -> str:
        """A digest of the whole record: importing the same battle twice stores it once."""
        return hashlib.sha256(json.dumps(record(self), sort_keys=True).encode()).hexdigest()


_MARKDOWN = re.compile(r"^\s{0,3}#{1,6}\s|^\s*(?:[-*+]|\d+[.)])\s|\*\*[^*\n]+\*\*|__[^_\n]+__", re.MULTILINE)


def markdown_count(text: str) -> int:
    """Headers, list items and bold spans in an answer: the formatting style control accounts for."""
    return len(_MARKDOWN.findall(text or ""))


def identity_names(backend: str, display_name: str, model: str) -> list[str]:
    """The names an answer could give itself away by: the backend's name and display name, the model
    id, its last path part, and that part's leading word (``Llama`` of ``meta-llama/Llama-3.3-70B``)
    when it has four letters or more."""
    base = model.rsplit("/", 1)[-1]
    family = re.split(r"[-_.:\s\d]", base, maxsplit=1)[0]
    names = {backend, display_name, model, base}
    if len(family) >= 4:
        names.add(family)
    return sorted(n for n in names if len(n.strip()) >= 3)


def names_itself(answer: str, names: Iterable[str]) -> bool:
    """Whether ``answer`` mentions any of ``names`` as a word of its own, ignoring case (a version number
    may follow: ``Qwen3`` names ``Qwen``)."""
    for name in names:
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z])", answer or "", re.IGNORECASE):
            return True
    return False


def record(b: Battle) -> dict[str, Any]:
    """One battle as the file's record (JSON types; the timestamp in ISO 8601, UTC)."""
    data = asdict(b)
    data["timestamp"] = b.timestamp.astimezone(UTC).isoformat()
    data["tie"] = b.tie
    return {name: data[name] for name in FIELDS}


def to_json(battles: Sequence[Battle]) -> str:
    return json.dumps([record(b) for b in battles], indent=1, ensure_ascii=False)


def to_csv(battles: Sequence[Battle]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(FIELDS), lineterminator="\n")
    writer.writeheader()
    for b in battles:
        writer.writerow({k: spreadsheet.guard(str(v).lower() if isinstance(v, bool) else v)
                         for k, v in record(b).items()})
    return out.getvalue()


class BattleFileError(ValueError):
    """The file is not a battles file; the message says where and why (safe to show)."""


def parse(data: bytes) -> list[Battle]:
    """Battles from a CSV or JSON battles file; a malformed file is refused whole, with the reason."""
    text = data.decode("utf-8-sig", errors="strict") if data else ""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BattleFileError(f"not valid JSON: {exc}") from None
        if not all(isinstance(r, dict) for r in rows):
            raise BattleFileError("a JSON battles file is a list of objects")
    else:
        rows = [{k: spreadsheet.unguard(v) if isinstance(v, str) else v for k, v in row.items()}
                for row in csv.DictReader(io.StringIO(text))]
    if len(rows) > MAX_IMPORT_BATTLES:
        raise BattleFileError(f"more than {MAX_IMPORT_BATTLES:,} battles in one file")
    return [_battle(row, number) for number, row in enumerate(rows, start=1)]


def _battle(row: dict[str, Any], number: int) -> Battle:
    where = f"battle {number}"
    names = {f.name for f in fields(Battle)}
    missing = [f for f in ("model_a", "model_b", "winner", "timestamp") if row.get(f) in (None, "")]
    if missing:
        raise BattleFileError(f"{where}: no {', '.join(missing)}")
    winner = str(row["winner"])
    if winner not in WINNERS:
        raise BattleFileError(f"{where}: winner is {winner[:40]!r}, not one of {', '.join(WINNERS)}")
    model_a, model_b = str(row["model_a"]), str(row["model_b"])
    if model_a == model_b or max(len(model_a), len(model_b)) > MAX_NAME:
        raise BattleFileError(f"{where}: model_a and model_b must be two different names of up to {MAX_NAME}")
    try:
        if row.get("tie") not in (None, "") and _flag(row["tie"]) != winner.startswith("tie"):
            raise ValueError(f"tie says {row['tie']!r} but the winner is {winner!r}")
        timestamp = _timestamp(row["timestamp"])
        values: dict[str, Any] = {k: row[k] for k in names if k in row and row[k] not in (None, "")}
        return Battle(
            model_a=model_a, model_b=model_b, winner=winner, judge=str(values.get("judge", ""))[:320],
            timestamp=timestamp, category=str(values.get("category", ""))[:64],
            blind=_flag(values.get("blind", False)), identity_leak=_flag(values.get("identity_leak", False)),
            **{k: _count(values.get(k, 0)) for k in ("length_a", "length_b", "markdown_a", "markdown_b")},
        )
    except (TypeError, ValueError) as exc:
        raise BattleFileError(f"{where}: {exc}") from None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)  # public arena files carry Unix seconds ("tstamp")
    parsed = datetime.fromisoformat(str(value))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ValueError(f"{text[:20]!r} is not true or false")


def _count(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("a length or count is not negative")
    return number
