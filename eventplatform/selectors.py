"""Reads of the core domain."""

from django.db.models import Prefetch

from eventplatform.models import Event, Participant, Room, Session, Ticket
from eventplatform.precompiled import Precompiled


def ticket_by_secret(secret: str) -> Ticket | None:
    return (
        Ticket.objects.select_related("participant__event", "participant__user").filter(secret=secret).first()
    )


_TICKET_FIELDS = ("id", "revoked_at", "valid_from", "valid_until")
_HOLDER_FIELDS = (
    "id", "user_id", "event_id", "name", "attendance", "is_removed",
    "is_organizer", "is_moderator", "is_speaker", "is_staff_member",
)
_ticket_for_socket = Precompiled(
    lambda secret, slug: Ticket.objects.filter(secret=secret, participant__event__slug=slug).values_list(
        *_TICKET_FIELDS, *(f"participant__{name}" for name in _HOLDER_FIELDS)
    )[:1]
)


def ticket_for_socket(secret: str, slug: str) -> Ticket | None:
    """The ticket of this event with this secret and its participant, with just what a socket
    needs (its validity, who holds it): every socket of a join storm asks (precompiled.py)."""
    found = _ticket_for_socket.rows(secret, slug)
    if not found:
        return None
    row = found[0]
    ticket = Ticket(**dict(zip(_TICKET_FIELDS, row[: len(_TICKET_FIELDS)])), secret=secret)
    holder = Participant(**dict(zip(_HOLDER_FIELDS, row[len(_TICKET_FIELDS) :])))
    ticket.participant = holder
    return ticket


def participant_for_user(user, slug: str) -> Participant | None:
    return Participant.objects.select_related("event").filter(user=user, event__slug=slug).first()


_agenda_version = Precompiled(lambda event_id: Event.objects.filter(pk=event_id).values_list("agenda_version"))


def agenda_version(event_id: int) -> int:
    """Asked by every join (precompiled.py)."""
    found = _agenda_version.column(event_id)
    if not found:
        raise Event.DoesNotExist(event_id)
    return found[0]


def agenda(event_id: int) -> dict:
    """The whole agenda of an event as clients show it: rooms and sessions (three queries)."""
    rooms = [
        {"id": r.id, "name": r.name, "kind": r.kind, "capacity": r.capacity}
        for r in Room.objects.filter(event_id=event_id)
    ]
    speakers = Prefetch("speakers", queryset=Participant.objects.only("id", "name").order_by("name"))
    sessions = [
        {
            "id": s.id,
            "title": s.title,
            "abstract": s.abstract,
            "kind": s.kind,
            "start": s.start,
            "end": s.end,
            "room_id": s.room_id,
            "speakers": [{"id": p.id, "name": p.name} for p in s.speakers.all()],
        }
        for s in Session.objects.filter(event_id=event_id).prefetch_related(speakers).order_by("start", "id")
    ]
    return {"rooms": rooms, "sessions": sessions}


def event_public(event: Event) -> dict:
    return {
        "id": event.id,
        "slug": event.slug,
        "title": event.title,
        "timezone": event.timezone,
        "start": event.start,
        "end": event.end,
        "venue": event.venue_address,
        "online": event.is_online,
        "languages": event.language_list,
    }
