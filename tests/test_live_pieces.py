"""Cutting a live block into pieces (markup/live_pieces.py): the text survives, resends stay bounded, no span is cut."""

import random

from bench.texts import flat_answer, markdown_answer
from markup.live_pieces import CUT, HOLD_MAX, PIECE_SIZE, PieceCutter, can_cut, spans_closed
from views.live_text import BlockSplitter


def pieces_of(text: str, sizes: list[int]) -> list[str]:
    """Feed ``text`` to a cutter in chunks of the given sizes (cycled); the pieces it draws."""
    cutter, pieces, at, index = PieceCutter(), [""], 0, 0
    while at < len(text):
        size = sizes[index % len(sizes)]
        for part in cutter.feed(text[at : at + size]):
            if part is CUT:
                pieces.append("")
            else:
                pieces[-1] += part
        at, index = at + size, index + 1
    pieces[-1] += cutter.flush()
    return pieces


def test_pieces_joined_give_the_text_exactly() -> None:
    rng = random.Random(3)
    for text in (flat_answer(), markdown_answer(), "word " * 500, "x" * 900):
        for sizes in ([1], [7], [64], [rng.randint(1, 200) for _ in range(50)]):
            assert "".join(pieces_of(text, sizes)) == text


def test_a_long_paragraph_is_cut_so_each_resend_is_bounded() -> None:
    text = flat_answer(20_000)  # one paragraph, no line break
    for update in (7, 60, 300):  # characters arriving between two updates
        pieces = pieces_of(text, [update])
        assert len(pieces) > len(text) // (PIECE_SIZE + update + HOLD_MAX)
        # a piece is redrawn whole on each update: bounded whatever the paragraph's length
        assert max(len(p) for p in pieces) <= PIECE_SIZE + 2 * update + HOLD_MAX, max(len(p) for p in pieces)


def test_without_cuts_a_long_paragraph_would_be_resent_whole() -> None:
    """What the pieces save: the bytes of redrawing the live element at each update, with and without."""
    text, update = flat_answer(7000), 60

    def resent(pieces: list[str]) -> int:
        total = 0
        for piece in pieces:
            total += sum(min(len(piece), end) for end in range(update, len(piece) + update, update))
        return total

    assert resent(pieces_of(text, [update])) < 3 * len(text) < resent([text]) / 10


def test_every_cut_falls_between_words_of_a_plain_paragraph_with_its_spans_closed() -> None:
    text = (
        "Intro with `inline code spanning words` and math $a + b = c$ inline, then **bold words** and "
        "a [link with words](https://example.org/a_b) and ~~struck text~~ and snake_case names. " * 30
    )
    pieces = pieces_of(text, [5, 11, 60])
    assert len(pieces) > 10
    done = ""
    for piece in pieces[:-1]:
        done += piece
        assert done.endswith(" ") and text[len(done)].isalpha()
        assert done.count("`") % 2 == 0 and done.count("$") % 2 == 0 and done.count("**") % 2 == 0
        assert done.count("[") == done.count("]") and done.count("~~") % 2 == 0


def test_math_is_never_cut() -> None:
    formula = "$" + " + ".join(f"x_{i}" for i in range(60)) + "$"
    text = ("Sum it up: " + formula + " and then go on with words. ") * 10
    done = ""
    for piece in pieces_of(text, [3, 50]):
        done += piece
        assert done.count("$") % 2 == 0, piece


def test_no_cut_inside_code_fences_lists_headings_tables_or_quotes() -> None:
    prose = "These are plain words in a sentence that goes on. " * 8
    for text in (
        "Intro.\n\n```python\n# " + prose + "\n\n" + prose + "\n```",
        "- " + prose,
        "1. " + prose,
        "## " + prose,
        "> " + prose,
        "| a | b |\n|---|---|\n| " + prose + " | x |",
        "Text before\n" + prose,  # a line break before the cut: a list or heading may follow
    ):
        # the block as the live splitter produces it (code fences keep their blank lines inside one block)
        blocks = [b for b in BlockSplitter().feed(text) if b is not None]
        assert "".join(blocks) == text
        assert pieces_of(text, [20]) == [text], text[:20]


def test_can_cut_needs_a_letter_after_a_space() -> None:
    text = "One sentence here. Another one; 2 more. -dash *star"
    assert can_cut(text, text.index("Another"))
    assert not can_cut(text, text.index("2 more"))
    assert not can_cut(text, text.index("-dash"))
    assert not can_cut(text, text.index("*star"))
    assert not can_cut(text, text.index("entence"))  # inside a word


def test_spans_closed_counts_conservatively() -> None:
    assert spans_closed("plain words, snake_case and $x$ and `a b` and **b** ")
    assert not spans_closed("open $x + ")
    assert not spans_closed("open `code ")
    assert not spans_closed("open **bold ")
    assert not spans_closed("open _emphasis ")
    assert not spans_closed("a [link text ")
    assert not spans_closed("a [link](http://x ")
    assert spans_closed("an escaped \\$ sign and \\* star ")


def test_the_chat_page_reader_cuts_a_streaming_paragraph_and_loses_nothing() -> None:
    """live_text(pieces=True), as render_live draws it: pieces between updates, the text whole; without, none."""
    import threading
    import time

    from providers.events import Finished, TextDelta
    from runner.run import Run
    from views import live_text

    text = flat_answer(4000)
    for pieces in (True, False):
        run = Run(1, "c", 1, "allenai", "m")

        def publish(run: Run = run) -> None:
            for at in range(0, len(text), 40):
                run.publish(TextDelta(text[at : at + 40]))
                time.sleep(0.01)
            run.publish(Finished("stop"))

        writer = threading.Thread(target=publish)
        writer.start()
        chunks = list(live_text.live_text(run, None, pieces=pieces))
        writer.join()
        drawn = [c for c in chunks if isinstance(c, str)]
        cuts = [c for c in chunks if c is live_text.next_piece]
        assert "".join(drawn) == text
        assert (len(cuts) > 3) if pieces else not cuts


def test_a_word_held_back_for_a_cut_shows_when_the_backend_pauses() -> None:
    import threading
    import time

    from providers.events import Finished, TextDelta
    from runner.run import Run
    from views import live_text

    run = Run(1, "c", 1, "allenai", "m")
    first = "A first sentence that is long enough to be cut after it, and then a half wor"
    run.publish(TextDelta(first))
    reader = live_text.live_text(run, None, pieces=True)
    shown = next(reader)
    assert first.startswith(shown) and shown != first  # "wor" held back: the next update may start a piece
    finish = threading.Timer(1.0, lambda: (run.publish(TextDelta("d.")), run.publish(Finished("stop"))))
    finish.start()
    started = time.monotonic()
    held = next(reader)
    assert held == first[len(shown):] and time.monotonic() - started < 0.9  # shown in the pause, not after it
    finish.join()
    assert "".join(c for c in reader if isinstance(c, str)) == "d."
