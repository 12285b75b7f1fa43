"""Deterministic answers for the benchmarks: realistic markdown, plain ASCII (so bytes == characters)."""

from __future__ import annotations

import random

SENTENCES = [
    "Streaming an answer means the reader sees the first words while the model is still writing the rest.",
    "Each chunk the backend sends is a few characters long, often a single word with its trailing space.",
    "The page keeps only the live part of the answer in motion, so finished paragraphs stay where they are.",
    "A durable run survives a reload: the reply keeps growing on the server and the page picks it up again.",
    "Latency matters most at the start, because a blank screen feels much longer than a slow typist.",
    "Bandwidth matters on long answers, where resending the whole text on every update grows quadratically.",
    "The simulator plays the backend, so every figure here comes from loopback traffic on one machine.",
    "Coalescing gathers the chunks that arrive within a short window into one update for the browser.",
    "Markdown is rendered on the client, which is why a block has to be complete before it can stand alone.",
    "Code fences need care: a blank line inside a fence does not end the block it belongs to.",
    "In practice the answer mixes short paragraphs, lists and the occasional snippet of code.",
    "Tests pin the behaviour; the benchmark only says how far the current code is from the targets.",
]

BULLETS = [
    "keep the **first token** fast",
    "send only the *live tail* of the answer",
    "save partial text on a timer",
    "wake readers when data arrives",
    "close the connection when the user stops",
    "mark cut-off replies as interrupted",
]

CODE = "```python\nfor event in provider.stream(request):\n    run.publish(event)\n```"


def markdown_answer(size: int = 7000, seed: int = 7) -> str:
    """About ``size`` characters of paragraphs, headings, lists and a code block, cut at ``size``.

    It opens with plain words (as answers do), so its first chunk shows as itself in the page.
    """
    rng = random.Random(seed)
    parts = [" ".join([SENTENCES[0], *rng.sample(SENTENCES[1:], 2)])]
    section = 0
    while sum(len(p) + 2 for p in parts) < size + 200:
        kind = len(parts) % 6
        if kind == 1:
            section += 1
            parts.append(f"## Part {section}: {rng.choice(BULLETS).replace('*', '').capitalize()}")
        elif kind == 4:
            parts.append("\n".join(f"- {b}" for b in rng.sample(BULLETS, 3)))
        elif kind == 0 and section % 2:
            parts.append(CODE)
        else:
            parts.append(" ".join(rng.sample(SENTENCES, rng.randint(3, 5))))
    text = "\n\n".join(parts)
    return text[: text.rfind(" ", 0, size)] + "."


def flat_answer(size: int = 7000, seed: int = 7) -> str:
    """The same kind of text with no line breaks at all: one paragraph, the worst case for block splitting."""
    text = " ".join(markdown_answer(size + 400, seed).replace("```", "").split())
    return text[: text.rfind(" ", 0, size)] + "."


def long_answer(words: int) -> list[str]:
    """``words`` word-sized chunks (with trailing space, a paragraph break every 60 words), like model tokens."""
    vocabulary = " ".join(SENTENCES).split()
    return [vocabulary[i % len(vocabulary)] + (" " if (i + 1) % 60 else "\n\n") for i in range(words)]
