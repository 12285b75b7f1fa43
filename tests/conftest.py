"""Shared fixtures live in plugin modules beside this file, one per concern."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests must never reach a real backend: any base URL a test forgets to set points nowhere.
for _name in ("CHATDECK_ALLENAI_URL", "CHATDECK_HUGGINGCHAT_URL", "CHATDECK_HAILUO_URL", "CHATDECK_HF_URL"):
    os.environ[_name] = "http://127.0.0.1:9"
# The OpenAI-compatible simulator stands for Hugging Face's router (its name, login and help) wherever it
# listens; tests of other OpenAI-compatible servers set CHATDECK_HF_KIND to "auto" or "openai".
os.environ["CHATDECK_HF_KIND"] = "huggingface"

pytest_plugins = [
    "tests.db_fixtures", "tests.sim_fixtures", "tests.browser_fixtures", "tests.sim_huggingface",
    "tests.sim_huggingchat", "tests.sim_hailuo", "tests.page_fixtures", "tests.scripted",
]
