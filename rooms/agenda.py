"""What breakouts do when the agenda moves on (registered with the core's agenda actions).

A breakout session (a workshop, barcamp or networking slot held in breakout rooms) opens its
rooms at its start and assigns automatically, warns before its end, and at its end closes the
rooms and brings everyone back to the stage. Each step is idempotent: a repeated transition
finds the round already open or already closed.
"""

from django.utils import timezone

from eventplatform.agenda_actions import Moment, agenda_action
from rooms import services
from rooms.models import BreakoutRound, Mode

BREAKOUT_KINDS = {"workshop", "barcamp", "networking"}


@agenda_action("rooms.open_breakouts", moment=Moment.START, session_kinds=BREAKOUT_KINDS, room_kinds={"breakout"})
def open_breakouts(session, transition) -> None:
    if BreakoutRound.objects.filter(event_id=session.event_id, session=session).exists():
        return  # this session's round was opened already (the transition ran before)
    current = services.current_round(session.event_id)
    if current is not None:
        services.close_round(current.pk, by="agenda")
    # No one is assigned up front: each connected attendee is placed as they ask (the client
    # answers rooms.round with rooms.state) and late arrivals on connect, balanced by the mode.
    # The round's timer is the session's end: clients count down to it.
    seconds = int((session.end - timezone.now()).total_seconds())
    services.open_round(
        session.event_id, mode=Mode.AUTOMATIC, session_id=session.pk, duration_s=seconds if seconds >= 10 else None
    )


@agenda_action("rooms.warn_breakouts", moment=Moment.WARNING, session_kinds=BREAKOUT_KINDS, room_kinds={"breakout"})
def warn_breakouts(session, transition) -> None:
    rnd = BreakoutRound.objects.filter(event_id=session.event_id, session=session, state="open").first()
    if rnd is not None:
        # The agenda decides when to warn: bring the round's warning forward to now.
        BreakoutRound.objects.filter(pk=rnd.pk, warned_at__isnull=True).update(warning_at=timezone.now())
        services.warn_round(rnd.pk)


@agenda_action("rooms.close_breakouts", moment=Moment.END, session_kinds=BREAKOUT_KINDS, room_kinds={"breakout"})
def close_breakouts(session, transition) -> None:
    rnd = BreakoutRound.objects.filter(event_id=session.event_id, session=session, state="open").first()
    if rnd is not None:
        services.close_round(rnd.pk, by="agenda")
