"""Who opens an event socket: a ticket in the query string, or the session of a ticket link."""

from types import SimpleNamespace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib import auth

from eventplatform import selectors
from eventplatform.realtime.actor import Actor, actor_for
from eventplatform.realtime.envelope import GatewayError

_MESSAGES = {
    "ticket_invalid": "This ticket is not valid for this event.",
    "ticket_revoked": "This ticket was cancelled. Ask the organizers for a new one.",
    "ticket_expired": "This ticket has expired.",
    "ticket_not_yet_valid": "This ticket is not valid yet.",
}


def _ticket_secret(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("ticket")
    return values[0] if values else None


@database_sync_to_async
def _resolve(secret: str | None, session, slug: str) -> Actor:
    if secret is not None:
        ticket = selectors.ticket_for_socket(secret, slug)
        if ticket is None:
            raise GatewayError("ticket_invalid", _MESSAGES["ticket_invalid"])
        if problem := ticket.problem():
            raise GatewayError(problem, _MESSAGES[problem])
        return actor_for(ticket.participant, slug)
    # The session's user is read here, in the same trip to the database thread, and only for
    # sockets without a ticket (Channels' AuthMiddleware reads it for every socket, eagerly).
    user = auth.get_user(SimpleNamespace(session=session)) if session is not None else None
    if user is None or not user.is_authenticated:
        raise GatewayError("not_authenticated", "Open your ticket link to join this event.")
    participant = selectors.participant_for_user(user, slug)
    if participant is None:
        raise GatewayError("forbidden", "You are not registered for this event.")
    if participant.is_removed:
        raise GatewayError("forbidden", "You were removed from this event.")
    return actor_for(participant, slug)


async def authenticate(scope, slug: str) -> Actor:
    return await _resolve(_ticket_secret(scope), scope.get("session"), slug)
