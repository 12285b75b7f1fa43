r"""The chat and compare pages (AppTest) hand Streamlit math in its dollar notation, in every place an
answer is drawn: a stored answer and its reasoning, the user's own message, compare columns (streamed,
then drawn stored: what AppTest ends with); and the chat page loads the keyboard component with the
last answer. The live rendering is checked in chromium (tests/test_browser_math.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage import repository as repo
from storage.db import get_engine, session
from tests.sim_fixtures import SimHandle

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
ANSWER = "Euler: \\(e^{i\\pi} + 1 = 0\\) costs $5 and $10.\n\n\\[\na^2 + b^2 = c^2\n\\]"
DRAWN = ["Euler: $e^{i\\pi} + 1 = 0$ costs \\$5 and \\$10.", "$$\na^2 + b^2 = c^2\n$$"]


def _bodies(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.mark.usefixtures("pages_env")
def test_a_stored_answer_its_reasoning_and_the_prompt_are_drawn_with_math() -> None:
    with session(get_engine()) as s:
        owner = repo.local_user(s).id
        c = repo.create_conversation(s, owner, provider="allenai", model="olmo", title="Euler")
        repo.add_message(s, owner, c.id, role="user", content="What is \\(e^{i\\pi}\\)?")
        reply = repo.add_message(s, owner, c.id, role="assistant", content=ANSWER, provider="allenai", model="olmo")
        repo.update_message(s, reply.id, reasoning="Recall \\(\\cos\\pi = -1\\).", status="complete")
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["c"] = c.id
    at.run()
    assert not at.exception
    bodies = _bodies(at)
    for drawn in [*DRAWN, "What is $e^{i\\pi}$?", "Recall $\\cos\\pi = -1$."]:
        assert drawn in bodies, (drawn, bodies)
    [keys] = [e for e in at.get("component_instance") if "chatdeck_keys" in e.proto.component_name]
    assert json.loads(keys.proto.json_args)["last_answer"] == ANSWER  # Alt+C copies the answer as received


def test_compare_columns_draw_math(
    pages_env: None, allenai_sim: SimHandle, huggingface_sim: SimHandle
) -> None:
    for handle in (allenai_sim, huggingface_sim):
        handle.sim.script.chunks = ["Euler: \\(e^{i", "\\pi} + 1 = 0\\) costs $5 and $10.\n\n",
                                    "\\[\na^2 + b^2 = c^2\n\\]"]
    at = AppTest.from_string("from views import compare\ncompare.render()", default_timeout=30).run()
    at.selectbox(key="cmp_backend_0").select("allenai").run()
    at.selectbox(key="cmp_backend_1").select("huggingface").run()
    at.chat_input(key="compare_prompt").set_value("Euler?").run()  # streamed, then redrawn stored
    assert not at.exception
    assert _bodies(at).count(DRAWN[0]) == 2 and _bodies(at).count(DRAWN[1]) == 2
