"""Reading a ChatGPT data export's ``conversations.json`` (Settings → Data controls → Export data).

The file is a list of conversations. Each holds a ``mapping`` of nodes (``{id: {message, parent, children}}``):
a tree, because every edit or regeneration starts a branch. The conversation as last seen is the path from
``current_node`` back to the root; only that path is imported. A message has ``author.role`` and
``content.parts`` (text, or objects for images and files, which become a placeholder).

Each conversation gets a stable Chatdeck id derived from its ChatGPT id and the importing user, so importing
the same file twice adds nothing, and two users importing the same file do not collide.
"""

from __future__ import annotations

import uuid
from typing import Any

from storage.import_records import (
    MAX_CONVERSATIONS,
    MAX_MESSAGES_PER_CONVERSATION,
    MAX_TEXT_CHARS,
    ImportProblem,
    NewConversation,
    NewMessage,
    check_counts,
    text,
    timestamp,
)

PROVIDER = "chatgpt"
NAMESPACE = uuid.UUID("5f0c6d55-6a4e-4a53-9a0e-2c1e5e7b9c11")  # fixed forever: ids derive from it
ROLES = {"user": "user", "assistant": "assistant"}  # system and tool messages are ChatGPT's internals
MAX_NODES = 4 * MAX_MESSAGES_PER_CONVERSATION  # a path longer than this is not a real conversation


def conversation_id(owner_id: int, chatgpt_id: str) -> str:
    """The Chatdeck id of a ChatGPT conversation imported by ``owner_id``."""
    return uuid.uuid5(NAMESPACE, f"{owner_id}:{chatgpt_id}").hex


def parse(document: list[Any], owner_id: int) -> list[NewConversation]:
    if len(document) > MAX_CONVERSATIONS:
        raise ImportProblem(f"The file holds {len(document)} conversations; at most {MAX_CONVERSATIONS} at once.")
    conversations = []
    total = 0
    for index, record in enumerate(document):
        where = f"ChatGPT conversation {index + 1}"
        if not isinstance(record, dict):
            raise ImportProblem(f"{where} is not an object.")
        chatgpt_id = record.get("conversation_id") or record.get("id")
        if not isinstance(chatgpt_id, str) or not 0 < len(chatgpt_id) <= 100:
            raise ImportProblem(f"{where} has no id.")
        messages = _path(record, where)
        total += len(messages)
        check_counts(len(messages), total, where)
        created = timestamp(record.get("create_time"), where)
        updated = timestamp(record.get("update_time"), where) if record.get("update_time") is not None else created
        model = next((m.model for m in reversed(messages) if m.model), None) or "chatgpt"
        conversations.append(
            NewConversation(
                id=conversation_id(owner_id, chatgpt_id), title=text(record.get("title"), where, "title")[:500],
                provider=PROVIDER, model=model, created_at=created, updated_at=updated, messages=messages,
            )
        )
    return conversations


def _path(record: dict[str, Any], where: str) -> list[NewMessage]:
    """The messages from the root to ``current_node``, oldest first."""
    mapping = record.get("mapping")
    if not isinstance(mapping, dict):
        raise ImportProblem(f'{where}: "mapping" must be an object of nodes.')
    node_id = record.get("current_node")
    if node_id is None and mapping:  # very old exports: the last node
        node_id = next(reversed(mapping))
    nodes = []
    seen: set[str] = set()
    while node_id is not None:
        if not isinstance(node_id, str) or node_id not in mapping:
            raise ImportProblem(f"{where}: a node points to {str(node_id)[:40]!r}, which is not in its mapping.")
        if node_id in seen or len(seen) >= MAX_NODES:
            raise ImportProblem(f"{where}: its nodes form a loop or a path that is too long.")
        seen.add(node_id)
        node = mapping[node_id]
        if not isinstance(node, dict):
            raise ImportProblem(f"{where}: node {node_id[:40]!r} is not an object.")
        nodes.append(node)
        node_id = node.get("parent")
    messages = [m for m in (_message(node, where) for node in reversed(nodes)) if m is not None]
    return messages


def _message(node: dict[str, Any], where: str) -> NewMessage | None:
    message = node.get("message")
    if message is None:
        return None
    if not isinstance(message, dict):
        raise ImportProblem(f"{where}: a node's message is not an object.")
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    if not isinstance(role, str):
        raise ImportProblem(f"{where}: a message has no author role.")
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    if role not in ROLES or metadata.get("is_visually_hidden_from_conversation"):
        return None
    content = _text(message.get("content"), where)
    if not content.strip():
        return None
    created = message.get("create_time")
    model = metadata.get("model_slug")
    return NewMessage(
        role=ROLES[role], content=content,
        created_at=timestamp(created, where) if created is not None else timestamp(0, where),
        provider=PROVIDER if role == "assistant" else None,
        model=model[:255] if isinstance(model, str) and role == "assistant" else None,
    )


def _text(content: Any, where: str) -> str:
    if not isinstance(content, dict):
        raise ImportProblem(f'{where}: a message\'s "content" is not an object.')
    kind = content.get("content_type")
    if kind == "code" or kind == "execution_output":
        return text(content.get("text", ""), where, "text", MAX_TEXT_CHARS)
    parts = content.get("parts", [])
    if not isinstance(parts, list):
        raise ImportProblem(f'{where}: a message\'s "content.parts" is not a list.')
    if kind not in (None, "text", "multimodal_text"):
        return ""  # thoughts, tool calls and the like: not part of the visible conversation
    pieces = []
    for part in parts[:1000]:
        if isinstance(part, str):
            pieces.append(part)
        elif isinstance(part, dict):
            pieces.append("[image]" if "image" in str(part.get("content_type", "")) else "[attachment]")
        else:
            raise ImportProblem(f"{where}: a message part is neither text nor an object.")
    joined = "\n".join(pieces)
    if len(joined) > MAX_TEXT_CHARS:
        raise ImportProblem(f"{where}: a message is longer than {MAX_TEXT_CHARS} characters.")
    return joined.replace("\x00", "")
