"""A process-wide memory for pure text transforms, so a rerun does not redo them for every stored message.

Every rerun of the chat page redraws up to 50 stored messages, and each one's text goes through the same
pure transforms (cut into blocks, math notation, safe markdown): about 0.3 ms for a 13 KB answer, the same
result every time. The result depends on the text alone, so it is shared by every session (it holds
nothing that one user could see and another could not: the same text gives the same markup), bounded by
the characters it holds, the least recently drawn dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

BUDGET = 8_000_000  # characters held (texts and results), about 16-32 MB
LARGEST_SHARE = 8  # a text larger than 1/8 of the budget is transformed every time instead


class TextCache:
    """``cache(text)`` is ``transform(text)``, remembered for the texts drawn most recently."""

    def __init__(self, transform: Callable[[str], Sequence[str]], budget: int = BUDGET) -> None:
        self._transform = transform
        self._budget = budget
        self._items: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # script threads of every session share it

    def __call__(self, text: str) -> tuple[str, ...]:
        with self._lock:
            hit = self._items.get(text)
            if hit is not None:
                self._items.move_to_end(text)
                return hit
        value = tuple(self._transform(text))
        size = len(text) + sum(map(len, value))
        if size * LARGEST_SHARE > self._budget:
            return value
        with self._lock:
            if text not in self._items:
                self._items[text] = value
                self._size += size
            while self._size > self._budget:
                old, old_value = self._items.popitem(last=False)
                self._size -= len(old) + sum(map(len, old_value))
        return value

    def __len__(self) -> int:
        return len(self._items)
