"""Splitting a streamed answer into blocks that render on their own."""

from views.live_text import BlockSplitter


def join(pieces: list[str | None]) -> list[str]:
    """Rebuild the blocks from the splitter's output (None closes a block)."""
    blocks, current = [], ""
    for piece in pieces:
        if piece is None:
            blocks.append(current)
            current = ""
        else:
            current += piece
    return [*blocks, current]


def test_blank_line_closes_a_block_once_it_is_big_enough() -> None:
    splitter = BlockSplitter(min_size=10)
    out = splitter.feed("short\n\nA longer first paragraph.\n\nNext")
    # "short" alone is under the minimum, so the first block runs to the second blank line.
    assert join(out) == ["short\n\nA longer first paragraph.\n\n", "Next"]


def test_boundary_split_across_chunks() -> None:
    splitter = BlockSplitter(min_size=5)
    pieces = splitter.feed("Hello world\n") + splitter.feed("\nSecond")
    assert join(pieces) == ["Hello world\n\n", "Second"]


def test_no_split_inside_a_code_fence() -> None:
    splitter = BlockSplitter(min_size=5)
    text = "Intro text\n\n```python\nx = 1\n\ny = 2\n```\n\nAfter"
    pieces = []
    for char in text:  # worst case: one character at a time
        pieces += splitter.feed(char)
    blocks = join(pieces)
    assert "".join(blocks) == text
    assert any("x = 1\n\ny = 2" in b for b in blocks), blocks
    assert blocks[-1] == "After"


def test_text_without_blank_lines_stays_one_block() -> None:
    splitter = BlockSplitter(min_size=5)
    assert join(splitter.feed("one line\nanother line")) == ["one line\nanother line"]


def test_live_readers_are_counted_while_they_stream() -> None:
    """The count that stretches the coalescing pause when many replies stream at once (views/live_text.py)."""
    from providers.events import Finished, TextDelta
    from runner.run import Run
    from views import live_text

    run = Run(1, "c", 1, "allenai", "m")
    run.publish(TextDelta("Hello there"))
    run.publish(Finished("stop"))
    before = live_text._live_readers.count
    reader = live_text.live_text(run, None)
    assert next(reader) == "Hello there"
    assert live_text._live_readers.count == before + 1
    assert list(reader) == []
    assert live_text._live_readers.count == before
