"""Moderator overrides over the socket, the transitions stream, and the pushes they cause."""

from channels.db import database_sync_to_async

from eventplatform.models import Event, Session
from eventplatform.realtime import groups
from eventplatform.realtime import permissions as perms
from eventplatform.realtime.registry import command, declare_push, stream
from eventplatform.realtime.shared import SharedPart
from eventplatform.transitions import selectors, services
from eventplatform.transitions.schemas import (
    ExtendIn,
    MoveIn,
    NoticeOut,
    PlanOut,
    SessionOut,
    SessionRef,
    SkipIn,
    SkipOut,
    TransitionOut,
    WarningsIn,
    WarningsOut,
)

declare_push("agenda.transition", TransitionOut, "A transition took effect (done), was skipped, or failed.")
declare_push("agenda.plan", PlanOut, "The upcoming transitions changed (replan, override, or one took effect).")
declare_push("agenda.notice", NoticeOut, "For attendees: a session is now live, has N minutes left, or ended.")


def _actor(conn):
    from eventplatform.models import Participant

    return Participant.objects.get(pk=conn.actor.participant_id)


def _session_out(session: Session) -> dict:
    return {"session_id": session.id, "start": session.start, "end": session.end}


@database_sync_to_async
def _override(conn, name: str, **kwargs):
    event = Event.objects.get(pk=conn.event_id)
    return getattr(services, name)(event, actor=_actor(conn), **kwargs)


@command("agenda.start_now", schema=SessionRef, reply=SessionOut, permission=perms.moderator)
async def start_now(conn, msg: SessionRef) -> dict:
    """Start an upcoming session now (a session still running in its room ends now)."""
    return _session_out(await _override(conn, "start_now", session_id=msg.session_id))


@command("agenda.extend", schema=ExtendIn, reply=SessionOut, permission=perms.moderator)
async def extend(conn, msg: ExtendIn) -> dict:
    """End a running or upcoming session N minutes later; its warnings move along."""
    return _session_out(await _override(conn, "extend", session_id=msg.session_id, minutes=msg.minutes))


@command("agenda.end_now", schema=SessionRef, reply=SessionOut, permission=perms.moderator)
async def end_now(conn, msg: SessionRef) -> dict:
    """End a running session now; its remaining warnings are skipped."""
    return _session_out(await _override(conn, "end_now", session_id=msg.session_id))


@command("agenda.skip", schema=SkipIn, reply=SkipOut, permission=perms.moderator)
async def skip(conn, msg: SkipIn) -> dict:
    """Leave out one planned transition."""
    t = await _override(conn, "skip", transition_id=msg.transition_id)
    return {"transition": await database_sync_to_async(selectors.transition_out)(t)}


@command("agenda.move", schema=MoveIn, reply=SessionOut, permission=perms.organizer)
async def move(conn, msg: MoveIn) -> dict:
    """Organizers: new times (and room) for a session; refused if its room is taken then."""

    @database_sync_to_async
    def run():
        session = Session.objects.filter(pk=msg.session_id, event_id=conn.event_id).first()
        if session is None:
            from django.utils.translation import gettext as _

            from eventplatform.realtime.envelope import GatewayError

            raise GatewayError("session_not_found", _("There is no such session in this event."))
        room_id = msg.room_id if "room_id" in msg.model_fields_set else ...
        return services.move_session(session, start=msg.start, end=msg.end, room_id=room_id, actor=_actor(conn))

    return _session_out(await run())


@command("agenda.set_warnings", schema=WarningsIn, reply=WarningsOut, permission=perms.organizer)
async def set_warnings(conn, msg: WarningsIn) -> dict:
    """Organizers: when the "N minutes left" warnings fire, e.g. [5, 1]."""

    @database_sync_to_async
    def run():
        event = Event.objects.get(pk=conn.event_id)
        return services.set_warnings(event, ",".join(str(m) for m in msg.minutes), actor=_actor(conn))

    return {"minutes": list(await run())}


# The plan is the same for everyone; its "recent" part moves with the clock, hence the age limit.
_shared_plan = SharedPart("transitions", selectors.plan_payload, max_age=5.0)


@stream("transitions")
async def transitions_stream(conn, cursor: int | None) -> dict:
    payload = await _shared_plan.get(conn.event_id, [groups.event(conn.event_id)])
    if cursor == payload["cursor"]:
        return {"mode": "unchanged", "cursor": payload["cursor"]}
    return {"mode": "full", "cursor": payload["cursor"], "data": payload["data"]}
