"""Which conversation a ``/v1`` request continues, and starting its reply through the runner.

Stateless clients resend the whole history with every request. Chatdeck stores each call as a
conversation of the token's user and recognises a continuation: the request's earlier messages (roles
and text, system messages folded as api/v1_request.py describes; images are not compared) equal the
whole visible history of one of the user's :data:`CANDIDATES` most recently active conversations. That
conversation goes on, so the runner sends the backend's own continuation state and web backends
(HuggingChat, Ai2, HailuoAI) receive only the new message. Otherwise a new conversation starts with the
earlier messages stored first. ``X-Chatdeck-Conversation: <id>`` names a conversation explicitly (messages
it does not hold yet are appended, as in seed 002's endpoint).

Cost: at most :data:`CANDIDATES` small indexed queries for the latest messages, and one bounded query for
the full history of a conversation whose last message matched.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.shared import Exchange, append_new, stored_exchanges
from api.v1_errors import V1Error
from api.v1_models import Target
from api.v1_request import CompletionRequest, without_system
from providers import registry
from runner.runner import Run, credentials_for, get_runner
from runner.versions import is_superseded
from services import sending
from storage import repository as repo

CANDIDATES = 20  # recent conversations looked at for a continuation
PEEK = 6  # latest messages read of each (room for a few hidden versions of the last answer)


def _visible(rows: list[Exchange]) -> list[Exchange]:
    """What a client could have received and resent: messages with text (no empty failed replies)."""
    return [(role, text) for role, text in rows if text]


def find_continuation(s: Session, owner: int, earlier: list[Exchange]) -> str | None:
    """The id of the user's conversation whose whole visible history is ``earlier``, the most recent first."""
    if not earlier:
        return None
    for conversation in repo.list_conversations(s, owner, limit=CANDIDATES):
        latest = [(m.role, m.content) for m in repo.recent_messages(s, owner, conversation.id, limit=PEEK)
                  if m.role in ("user", "assistant") and not is_superseded(m)]
        latest = _visible(latest)
        if not latest or latest[-1] != earlier[-1]:
            continue
        whole = stored_exchanges(s, owner, conversation.id)
        if len(whole) < repo.MAX_LIMIT and _visible(whole) == earlier:
            return conversation.id
    return None


def start(owner: int, target: Target, request: CompletionRequest, explicit: str | None) -> Run:
    """Admit the request, pick or create its conversation, and start the reply (services/sending.py).

    Refuses before anything is saved: over the rate limit (429), a disabled backend (403), a backend that
    needs a login the user has not given (403), an unknown conversation id (404).
    """
    info = registry.backend(target.backend)

    def conversation(s: Session) -> str:  # after admission, in its transaction
        if info.credential_fields and credentials_for(s, owner, target.backend) is None:
            login = " and ".join(f.label for f in info.credential_fields)
            raise V1Error(403, f"{info.display_name} needs a login: add your {login} in Chatdeck's Settings.",
                          "backend_login_required", "model")
        if explicit is not None:
            if repo.get_conversation(s, owner, explicit) is None:
                raise V1Error(404, "No conversation of yours has this id.", "conversation_not_found",
                              "X-Chatdeck-Conversation")
            conversation_id = explicit
            append_new(s, owner, conversation_id, request.history, provider=target.backend, model=target.model)
        elif (continued := find_continuation(s, owner, request.history)) is not None:  # holds it all already
            conversation_id = continued
        else:
            conversation_id = repo.create_conversation(
                s, owner, provider=target.backend, model=target.model,
                title=sending.title([(role, without_system(text)) for role, text in request.history]
                                    + [("user", without_system(request.prompt))]),
            ).id
            append_new(s, owner, conversation_id, request.history, provider=target.backend, model=target.model)
        repo.set_conversation_model(s, owner, conversation_id, target.backend, target.model)
        return conversation_id

    return sending.send(get_runner(), owner_id=owner, conversation=conversation, provider=target.backend,
                        model=target.model, prompt=request.prompt, attachments=request.images,
                        options=request.options).run
