"""Reads of the stage: what it shows now, what comes next, who may publish or watch."""

import json

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from eventplatform.models import Participant, Room, Session, Ticket
from eventplatform.realtime.bus import sync_redis
from streams.models import StageState, StreamKey, StreamSource, hash_stream_key


def live_key(room_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:stage:{room_id}:live"


def relay_live(room_id: int) -> dict | None:
    """What the relay says is live on this stage (it keeps the key fresh while publishing)."""
    raw = sync_redis().get(live_key(room_id))
    return json.loads(raw) if raw else None


def _session_out(session: Session | None) -> dict | None:
    if session is None:
        return None
    return {"id": session.pk, "title": session.title, "start": session.start.isoformat(), "end": session.end.isoformat()}


def source_for(room: Room, session: Session | None) -> StreamSource | None:
    if session is not None:
        own = StreamSource.objects.filter(session=session).first()
        if own is not None:
            return own
    return StreamSource.objects.filter(room=room, session__isnull=True).first()


def stage_view(room_id: int) -> dict:
    """The stage as viewers see it: a source while a session runs, the slate between sessions."""
    room = Room.objects.get(pk=room_id)
    state = StageState.objects.filter(room=room).select_related("session").first()
    session = state.session if state else None
    source = source_for(room, session)
    next_session = (
        Session.objects.filter(room=room, start__gt=timezone.now()).exclude(kind="break").order_by("start").first()
    )
    kind = (source.kind if source else StreamSource.Kind.RELAY) if session else "slate"
    return {
        "room_id": room.pk,
        "room_name": room.name,
        "version": state.version if state else 0,
        "kind": kind,
        "url": source.url if (source and session) else "",
        "fallback_url": source.fallback_url if source else "",
        "session": _session_out(session),
        "next": _session_out(next_session),
        "live": relay_live(room.pk) is not None,
    }


def stages(event_id: int) -> list[dict]:
    return [stage_view(pk) for pk in Room.objects.filter(event_id=event_id, kind=Room.Kind.STAGE).values_list("pk", flat=True)]


def keys_view(event_id: int) -> list[dict]:
    keys = StreamKey.objects.filter(room__event_id=event_id).select_related("created_by").order_by("-created_at")
    return [
        {
            "id": k.pk,
            "room_id": k.room_id,
            "label": k.label,
            "prefix": k.prefix,
            "created_by": k.created_by.name if k.created_by else "",
            "created_at": k.created_at.isoformat(),
            "revoked": k.revoked_at is not None,
        }
        for k in keys
    ]


def valid_key(room_id: int, secret: str) -> StreamKey | None:
    if not secret or len(secret) > 200:
        return None
    return StreamKey.objects.filter(room_id=room_id, key_hash=hash_stream_key(secret), revoked_at__isnull=True).first()


def stage_room(room_id: int) -> Room | None:
    return Room.objects.filter(pk=room_id, kind=Room.Kind.STAGE).select_related("event").first()


def viewer_for(room: Room, *, user=None, ticket_secret: str | None = None) -> Participant | None:
    """A participant of the stage's event who may watch: by a valid ticket, or the logged-in user."""
    if ticket_secret:
        ticket = Ticket.objects.filter(secret=ticket_secret).select_related("participant").first()
        if ticket and ticket.participant.event_id == room.event_id and ticket.problem() is None:
            if not ticket.participant.is_removed:
                return ticket.participant
        return None
    if user is not None and user.is_authenticated:
        return Participant.objects.filter(Q(event_id=room.event_id), user=user, is_removed=False).first()
    return None
