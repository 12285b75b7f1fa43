"""views.callbacks.ignoring_result: the wrapped action runs with the widget's args and kwargs; the result is
dropped (Streamlit callbacks return None)."""

import pytest

from views.callbacks import ignoring_result


def test_the_action_runs_with_the_arguments_and_its_result_is_dropped() -> None:
    calls: list[tuple[int, str, bool]] = []

    def delete(user: int, item: str, *, is_admin: bool) -> bool:
        calls.append((user, item, is_admin))
        return True

    callback = ignoring_result(delete)
    assert callback(7, "p1", is_admin=True) is None
    assert calls == [(7, "p1", True)]


def test_an_exception_of_the_action_is_not_swallowed() -> None:
    def refuse() -> bool:
        raise PermissionError("not yours")

    with pytest.raises(PermissionError, match="not yours"):
        ignoring_result(refuse)()
