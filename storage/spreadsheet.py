"""CSV cells a spreadsheet will not run.

A CSV export carries text from outside (model ids a server lists, categories and names people type). A cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by Excel, LibreOffice and
Google Sheets (CSV injection), so such a cell is written with a leading apostrophe, which spreadsheets show as
text; :func:`unguard` takes it off again when Chatdeck reads its own file back.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard(value: object) -> object:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula gets a leading apostrophe.

    Numbers are left alone (a negative number is not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def unguard(value: str) -> str:
    """A cell as :func:`guard` wrote it, back to the text it guarded."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value
