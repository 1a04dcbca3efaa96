"""Reads of the core domain."""

from django.db.models import Prefetch

from eventplatform.models import Event, Participant, Room, Session, Ticket


def ticket_by_secret(secret: str) -> Ticket | None:
    return (
        Ticket.objects.select_related("participant__event", "participant__user").filter(secret=secret).first()
    )


def participant_for_user(user, slug: str) -> Participant | None:
    return Participant.objects.select_related("event").filter(user=user, event__slug=slug).first()


def agenda_version(event_id: int) -> int:
    return Event.objects.filter(pk=event_id).values_list("agenda_version", flat=True).get()


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
