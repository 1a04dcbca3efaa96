"""Reads of the core domain."""

from django.db.models import Prefetch

from eventplatform.models import Event, Participant, Room, Session, Ticket
from eventplatform.precompiled import Precompiled


def ticket_by_secret(secret: str, slug: str | None = None) -> Ticket | None:
    """The ticket with this secret (of the event `slug`, if given), with its participant."""
    if slug is not None:
        # Every socket of a join storm asks: no joins beyond the participant, no ORDER BY.
        found = list(Ticket.objects.select_related("participant").filter(secret=secret, participant__event__slug=slug)[:1])
        return found[0] if found else None
    return (
        Ticket.objects.select_related("participant__event", "participant__user").filter(secret=secret).first()
    )


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
