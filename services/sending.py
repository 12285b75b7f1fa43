"""Sending a message: the one use case behind the chat page, the compare page, regenerate and edit, and both APIs.

Every way a user asks a backend for a reply goes through here, in one transaction:

1. admission (:func:`access.limits.admit`: the backends are switched on, the user is within their rate limit),
   before anything is saved; it holds the user's lock until the transaction ends, so concurrent sends of
   one user are admitted exactly;
2. the conversation: created (titled by :func:`title`) or switched to the backend and model;
3. the user's message and an empty "streaming" reply saved (:func:`runner.runner.prepare_turn`), so the
   prompt is stored before any provider is called;
4. once committed, the runner generates the reply (:meth:`runner.runner.Runner.launch`).

Pages and HTTP handlers are thin adapters: they read their input, call :func:`send`, :func:`send_round` or
:func:`regenerate`, and show or stream the :class:`~runner.run.Run` they get back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from access import limits
from providers.events import Attachment, Options
from runner import turns
from runner.runner import Prepared, Run, Runner, prepare_turn
from runner.turns import TurnError
from storage import comparisons
from storage import repository as repo
from storage.db import session

__all__ = ["NewComparison", "RoundSent", "Sent", "TurnError", "edit", "regenerate", "select_version", "send",
           "send_round", "title"]

TITLE_CHARS = 60

Exchange = tuple[str, str]  # (role, text) of one message
# Picks (or creates) the conversation inside the admitting transaction; for the APIs, which find it by
# their own rules (a chat id, a continued history) and may append a client's earlier messages first.
Pick = Callable[[Session], str]


@dataclass(frozen=True)
class Sent:
    """A message sent: the conversation it went to and the run writing its reply."""

    conversation_id: str
    run: Run

    @property
    def message_id(self) -> int:
        return self.run.message_id


@dataclass(frozen=True)
class NewComparison:
    """The columns of a comparison to create: (backend, model, system prompt) each, in their order."""

    columns: Sequence[tuple[str, str, str]]
    blind: bool = False
    private: bool = False
    category: str = ""


@dataclass(frozen=True)
class RoundSent:
    """A prompt sent to every column of a comparison: column id -> the run writing its answer."""

    comparison_id: str
    runs: Mapping[int, Run]


def title(history: Sequence[Exchange]) -> str:
    """A new conversation's title: the first line of its first user message (the one title rule)."""
    first = next((content for role, content in history if role == "user" and content.strip()), "")
    return first.strip().splitlines()[0][:TITLE_CHARS] if first.strip() else ""


def send(
    runner: Runner, *, owner_id: int, conversation: str | Pick | None, provider: str, model: str, prompt: str,
    attachments: Sequence[Attachment] = (), options: Options | None = None, system_prompt: str = "",
) -> Sent:
    """Send ``prompt`` to ``provider``/``model`` in ``conversation`` and start the reply.

    ``conversation``: ``None`` for a new one (titled from the prompt, with ``system_prompt``); the id of one of
    the user's conversations, which is switched to this backend and model if it used another; or a
    :data:`Pick`. Raises :class:`access.policy.BackendDisabledError` or :class:`access.limits.RateLimitedError`
    before anything is saved.
    """
    with session(runner.engine) as s:
        limits.admit(s, owner_id, [provider])
        created_with = None  # a new conversation's system prompt, as stored: prepare_turn reads nothing back
        if conversation is None:
            created = repo.create_conversation(
                s, owner_id, provider=provider, model=model, title=title([("user", prompt)]),
                system_prompt=system_prompt,
            )
            conversation_id, created_with = created.id, created.system_prompt
        elif isinstance(conversation, str):
            conversation_id = conversation
            current = repo.get_conversation(s, owner_id, conversation_id)
            if current is None:
                raise LookupError(f"conversation {conversation_id!r} not found")
            if (current.provider, current.model) != (provider, model):
                repo.set_conversation_model(s, owner_id, conversation_id, provider, model)
        else:
            conversation_id = conversation(s)
        prepared = prepare_turn(s, owner_id=owner_id, conversation_id=conversation_id, provider=provider,
                                model=model, prompt=prompt, attachments=attachments, options=options,
                                created_with=created_with)
    return Sent(conversation_id, _launch(runner, prepared))


def send_round(
    runner: Runner, *, owner_id: int, comparison: str | NewComparison, prompt: str, options: Options | None = None,
) -> RoundSent:
    """Send ``prompt`` to every column of ``comparison`` (an existing one's id, or one to create) at once.

    One admission for all the columns: every column is answered or none, and nothing is saved when refused.
    """
    with session(runner.engine) as s:
        if isinstance(comparison, NewComparison):
            limits.admit(s, owner_id, [provider for provider, _, _ in comparison.columns])
            created = comparisons.create(
                s, owner_id, [(provider, model) for provider, model, _ in comparison.columns],
                blind=comparison.blind, private=comparison.private, category=comparison.category)
            for column, (_, _, system) in zip(created.columns, comparison.columns, strict=True):
                if system.strip():  # from a preset or typed: each column's conversation keeps its own
                    repo.set_system_prompt(s, owner_id, column.conversation_id, system)
            found = created
        else:
            existing = comparisons.get(s, owner_id, comparison)
            if existing is None:
                raise LookupError(f"comparison {comparison!r} not found")
            limits.admit(s, owner_id, [column.provider for column in existing.columns])
            found = existing
        prepared = {
            column.id: prepare_turn(s, owner_id=owner_id, conversation_id=column.conversation_id,
                                    provider=column.provider, model=column.model, prompt=prompt, options=options)
            for column in found.columns
        }
        comparisons.add_round(s, owner_id, found.id, prompt, {c: p.run.message_id for c, p in prepared.items()},
                              asdict(options) if options is not None else None)
        comparison_id = found.id
    return RoundSent(comparison_id, {column: _launch(runner, p) for column, p in prepared.items()})


def regenerate(
    runner: Runner, *, owner_id: int, conversation_id: str, provider: str, model: str,
    options: Options | None = None, prompt: str | None = None,
) -> Run:
    """A new version of the last answer; with ``prompt``, of the last exchange with that prompt instead.

    The one launcher of regenerate and edit: admitted like :func:`send`, before anything is changed. Raises
    :class:`TurnError` when the last turn cannot change (none yet, still streaming, too many versions).
    """
    with session(runner.engine) as s:
        limits.admit(s, owner_id, [provider])  # first: it holds the user's lock until the new reply is saved
        prepared = turns.new_version(s, owner_id=owner_id, conversation_id=conversation_id, provider=provider,
                                     model=model, options=options, prompt=prompt)
    return _launch(runner, prepared)


def edit(
    runner: Runner, *, owner_id: int, conversation_id: str, prompt: str, provider: str, model: str,
    options: Options | None = None,
) -> Run:
    """Replace the last user message by ``prompt`` and answer it; the old exchange stays as a version."""
    if not prompt.strip():
        raise TurnError("The edited message is empty.")
    return regenerate(runner, owner_id=owner_id, conversation_id=conversation_id, provider=provider, model=model,
                      options=options, prompt=prompt)


def select_version(runner: Runner, owner_id: int, conversation_id: str, reply_id: int) -> None:
    """Show the version ``reply_id`` of the last answer (and its prompt) and continue from it."""
    turns.select_version(runner.engine, owner_id, conversation_id, reply_id)


def _launch(runner: Runner, prepared: Prepared) -> Run:
    return runner.launch(prepared.run, prepared.request, prepared.login)
