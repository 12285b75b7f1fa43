"""Script runs take turns to draw (services/draw_turns.py): a bound, hand-over order, and loans while waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from runner import metrics
from services.draw_turns import DrawTurns

JOIN = 10.0  # seconds: only a deadlock would take this long


def _start(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def _wait_queued(turns: DrawTurns, n: int) -> None:
    """Until ``n`` threads wait for a turn (each registers itself before it blocks)."""
    deadline = time.monotonic() + JOIN
    while turns.queued < n:
        assert time.monotonic() < deadline, f"{turns.queued} threads wait for a turn, not {n}"
        time.sleep(0.001)


def _holding(turns: DrawTurns, inside: threading.Event, release: threading.Event) -> Callable[[], None]:
    """A run that holds its turn until ``release``."""
    def body() -> None:
        with turns.turn():
            inside.set()
            release.wait(JOIN)
    return body


def _drawing(turns: DrawTurns, order: list[str], name: str, later: bool = False) -> Callable[[], None]:
    """A run that notes its ``name`` once it has a turn (``later``: a redraw of finished replies)."""
    def body() -> None:
        with turns.turn(later=later):
            order.append(name)
    return body


def _live(turns: DrawTurns, order: list[str], name: str, first: bool, lent: threading.Event,
          back: threading.Event) -> Callable[[], None]:
    """A live reply: draws, lends its turn while it waits for text (``first``: its first), takes one back."""
    def body() -> None:
        with turns.turn():
            with turns.waiting(first=first):
                lent.set()
                back.wait(JOIN)
            order.append(name)
    return body


def test_no_more_runs_than_turns_draw_at_once_and_every_run_gets_its_turn() -> None:
    turns, inside, most = DrawTurns(2), [0], [0]
    lock, go, full = threading.Lock(), threading.Event(), threading.Event()

    def run() -> None:
        go.wait()
        with turns.turn():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                if inside[0] == 2:
                    full.set()
            full.wait(JOIN)  # the first run holds its turn until a second one is inside too; the rest pile up
            with lock:
                inside[0] -= 1

    threads = [_start(run) for _ in range(12)]
    go.set()
    for thread in threads:
        thread.join(JOIN)
    assert not any(t.is_alive() for t in threads)
    assert most[0] == 2 and inside[0] == 0 and turns.queued == 0


def test_a_freed_turn_goes_to_a_first_text_then_to_runs_in_arrival_order_then_to_live_updates() -> None:
    turns, order = DrawTurns(1, patience=60), []
    holder_in, holder_out = threading.Event(), threading.Event()
    events = [threading.Event() for _ in range(4)]
    first_text = _start(_live(turns, order, "first text", True, events[0], events[1]))  # waits for its first text
    events[0].wait(JOIN)
    update = _start(_live(turns, order, "live update", False, events[2], events[3]))  # shows text, waits for more
    events[2].wait(JOIN)
    held = _start(_holding(turns, holder_in, holder_out))  # gets the turn both lent out
    holder_in.wait(JOIN)
    a = _start(_drawing(turns, order, "run A"))
    _wait_queued(turns, 1)
    b = _start(_drawing(turns, order, "run B"))
    _wait_queued(turns, 2)
    events[3].set()  # more text for the reply on screen: it queues behind A and B and stays there
    _wait_queued(turns, 3)
    events[1].set()  # the other reply's first text: it queues last, yet goes first
    _wait_queued(turns, 4)
    holder_out.set()
    for thread in (first_text, update, held, a, b):
        thread.join(JOIN)
    assert order == ["first text", "run A", "run B", "live update"]


def test_a_turn_is_given_back_when_the_run_fails_and_nesting_takes_no_second_turn() -> None:
    turns = DrawTurns(1)

    def nested() -> None:
        with turns.turn(), turns.turn():  # a nested turn (the same thread) must not wait for itself
            raise RuntimeError("a rerun or an error leaves the block")

    with pytest.raises(RuntimeError):
        nested()
    done = threading.Event()
    _start(lambda: (turns.turn().__enter__(), done.set()))  # another thread can take the one turn now
    assert done.wait(JOIN)


def test_waiting_outside_a_turn_lends_nothing() -> None:
    turns, ran = DrawTurns(1), []
    with turns.waiting():  # a thread that never took a turn (a callback, a fragment thread)
        ran.append("the block")
    assert ran == ["the block"]
    entered = threading.Event()
    with turns.turn():  # the one turn: had waiting() given back a turn it never held, there would be two
        other = _start(lambda: (turns.turn().__enter__(), entered.set()))
        _wait_queued(turns, 1)
        assert not entered.is_set()
    assert entered.wait(JOIN)  # handed on when this thread's turn ended
    other.join(JOIN)


def test_runs_that_waited_are_counted_in_the_metrics() -> None:
    turns = DrawTurns(1)
    before = metrics.DRAW_WAIT.count()
    inside, release = threading.Event(), threading.Event()
    first = _start(_holding(turns, inside, release))
    inside.wait(JOIN)
    second = _start(lambda: turns.turn().__enter__())
    _wait_queued(turns, 1)
    assert "chatdeck_draw_queued 1" in metrics.render()
    release.set()
    first.join(JOIN)
    second.join(JOIN)
    assert metrics.DRAW_WAIT.count() == before + 1
    assert "chatdeck_draw_queued 0" in metrics.render()


def test_a_redraw_of_finished_replies_waits_until_no_other_run_wants_a_turn() -> None:
    turns, order = DrawTurns(1, patience=60), []
    holder_in, holder_out, lent, back = threading.Event(), threading.Event(), threading.Event(), threading.Event()
    updating = _start(_live(turns, order, "live update", False, lent, back))
    lent.wait(JOIN)
    held = _start(_holding(turns, holder_in, holder_out))
    holder_in.wait(JOIN)
    redraw = _start(_drawing(turns, order, "redraw", later=True))  # queued first...
    _wait_queued(turns, 1)
    back.set()
    _wait_queued(turns, 2)
    send = _start(_drawing(turns, order, "send"))
    _wait_queued(turns, 3)
    holder_out.set()
    for thread in (updating, held, redraw, send):
        thread.join(JOIN)
    assert order == ["send", "live update", "redraw"]  # ...drawn last


def test_an_update_or_redraw_that_waited_its_patience_goes_before_sends_but_never_before_a_first_text() -> None:
    turns, order = DrawTurns(1, patience=0.2), []
    holder_in, holder_out = threading.Event(), threading.Event()
    first_lent, first_back = threading.Event(), threading.Event()
    first_text = _start(_live(turns, order, "first text", True, first_lent, first_back))
    first_lent.wait(JOIN)
    held = _start(_holding(turns, holder_in, holder_out))
    holder_in.wait(JOIN)
    early_send = _start(_drawing(turns, order, "early send"))  # waits as long as the redraw: not promoted
    _wait_queued(turns, 1)
    redraw = _start(_drawing(turns, order, "redraw", later=True))
    _wait_queued(turns, 2)
    time.sleep(0.3)  # the send and the redraw have both waited longer than the patience
    send = _start(_drawing(turns, order, "send"))
    _wait_queued(turns, 3)
    first_back.set()  # a reply's first text, just now
    _wait_queued(turns, 4)
    holder_out.set()
    for thread in (first_text, held, early_send, redraw, send):
        thread.join(JOIN)
    # the first text first; then the redraw, overdue; then the sends in their order
    assert order == ["first text", "redraw", "early send", "send"]
