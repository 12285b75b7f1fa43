"""A provider never reports its login in an error, even when the backend quotes it back.

Servers do echo what they were sent: an error quoting the rejected token, a proxy's debug page listing the
request. Those words become the error message (shown in the chat, on the Backends page, in exports) or the
snippet of an unknown answer; providers/errors.py removes the provider's own login values from both.
"""

from __future__ import annotations

import httpx
import pytest

from providers.errors import (
    REDACTED,
    HTTPStatusError,
    ProviderError,
    UnexpectedResponseError,
    redact_secrets,
    without_secrets,
)
from providers.events import Drift, Finished
from providers.registry import BACKENDS
from simulators.common import ForcedError
from simulators.hailuo import DEMO_TOKEN as HAILUO_TOKEN
from simulators.huggingchat import DEMO_SESSION
from simulators.openai_compat import SIM_TOKEN
from tests.sim_fixtures import ADAPTERS, SimHandle, collect, run
from tests.sim_hailuo import hailuo_provider
from tests.sim_huggingchat import provider as huggingchat_provider

LOGIN_BACKENDS = ["hailuo", "huggingchat", "huggingface"]


def test_every_backend_with_a_login_is_covered() -> None:
    assert sorted(name for name, info in BACKENDS.items() if info.credential_fields) == LOGIN_BACKENDS


def test_redact_secrets_removes_plain_and_url_encoded_forms() -> None:
    text = "token abc/def+ghi=jk, sent as abc%2Fdef%2Bghi%3Djk and abc%2Fdef%2Bghi%3Djk, cookie sess-0123456789"
    assert redact_secrets(text, ["abc/def+ghi=jk", " sess-0123456789 "]) == (
        f"token {REDACTED}, sent as {REDACTED} and {REDACTED}, cookie {REDACTED}")


def test_a_secret_containing_another_is_removed_whole_and_short_values_are_left() -> None:
    assert redact_secrets("key secret-1234-extended", ["secret-1234", "secret-1234-extended"]) == f"key {REDACTED}"
    assert redact_secrets("code 1 of GA1.1", ["1", "GA1.1", ""]) == "code 1 of GA1.1"


def test_without_secrets_cleans_message_snippet_and_server_message() -> None:
    status = without_secrets(HTTPStatusError(403, "bad token tok-0123456789", backend="X"), ["tok-0123456789"])
    assert str(status) == f"HTTP 403: bad token {REDACTED}" and status.args == (str(status),)
    assert status.server_message == f"bad token {REDACTED}" and status.status == 403
    drift = UnexpectedResponseError("X changed", snippet="<p>tok-0123456789</p>")
    assert without_secrets(drift, ["tok-0123456789"]).snippet == f"<p>{REDACTED}</p>"
    plain = ProviderError("nothing secret here")
    assert without_secrets(plain, []) is plain and str(plain) == "nothing secret here"


@pytest.mark.parametrize("backend", LOGIN_BACKENDS)
def test_a_streamed_error_that_quotes_the_login_does_not_carry_it(
    backend: str, request: pytest.FixtureRequest
) -> None:
    adapter = ADAPTERS[backend]
    handle: SimHandle = request.getfixturevalue(adapter.sim_fixture)
    provider = adapter.make_provider(handle.url, None)
    secrets = provider.secrets  # type: ignore[attr-defined]
    assert secrets, f"{backend} names no login values"
    adapter.script_http_error(handle.sim, 400, "you sent " + " and ".join(secrets))
    final = run(collect(provider.stream(adapter.request())))[-1]
    assert isinstance(final, Finished) and final.reason == "error"
    assert "you sent" in str(final.error) and REDACTED in str(final.error)
    assert not [s for s in secrets if s in str(final.error)], str(final.error)


def test_an_unknown_answer_quoting_the_token_leaves_it_out_of_the_snippet(huggingface_sim: SimHandle) -> None:
    huggingface_sim.sim.script.http_error = ForcedError(
        200, body=f"<html><p>Signed in with {SIM_TOKEN}</p></html>", content_type="text/html")
    provider = ADAPTERS["huggingface"].make_provider(huggingface_sim.url, None)
    final = run(collect(provider.stream(ADAPTERS["huggingface"].request())))[-1]
    assert isinstance(final, Finished) and final.error is not None and final.error.kind == "unexpected_response"
    assert final.error.snippet == f"<html><p>Signed in with {REDACTED}</p></html>"


def test_an_unreadable_line_quoting_the_token_leaves_it_out_of_the_drift_snippet(huggingface_sim: SimHandle) -> None:
    huggingface_sim.sim.script.garbled_after, huggingface_sim.sim.script.garbled = 1, f"{{oops {SIM_TOKEN}".encode()
    provider = ADAPTERS["huggingface"].make_provider(huggingface_sim.url, None)
    drifts = [e for e in run(collect(provider.stream(ADAPTERS["huggingface"].request()))) if isinstance(e, Drift)]
    assert drifts == [Drift("a line that is not JSON", f"{{oops {REDACTED}")]


def test_a_model_list_error_quoting_the_token_does_not_carry_it(huggingface_sim: SimHandle) -> None:
    huggingface_sim.sim.script.models_error = ForcedError(500, f"token {SIM_TOKEN} is over quota")

    async def models() -> None:
        async with httpx.AsyncClient() as client:
            await ADAPTERS["huggingface"].make_provider(huggingface_sim.url, client).list_models()

    with pytest.raises(HTTPStatusError) as raised:
        run(models())
    assert str(raised.value) == f"HTTP 500: token {REDACTED} is over quota"


def test_huggingchat_model_list_error_quoting_the_session_does_not_carry_it(huggingchat_sim: SimHandle) -> None:
    huggingchat_sim.sim.script.models_error = ForcedError(500, f"session {DEMO_SESSION} is broken")
    with pytest.raises(ProviderError) as raised:
        run(huggingchat_provider(huggingchat_sim).list_models())
    assert DEMO_SESSION not in str(raised.value) and f"session {REDACTED} is broken" in str(raised.value)


def test_hailuo_check_quoting_the_token_does_not_carry_it(hailuo_sim: SimHandle) -> None:
    hailuo_sim.sim.script.http_error = ForcedError(401, f"token {HAILUO_TOKEN} is not valid")
    with pytest.raises(ProviderError) as raised:
        run(hailuo_provider(hailuo_sim.url).check())
    assert HAILUO_TOKEN not in str(raised.value) and f"token {REDACTED} is not valid" in str(raised.value)
