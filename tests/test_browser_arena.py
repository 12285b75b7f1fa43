"""The team arena in chromium: two people (signed in by a trusted proxy header) each compare two models and
vote; the team board, opened by either of them, pools both votes, and its export names both judges."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle

pytestmark = pytest.mark.browser


@pytest.fixture
def team_app(tmp_path: Path, allenai_sim: SimHandle) -> Iterator[AppServer]:
    allenai_sim.sim.script.chunks = ["A plain ", "answer."]
    server = start_app(tmp_path, {
        "CHATDECK_ALLENAI_URL": allenai_sim.url, "CHATDECK_TRUSTED_HEADER": "X-Forwarded-Email",
        "CHATDECK_ADMINS": "ann@example.com",
    })
    yield server
    stop_app(server)


@pytest.fixture
def contexts(browser: object) -> Iterator[list[object]]:
    opened: list[object] = []
    yield opened
    for context in opened:
        context.close()  # type: ignore[attr-defined]


def compare_and_vote(browser: object, contexts: list[object], app: AppServer, address: str, choice: int) -> object:
    """One member's comparison of two models, voted for column ``choice``; returns their open page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True,  # type: ignore[attr-defined]
                                  extra_http_headers={"X-Forwarded-Email": address})
    contexts.append(context)
    page = context.new_page()
    page.goto(app.url + "/compare")
    wait_for_app(page)
    expect(page.get_by_text("Columns")).to_be_visible(timeout=20_000)
    send(page, f"Which answer is better, {address}?")
    best = page.get_by_role("button", name="This one is best")
    expect(best).to_have_count(2, timeout=30_000)
    best.nth(choice).click()
    expect(page.get_by_text("You voted best")).to_be_visible(timeout=20_000)
    return page


def test_two_members_votes_pool_on_the_team_board(team_app: AppServer, browser: object,
                                                  contexts: list[object]) -> None:
    ann = compare_and_vote(browser, contexts, team_app, "ann@example.com", 0)
    bob = compare_and_vote(browser, contexts, team_app, "bob@example.com", 1)

    bob.goto(team_app.url + "/arena")  # type: ignore[attr-defined]
    wait_for_app(bob)
    expect(bob.get_by_text("2 battles counted (votes) of 2 in this period")).to_be_visible(timeout=30_000)  # type: ignore[attr-defined]
    expect(bob.get_by_text("Ratings with 95% intervals")).to_be_visible()  # type: ignore[attr-defined]
    assert bob.get_by_text("Blind votes only").count() == 0  # type: ignore[attr-defined]  # an admin's switch

    ann.goto(team_app.url + "/arena")  # type: ignore[attr-defined]
    wait_for_app(ann)
    expect(ann.get_by_text("2 battles counted (votes) of 2 in this period")).to_be_visible(timeout=30_000)  # type: ignore[attr-defined]
    expect(ann.get_by_text("Blind votes only (for everyone)")).to_be_visible()  # type: ignore[attr-defined]
    with ann.expect_download(timeout=20_000) as info:  # type: ignore[attr-defined]
        ann.get_by_test_id("stDownloadButton").filter(has_text="Battles (CSV)").locator("button").click()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert sorted(r["judge"] for r in rows) == ["ann@example.com", "bob@example.com"]
    assert {r["winner"] for r in rows} <= {"model_a", "model_b"} and all(r["model_a"] != r["model_b"] for r in rows)
    for page in (ann, bob):
        assert page.get_by_test_id("stException").count() == 0  # type: ignore[attr-defined]
