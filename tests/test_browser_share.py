"""Issue 17 end to end in a real browser, two (three) people signed in through the trusted proxy header:

Ann shares a conversation and a comparison with Bob; Bob opens both read-only at their own addresses,
continues the conversation as his copy (the Ai2 simulator receives the history, under Bob's own anonymous id,
not Ann's); Ann revokes both and Bob's links say "not found". Cat, an admin, saves a team preset; team
presets for every backend start a chat for Bob in one click, and each backend's simulator receives the system
prompt in that backend's own form.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from access import policy
from simulators.hailuo import DEMO_DEVICE_ID, DEMO_TOKEN, DEMO_USER_ID
from simulators.openai_compat import SIM_TOKEN
from storage import presets
from storage import repository as repo
from storage.db import make_engine, session
from tests.browser_fixtures import AppServer, send, start_app, stop_app, wait_for_app
from tests.sim_fixtures import SimHandle
from tests.sim_huggingface import MODEL as HF_MODEL

pytestmark = pytest.mark.browser

HEADER, NAME_HEADER = "X-Forwarded-Email", "X-Forwarded-User"
HUGGINGCHAT_COOKIES = "hf-chat=5e1f0c2a-share-browser-session"


@pytest.fixture
def sims(allenai_sim: SimHandle, hailuo_sim: SimHandle, huggingface_sim: SimHandle,
         huggingchat_sim: SimHandle) -> dict[str, SimHandle]:
    return {"allenai": allenai_sim, "hailuo": hailuo_sim, "huggingface": huggingface_sim,
            "huggingchat": huggingchat_sim}


@pytest.fixture
def app_server(tmp_path: Path, sims: dict[str, SimHandle]) -> Iterator[AppServer]:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")  # the app's database, prepared before it starts
    try:
        for backend in ("hailuo", "huggingface", "huggingchat"):  # team mode: the admin lets people use these
            policy.set_server_login(engine, backend, True)
    finally:
        engine.dispose()
    server = start_app(tmp_path, {
        "CHATDECK_TRUSTED_HEADER": HEADER, "CHATDECK_TRUSTED_NAME_HEADER": NAME_HEADER,
        "CHATDECK_ADMINS": "cat@example.com", "CHATDECK_SECRET_KEY": "browser-share", "CHATDECK_RATE_LIMIT": "0",
        "CHATDECK_ALLENAI_URL": sims["allenai"].url,
        "CHATDECK_HAILUO_URL": sims["hailuo"].url, "CHATDECK_HAILUO_TOKEN": DEMO_TOKEN,
        "CHATDECK_HAILUO_DEVICE_ID": DEMO_DEVICE_ID, "CHATDECK_HAILUO_USER_ID": DEMO_USER_ID,
        "CHATDECK_HF_URL": sims["huggingface"].url, "HF_TOKEN": SIM_TOKEN,
        "CHATDECK_HUGGINGCHAT_URL": sims["huggingchat"].url + "/chat",
        "CHATDECK_HUGGINGCHAT_COOKIES": HUGGINGCHAT_COOKIES,
    })
    yield server
    stop_app(server)


class Person:
    """One signed-in person: a browser context whose every request carries the proxy's headers."""

    def __init__(self, browser: Any, server: AppServer, address: str, name: str) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                           extra_http_headers={HEADER: address, NAME_HEADER: name})
        self.page = self.context.new_page()

    def open(self, path: str = "/") -> Any:
        self.page.goto(self.server.url + path)
        wait_for_app(self.page)
        return self.page

    def main(self) -> Any:
        return self.page.get_by_role("main")

    def sidebar(self) -> Any:
        return self.page.get_by_test_id("stSidebar")


def share_with_bob(page: Any) -> None:
    page.get_by_role("button", name="Share", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Teammate's address").fill("bob@example.com")
    dialog.get_by_label("Teammate's address").press("Enter")
    dialog.get_by_role("button", name="Share with this person").click()
    expect(dialog.get_by_text("shared with Bob")).to_be_visible(timeout=15_000)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0, timeout=10_000)


def test_ann_shares_bob_reads_and_copies_ann_revokes(app_server: AppServer, browser: Any,
                                                      sims: dict[str, SimHandle]) -> None:
    ann = Person(browser, app_server, "ann@example.com", "Ann")
    bob = Person(browser, app_server, "bob@example.com", "Bob")
    try:
        bob.open()  # Bob signs in once, so Ann can name him
        page = ann.open()
        sims["allenai"].sim.script.chunks = ["Go to ", "Zanzibar."]
        send(page, "Plan my trip")
        expect(ann.main().get_by_text("Go to Zanzibar.")).to_be_visible(timeout=20_000)
        wait_for_app(page)
        anns_anonymous_id = sims["allenai"].sim.chat_requests()[-1].headers["x-anonymous-user-id"]
        share_with_bob(page)

        page = ann.open("/compare")
        for handle in sims.values():
            handle.sim.script.chunks = ["Seven ", "is prime."]
        send(page, "Name a prime")
        expect(ann.main().get_by_role("button", name="Tie")).to_be_visible(timeout=30_000)
        ann.main().get_by_role("button", name="Tie").click()
        expect(ann.main().get_by_text("You voted a tie.")).to_be_visible(timeout=15_000)
        share_with_bob(page)

        page = bob.open("/shared")  # Shared with me: both, each opening read-only at its own address
        expect(bob.main().get_by_role("button", name="Plan my trip")).to_be_visible(timeout=15_000)
        bob.main().get_by_role("button", name="Name a prime").click()
        expect(bob.main().get_by_text("Voted a tie.")).to_be_visible(timeout=15_000)
        expect(bob.main().get_by_text("is prime.").first).to_be_visible()
        comparison_url = page.url
        assert "/shared?id=" in comparison_url

        page = bob.open("/shared")
        bob.main().get_by_role("button", name="Plan my trip").click()
        expect(bob.main().get_by_text("Go to Zanzibar.")).to_be_visible(timeout=15_000)
        expect(bob.main().get_by_text("Read-only")).to_be_visible()
        expect(bob.main().get_by_text("Ann").first).to_be_visible()
        assert page.get_by_test_id("stChatInput").count() == 0
        conversation_url = page.url

        sims["allenai"].sim.script.chunks = ["July ", "is fine too."]
        bob.main().get_by_role("button", name="Continue as my copy").click()
        expect(page.get_by_test_id("stChatInput")).to_be_visible(timeout=15_000)
        assert "c=" in page.url
        expect(bob.main().get_by_text("Go to Zanzibar.")).to_be_visible()  # his copy holds the history
        send(page, "And in July?")
        expect(bob.main().get_by_text("July is fine too.")).to_be_visible(timeout=20_000)
        received = sims["allenai"].sim.chat_requests()[-1]
        history = "User: Plan my trip\nAssistant: Go to Zanzibar.\nUser: And in July?\nAssistant:"
        assert received.form["content"] == history
        assert "parent" not in received.form or not received.form["parent"]  # a new thread of Bob's
        assert received.headers["x-anonymous-user-id"] != anns_anonymous_id  # Ann's backend ids stayed hers

        ann.open("/shared")  # Shared by me, each revoked at once
        revoke = ann.main().get_by_role("button", name="Revoke")
        expect(revoke).to_have_count(2, timeout=15_000)
        revoke.first.click()
        expect(revoke).to_have_count(1, timeout=15_000)
        revoke.first.click()
        expect(ann.main().get_by_text("You share nothing")).to_be_visible(timeout=15_000)

        for url in (conversation_url, comparison_url):
            page.goto(url)
            wait_for_app(page)
            expect(bob.main().get_by_text("was not found")).to_be_visible(timeout=15_000)
            assert bob.main().get_by_text("Go to Zanzibar.").count() == 0
            assert bob.main().get_by_text("Voted a tie.").count() == 0
        bob.open("/shared")
        expect(bob.main().get_by_text("Nothing is shared with you yet.")).to_be_visible(timeout=15_000)
    finally:
        ann.context.close()
        bob.context.close()


SYSTEM = {  # one team preset per backend, each with its own system prompt
    "allenai": ("Ai2 brief", "olmo-3.1-32b-instruct", "Answer in one line."),
    "hailuo": ("Hailuo pirate", "minimax", "Talk like a pirate."),
    "huggingface": ("HF French", HF_MODEL, "Answer in French."),
    "huggingchat": ("HuggingChat haiku", "Qwen/Qwen2.5-72B-Instruct", "Answer in a haiku."),
}


def seen_by(backend: str, sim: Any) -> str:
    """The system prompt as the backend's server holds it, in its own terms."""
    last = sim.chat_requests()[-1]
    if backend in ("allenai", "hailuo"):
        return str(last.form["content" if backend == "allenai" else "msgContent"]).split("\n")[0]
    if backend == "huggingface":
        return str(last.json_body["messages"][0])
    created = [r for r in sim.chat_requests() if r.path.endswith("/conversation")][-1]
    (conversation,) = sim.conversations.values()
    return f"preprompt={created.json_body['preprompt']} root={conversation.messages[0].content}"


def test_an_admins_team_presets_start_chats_whose_system_prompt_each_backend_receives(
    app_server: AppServer, browser: Any, sims: dict[str, SimHandle], tmp_path: Path
) -> None:
    cat = Person(browser, app_server, "cat@example.com", "Cat")
    bob = Person(browser, app_server, "bob@example.com", "Bob")
    try:
        page = cat.open()  # the admin saves the Ai2 preset in the page; the others are stored the same way
        cat.sidebar().get_by_text("System prompt", exact=True).click()
        cat.sidebar().get_by_label("System prompt for the new chat").fill(SYSTEM["allenai"][2])
        cat.sidebar().get_by_text("Presets", exact=True).click()
        cat.sidebar().get_by_label("Preset name").fill(SYSTEM["allenai"][0])
        cat.sidebar().get_by_text("For the whole team").click()
        # The system prompt's rerun (its box lost the focus) is over before the form is sent: a submit that
        # reaches Streamlit while another run of the session is under way was seen lost once, on a loaded CI run.
        wait_for_app(page)
        cat.sidebar().get_by_role("button", name="Save as preset").click()
        expect(cat.sidebar().get_by_role("button", name=SYSTEM["allenai"][0])).to_be_visible(timeout=15_000)
        engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
        try:
            with session(engine) as s:
                admin = repo.get_or_create_user(s, "cat@example.com").id
                for backend in ("hailuo", "huggingface", "huggingchat"):
                    name, model, system = SYSTEM[backend]
                    presets.create(s, admin, name=name, provider=backend, model=model, system_prompt=system,
                                   team=True, is_admin=True)
        finally:
            engine.dispose()

        for backend, (name, _, system) in SYSTEM.items():
            page = bob.open()
            bob.sidebar().get_by_text("Presets", exact=True).click()
            sims[backend].sim.script.chunks = [f"{backend} ", "answers."]
            bob.sidebar().get_by_role("button", name=name).click()
            expect(bob.main().get_by_role("heading", name=name)).to_be_visible(timeout=15_000)
            send(page, "Hello")
            expect(bob.main().get_by_text(f"{backend} answers.")).to_be_visible(timeout=30_000)
            expected = {
                "allenai": f"System: {system}", "hailuo": f"System: {system}",
                "huggingface": str({"role": "system", "content": system}),
                "huggingchat": f"preprompt={system} root={system}",
            }[backend]
            assert seen_by(backend, sims[backend].sim) == expected
    finally:
        cat.context.close()
        bob.context.close()
