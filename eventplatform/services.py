"""Every change to the core domain: validate, write in a transaction, publish after commit."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from eventplatform import selectors
from eventplatform.models import Event, Participant, Session, Ticket
from eventplatform.realtime import bus, groups
from eventplatform.realtime.envelope import GatewayError


def agenda_problems(session: Session) -> dict[str, list[str]]:
    """What is wrong with a session's place in the agenda (empty if nothing)."""
    problems: dict[str, list[str]] = {}
    if session.start and session.end and session.end < session.start:
        problems.setdefault("end", []).append(_("A session cannot end before it starts."))
    if session.room_id and session.room.event_id != session.event_id:
        problems.setdefault("room", []).append(_("The room belongs to another event."))
    if session.room_id and session.start and session.end:
        clash = (
            Session.objects.filter(room_id=session.room_id, start__lt=session.end, end__gt=session.start)
            .exclude(pk=session.pk)
            .first()
        )
        if clash is not None:
            problems.setdefault("room", []).append(
                _("“%(room)s” already has “%(other)s” at that time.")
                % {"room": session.room.name, "other": clash.title}
            )
    return problems


def agenda_changed(event: Event) -> None:
    """Call after any change to an event's rooms or sessions: clients get the new agenda, and
    the session transitions move with it."""
    from eventplatform.transitions.services import replan_event

    with transaction.atomic():
        Event.objects.filter(pk=event.pk).update(agenda_version=F("agenda_version") + 1)
        replan_event(event)
        version = selectors.agenda_version(event.pk)
        payload = {"cursor": version, "data": selectors.agenda(event.pk)}
        bus.publish_on_commit(groups.event(event.pk), "agenda.update", payload)


def register_participant(
    event: Event,
    *,
    name: str,
    email: str = "",
    username: str | None = None,
    attendance: str = Participant.Attendance.ONLINE,
    roles: set[str] = frozenset(),
) -> Participant:
    """Add a person to an event with a ticket; the same person again returns their entry."""
    User = get_user_model()
    unknown = set(roles) - {r.value for r in Participant.Role}
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    with transaction.atomic():
        user, _created = User.objects.get_or_create(
            username=username or f"{event.slug}-{email or name}".lower()[:150],
            defaults={"email": email, "first_name": name[:150]},
        )
        participant, _created = Participant.objects.get_or_create(
            event=event,
            user=user,
            defaults={
                "name": name,
                "email": email,
                "attendance": attendance,
                "is_organizer": "organizer" in roles,
                "is_moderator": "moderator" in roles,
                "is_speaker": "speaker" in roles,
                "is_staff_member": "staff" in roles,
            },
        )
        Ticket.objects.get_or_create(participant=participant)
    return participant


def ticket_login(secret: str) -> Participant:
    """The participant a ticket link stands for, or a refusal saying why not."""
    ticket = selectors.ticket_by_secret(secret)
    if ticket is None:
        raise GatewayError("ticket_invalid", _("This ticket link is not valid."))
    problem = ticket.problem()
    if problem is not None:
        messages = {
            "ticket_revoked": _("This ticket was cancelled. Please ask the organizers for a new one."),
            "ticket_expired": _("This ticket has expired."),
            "ticket_not_yet_valid": _("This ticket is not valid yet."),
        }
        raise GatewayError(problem, messages[problem])
    return ticket.participant
