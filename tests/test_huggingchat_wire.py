"""HuggingChat's wire formats with the protocol document's fixtures (tests/huggingchat_fixtures.json,
verbatim from web-backends.md §5.1.5-§5.1.6): message ids from ``__data.json``, stream lines, cookies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.errors import CredentialsError, ProviderError, UnavailableError, UnexpectedResponseError
from providers.events import Drift, Event, Image, ReasoningDelta, Sources, TextDelta, Title
from providers.huggingchat_wire import (
    ConversationGone,
    StreamParser,
    clean_url,
    data_json_message_id,
    parse_cookies,
)
from providers.lines import JsonLines
from simulators.huggingchat_wire import EMPTY_DATA_JSON, TAIL, SimConversation, data_json
from tests.sim_fixtures import run

FIXTURES = json.loads((Path(__file__).parent / "huggingchat_fixtures.json").read_text())
CONVERSATION = "67ed0c3f8a1b2c3d4e5f6a7b"


def parse(body: str) -> list[Event]:
    """A whole body through the provider's reader: JSON lines into the parser (unreadable ones as Drift)."""
    parser = StreamParser(file_url=lambda sha: f"https://huggingface.co/chat/conversation/{CONVERSATION}/output/{sha}")

    async def chunks() -> Any:
        data = body.encode()
        for i in range(0, len(data), 7):  # split anywhere, even inside a character
            yield data[i : i + 7]

    async def go() -> list[Event]:
        events: list[Event] = []
        async for _, line in JsonLines("HuggingChat").lines(chunks()):
            events += [line] if isinstance(line, Drift) else parser.feed(line)
            if parser.done:
                break
        return events

    return run(go())


def test_h1_padded_tokens_keep_alives_title_and_the_tail() -> None:
    events = parse(FIXTURES["H1"] + "\n" + TAIL)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", "!", " How can I help", " you today?"]
    assert [e.title for e in events if isinstance(e, Title)] == ["👋 Friendly greeting"]
    assert len(events) == 5


def test_h2_web_search_sources_and_reasoning() -> None:
    events = parse(FIXTURES["H2"] + "\n" + TAIL)
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    assert [(e.text, e.status) for e in reasoning] == [
        ("", "Started reasoning..."), ("The user asks", None), (" about Lyon.", None), ("", "Done in 2s.")
    ]
    (sources,) = [e for e in events if isinstance(e, Sources)]
    assert [(s.url, s.title) for s in sources.items] == [
        ("https://en.wikipedia.org/wiki/Lyon", "Lyon - Wikipedia"), ("https://www.insee.fr/fr/statistiques", "Insee")
    ]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Lyon has about 520,000 inhabitants."


def test_h3_a_generated_file_becomes_an_image_to_download() -> None:
    events = parse(FIXTURES["H3"])
    (image,) = [e for e in events if isinstance(e, Image)]
    assert image.url.endswith("/output/b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c")
    assert image.mime == "image/webp" and image.data is None


def test_h4_blank_and_non_json_lines_are_skipped_and_the_error_is_raised() -> None:
    with pytest.raises(UnavailableError, match="must be <= 32768"):
        parse(FIXTURES["H4"])


def test_h5_a_line_without_type_is_drift() -> None:
    with pytest.raises(UnexpectedResponseError, match="changed"):
        parse(FIXTURES["H5"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [("D1", "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"), ("D2", "c0ffee00-1234-4abc-8def-0123456789ab"),
     ("D4", "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")],
)
def test_data_json_gives_the_last_message_id(name: str, expected: str) -> None:
    assert data_json_message_id((FIXTURES[name] + "\n").encode()) == expected


def test_data_json_error_nodes() -> None:
    with pytest.raises(CredentialsError, match="another login"):
        data_json_message_id(FIXTURES["D3"].encode())
    with pytest.raises(ConversationGone, match="Conversation not found"):
        data_json_message_id(FIXTURES["D5"].encode())
    with pytest.raises(UnexpectedResponseError):
        data_json_message_id(b"<html>login</html>")


def test_empty_data_json_means_no_data_not_a_protocol_change() -> None:
    """Today's server answers nodes [null, null] for any id: after a v2 404 that means the conversation is gone."""
    with pytest.raises(ConversationGone):
        data_json_message_id(EMPTY_DATA_JSON.encode())


def test_the_simulators_data_json_reads_back() -> None:
    conversation = SimConversation.new(CONVERSATION, "s", "m")
    user = conversation.add("user", "", conversation.messages[0])  # "" is shared with the root's content
    reply = conversation.add("assistant", "Hi", user)
    assert data_json_message_id(data_json(conversation).encode()) == reply.id


@pytest.mark.parametrize(
    "pasted",
    [
        "hf-chat=abc; token=hf_x; _ga=1",
        "Cookie: hf-chat=abc; token=hf_x",
        '[{"name": "hf-chat", "value": "abc", "domain": "huggingface.co"},'
        ' {"name": "token", "value": "hf_x", "domain": ".huggingface.co"},'
        ' {"name": "token", "value": "stolen", "domain": "example.com"}]',
        '{"hf-chat": "abc", "token": "hf_x"}',
        "# Netscape HTTP Cookie File\n.huggingface.co\tTRUE\t/\tTRUE\t0\thf-chat\tabc\n"
        "#HttpOnly_huggingface.co\tFALSE\t/\tTRUE\t0\ttoken\thf_x\nexample.com\tFALSE\t/\tFALSE\t0\ttoken\tno\n",
    ],
    ids=["header", "header-with-name", "json-export", "json-object", "cookies-txt"],
)
def test_cookies_are_read_from_any_paste(pasted: str) -> None:
    cookies = parse_cookies(pasted)
    assert cookies["hf-chat"] == "abc" and cookies["token"] == "hf_x"


def test_unreadable_cookies_say_so() -> None:
    for pasted in ("[broken", "nothing here"):
        with pytest.raises(ValueError):
            parse_cookies(pasted)


def test_clean_url_strips_only_the_tracking_parameter() -> None:
    assert clean_url("https://a.example/p?x=1&utm_source=chat&y=2") == "https://a.example/p?x=1&y=2"
    assert clean_url("https://a.example/p") == "https://a.example/p"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["type", "token", "status", "subtype", "sources", "sha", "title",
                                                 "text", "model", "webSources", "message"]),
                                st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                                          st.sampled_from(["stream", "status", "reasoning", "webSearch", "file",
                                                           "finalAnswer", "title", "routerMetadata", "error"]),
                                          st.lists(st.dictionaries(st.sampled_from(["link", "uri", "title"]),
                                                                   st.text(max_size=10)), max_size=2)),
                                max_size=4), max_size=8))
def test_the_parser_only_ever_raises_provider_errors(lines: list[dict[str, Any]]) -> None:
    parser = StreamParser(file_url=lambda sha: sha)
    for line in lines:
        try:
            parser.feed(line)
        except ProviderError:
            return
