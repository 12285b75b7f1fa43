"""Export a user's conversations (Markdown, JSON) and import them back, or from a ChatGPT export.

The JSON format (``"format": "chatdeck.conversations"``, version 1) keeps every conversation's id, so an
import is idempotent: conversations the user already has are skipped. A file is checked completely before
anything is written, and everything is written in the caller's one transaction: a file that is malformed,
too big, or names another user's conversation raises :class:`ImportProblem` and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from imaging import intake
from markup.math_markdown import export_markdown  # pure text functions: no Streamlit
from storage import chatgpt
from storage.import_records import (
    MAX_CONVERSATIONS,
    MAX_TEXT_CHARS,
    ImportProblem,
    NewConversation,
    NewMessage,
    check_counts,
    text,
    timestamp,
)
from storage.models import ROLES, STATUSES, Conversation, Message, utcnow
from storage.repository import TITLE_MAX_CHARS, encode_attachment, is_conversation_id

FORMAT = "chatdeck.conversations"
VERSION = 1
MAX_IMPORT_BYTES = 50 * 1024 * 1024
EXPORT_BATCH = 100  # conversations per query when exporting everything
# Message.extra keys written by the runner for its own use (backend ids): not exported, not imported.
PRIVATE_EXTRA = frozenset({"backend_state", "state_before"})


@dataclass(frozen=True)
class ImportResult:
    imported: int  # conversations added
    skipped: int  # conversations already there (imported before)
    messages: int  # messages added
    images_missing: int = 0  # attachments of the added messages kept as placeholders (see _image_attachment)


# --- export -----------------------------------------------------------------------------------------


def conversation_json(s: Session, owner_id: int, conversation_id: str, *, reasoning: bool = True) -> bytes | None:
    """One conversation as a Chatdeck JSON file (importable), or ``None`` if it is not the owner's."""
    conversation = _owned(s, owner_id, conversation_id)
    if conversation is None:
        return None
    return _document([_record(conversation, _messages(s, [conversation.id])[conversation.id], reasoning)])


def all_conversations_json(s: Session, owner_id: int) -> bytes:
    """Every conversation of the owner (archived ones too) as one Chatdeck JSON file, oldest first."""
    return _document(list(_all_records(s, owner_id)))


def conversation_markdown(s: Session, owner_id: int, conversation_id: str, *, reasoning: bool = False) -> str | None:
    """One conversation as Markdown (reasoning in a collapsible block if asked), or ``None`` if not found.

    The JSON export keeps every text as received; here math is written in dollars (see markup/math_markdown.py).
    """
    conversation = _owned(s, owner_id, conversation_id)
    if conversation is None:
        return None
    lines = [f"# {conversation.title or 'Untitled'}", "",
             f"*{conversation.provider} · {conversation.model} · started {conversation.created_at:%Y-%m-%d %H:%M} UTC*",
             ""]
    for message in _messages(s, [conversation.id])[conversation.id]:
        who = "You" if message.role == "user" else message.role.capitalize()
        if message.role == "assistant" and message.model:
            who += f" · {message.model}"
        lines += [f"## {who}", "", f"*{message.created_at:%Y-%m-%d %H:%M} UTC*", ""]
        if reasoning and message.reasoning:
            lines += ["<details><summary>Reasoning</summary>", "", export_markdown(message.reasoning), "",
                      "</details>", ""]
        lines += [export_markdown(message.content), ""]  # \(…\) and \[…\] as the $ math most viewers render
        if message.error:
            lines += [f"> {message.error}", ""]
    return "\n".join(lines)


def _all_records(s: Session, owner_id: int) -> Iterator[dict[str, Any]]:
    after: tuple[datetime, str] | None = None
    while True:  # keyset pages of EXPORT_BATCH conversations: each query is bounded
        query = select(Conversation).where(Conversation.owner_id == owner_id)
        if after is not None:
            later = (Conversation.created_at == after[0]) & (Conversation.id > after[1])
            query = query.where((Conversation.created_at > after[0]) | later)
        batch = list(s.scalars(query.order_by(Conversation.created_at, Conversation.id).limit(EXPORT_BATCH)))
        if not batch:
            return
        messages = _messages(s, [c.id for c in batch])
        for conversation in batch:
            yield _record(conversation, messages[conversation.id], True)
        after = (batch[-1].created_at, batch[-1].id)


def _owned(s: Session, owner_id: int, conversation_id: str) -> Conversation | None:
    if not is_conversation_id(conversation_id):
        return None
    return s.scalar(select(Conversation).where(Conversation.id == conversation_id, Conversation.owner_id == owner_id))


def _messages(s: Session, conversation_ids: list[str]) -> dict[str, list[Message]]:
    found: dict[str, list[Message]] = {c: [] for c in conversation_ids}
    for message in s.scalars(select(Message).where(Message.conversation_id.in_(conversation_ids)).order_by(Message.id)):
        found[message.conversation_id].append(message)
    return found


def _record(conversation: Conversation, messages: list[Message], reasoning: bool) -> dict[str, Any]:
    return {
        "id": conversation.id, "title": conversation.title, "provider": conversation.provider,
        "model": conversation.model, "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(), "pinned": conversation.pinned,
        "archived": conversation.archived, "system_prompt": conversation.system_prompt,
        "messages": [
            {
                "role": m.role, "content": m.content, "created_at": m.created_at.isoformat(),
                "provider": m.provider, "model": m.model, "status": m.status, "finish_reason": m.finish_reason,
                "error": m.error, "extra": {k: v for k, v in (m.extra or {}).items() if k not in PRIVATE_EXTRA},
                "attachments": m.attachments or [],
            } | ({"reasoning": m.reasoning} if reasoning and m.reasoning else {})
            for m in messages
        ],
    }


def _document(records: list[dict[str, Any]]) -> bytes:
    document = {"format": FORMAT, "version": VERSION, "exported_at": utcnow().isoformat(), "conversations": records}
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


# --- import -----------------------------------------------------------------------------------------


def import_file(s: Session, owner_id: int, data: bytes) -> ImportResult:
    """Import a Chatdeck JSON export or a ChatGPT ``conversations.json`` for the owner.

    Raises :class:`ImportProblem` (before writing anything) if the file cannot be imported as a whole.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportProblem(f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MB.")
    try:
        document = json.loads(data)
    except RecursionError:
        raise ImportProblem("The file is nested too deeply to be a conversation export.") from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise ImportProblem(f"The file is not valid JSON ({exc}).") from None
    if isinstance(document, dict) and document.get("format") == FORMAT:
        conversations = parse_chatdeck(document)
    elif isinstance(document, list) and all(isinstance(c, dict) and "mapping" in c for c in document[:1]):
        conversations = chatgpt.parse(document, owner_id)
    else:
        raise ImportProblem("This is neither a Chatdeck export nor a ChatGPT conversations.json.")
    return write(s, owner_id, conversations)


def write(s: Session, owner_id: int, conversations: list[NewConversation]) -> ImportResult:
    """Add the conversations the owner does not have yet; refuse ids that belong to somebody else."""
    ids = [c.id for c in conversations]
    if len(set(ids)) != len(ids):
        raise ImportProblem("The file lists the same conversation more than once.")
    existing: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found = s.execute(select(Conversation.id, Conversation.owner_id).where(Conversation.id.in_(chunk)))
        existing.update(found.all())
    foreign = [i for i, owner in existing.items() if owner != owner_id]
    if foreign:
        raise ImportProblem(
            f"{len(foreign)} conversation(s) in this file belong to another account (for example {foreign[0]}). "
            "Nothing was imported."
        )
    new = [c for c in conversations if c.id not in existing]
    if new:
        s.execute(insert(Conversation), [
            {"id": c.id, "owner_id": owner_id, "title": c.title, "provider": c.provider, "model": c.model,
             "created_at": c.created_at, "updated_at": c.updated_at, "pinned": c.pinned, "archived": c.archived,
             "system_prompt": c.system_prompt}
            for c in new
        ])
    rows = [
        {"conversation_id": c.id, "role": m.role, "content": m.content, "reasoning": m.reasoning,
         "attachments": m.attachments, "provider": m.provider, "model": m.model, "status": m.status,
         "finish_reason": m.finish_reason, "error": m.error, "chars": len(m.content), "extra": m.extra,
         "created_at": m.created_at, "updated_at": m.created_at}
        for c in new for m in c.messages
    ]
    for start in range(0, len(rows), 1000):
        s.execute(insert(Message), rows[start:start + 1000])
    s.flush()
    missing = sum(1 for c in new for m in c.messages for a in m.attachments if "unavailable" in a)
    return ImportResult(imported=len(new), skipped=len(existing), messages=len(rows), images_missing=missing)


def parse_chatdeck(document: Mapping[str, Any]) -> list[NewConversation]:
    """The conversations of a Chatdeck export, checked field by field."""
    if document.get("version") != VERSION:
        raise ImportProblem(f"Unsupported Chatdeck export version {document.get('version')!r} (expected {VERSION}).")
    records = document.get("conversations")
    if not isinstance(records, list):
        raise ImportProblem('"conversations" must be a list.')
    if len(records) > MAX_CONVERSATIONS:
        raise ImportProblem(f"The file holds {len(records)} conversations; at most {MAX_CONVERSATIONS} at once.")
    conversations = []
    total = 0
    for index, record in enumerate(records):
        where = f"conversation {index + 1}"
        if not isinstance(record, dict):
            raise ImportProblem(f"{where} is not an object.")
        conversation_id = record.get("id")
        if not is_conversation_id(conversation_id):
            raise ImportProblem(f"{where} has no valid id (32 lowercase hex characters).")
        messages = record.get("messages")
        if not isinstance(messages, list):
            raise ImportProblem(f'{where}: "messages" must be a list.')
        total += len(messages)
        check_counts(len(messages), total, where)
        created = timestamp(record.get("created_at"), where)
        conversations.append(
            NewConversation(
                id=conversation_id, title=text(record.get("title", ""), where, "title")[:TITLE_MAX_CHARS],
                provider=text(record.get("provider"), where, "provider", 100, required=True),
                model=text(record.get("model"), where, "model", 255, required=True),
                created_at=created, updated_at=timestamp(record.get("updated_at", created.isoformat()), where),
                pinned=record.get("pinned") is True, archived=record.get("archived") is True,
                system_prompt=text(record.get("system_prompt", ""), where, "system_prompt", MAX_TEXT_CHARS),
                messages=[_message(m, f"{where}, message {n + 1}") for n, m in enumerate(messages)],
            )
        )
    return conversations


def _message(record: Any, where: str) -> NewMessage:
    if not isinstance(record, dict):
        raise ImportProblem(f"{where} is not an object.")
    role, status = record.get("role"), record.get("status", "complete")
    if role not in ROLES:
        raise ImportProblem(f"{where} has an unknown role {str(role)[:20]!r}.")
    if status not in STATUSES:
        raise ImportProblem(f"{where} has an unknown status {str(status)[:20]!r}.")
    return NewMessage(
        role=role, content=text(record.get("content"), where, "content", MAX_TEXT_CHARS, required=True),
        reasoning=text(record.get("reasoning", ""), where, "reasoning", MAX_TEXT_CHARS),
        created_at=timestamp(record.get("created_at"), where),
        provider=text(record.get("provider"), where, "provider", 100) or None,
        model=text(record.get("model"), where, "model", 255) or None,
        status="partial" if status == "streaming" else status,  # nothing is writing it any more
        error=text(record.get("error"), where, "error", 10_000) or None,
        finish_reason=text(record.get("finish_reason"), where, "finish_reason", 32) or None,
        extra=_extra(record.get("extra"), where), attachments=_attachments(record.get("attachments"), where),
    )


def _extra(value: Any, where: str) -> dict[str, Any]:
    """The display-only parts of ``Message.extra`` (sources, answering model, usage); the rest is dropped."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImportProblem(f'{where}: "extra" must be an object.')
    kept: dict[str, Any] = {}
    sources = value.get("sources")
    if isinstance(sources, list) and all(
        isinstance(x, dict) and isinstance(x.get("url"), str) and str(x["url"]).startswith(("https://", "http://"))
        and isinstance(x.get("title", ""), str) for x in sources
    ):
        kept["sources"] = [{"url": x["url"][:2000], "title": str(x.get("title", ""))[:500]} for x in sources[:50]]
    answered_by = value.get("answered_by")
    if isinstance(answered_by, dict) and all(isinstance(v, str | None) for v in answered_by.values()):
        kept["answered_by"] = {k: answered_by.get(k) for k in ("model", "route", "provider")}
    for key in ("reasoning_status", "title"):
        if isinstance(value.get(key), str):
            kept[key] = value[key][:500]
    usage = value.get("usage")
    if isinstance(usage, dict) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in usage.values()):
        kept["usage"] = {str(k)[:50]: v for k, v in list(usage.items())[:20]}
    return kept


def _attachments(value: Any, where: str) -> list[dict[str, Any]]:
    """Images as stored by ``repository.encode_attachment``, each checked (mime, base64) and passed
    through the image door; placeholders (``"unavailable"``, no data) as an earlier import left them."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 20:
        raise ImportProblem(f'{where}: "attachments" must be a list of at most 20 images.')
    checked = []
    for item in value:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("mime"), str)
                and item["mime"].startswith("image/")
                and (isinstance(item.get("data_b64"), str) or isinstance(item.get("unavailable"), str))):
            raise ImportProblem(f"{where}: an attachment is not an image with a name, a type and its data.")
        if not isinstance(item.get("data_b64"), str):
            checked.append(placeholder(item["name"], item["mime"], item["unavailable"]))
            continue
        try:
            data = base64.b64decode(item["data_b64"], validate=True)
        except (binascii.Error, ValueError):
            raise ImportProblem(f"{where}: an attachment's data is not valid base64.") from None
        checked.append(_image_attachment(item["name"][:255], item["mime"], data))
    return checked


def _image_attachment(name: str, mime: str, data: bytes) -> dict[str, Any]:
    """An imported image through the image door (re-encoded, no metadata). One it refuses (an SVG, a
    bomb, corrupt bytes) becomes a placeholder saying why, and the conversation is imported all the
    same: a whole archive should not be refused for one picture, and its text is what matters."""
    try:
        clean = intake.admit(data)
    except intake.ImageRefused as refused:
        return placeholder(name, mime, f"not imported: {refused}")
    return encode_attachment(clean.renamed(name), clean.mime, clean.data)


def placeholder(name: str, mime: str, reason: str) -> dict[str, Any]:
    """An attachment kept by name only, with the reason its image is not there (drawn as a placeholder)."""
    return {"name": name[:255], "mime": mime[:100], "size": 0, "unavailable": reason[:500]}
