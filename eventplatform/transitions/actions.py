"""The core's own agenda actions: telling everyone what the agenda is doing.

Apps (chat, rooms, streams) register theirs the same way in their AppConfig.ready().
"""

from eventplatform.agenda_actions import Moment, agenda_action
from eventplatform.realtime import bus, groups
from eventplatform.transitions.schemas import NoticeOut


def _notice(session, transition, kind: str, **extra) -> NoticeOut:
    return NoticeOut(**{
        "kind": kind,
        "session_id": session.id,
        "session_title": session.title,
        "room_id": session.room_id,
        "transition_id": transition.id,
        "ends_at": session.end,
        **extra,
    })


@agenda_action("core.announce_live", moment=Moment.START)
def announce_live(session, transition) -> None:
    """"Now live: <title>" in every view of the event (the client words it in its language)."""
    bus.publish_on_commit(groups.event(session.event_id), "agenda.notice", _notice(session, transition, "live"))


@agenda_action("core.announce_time_left", moment=Moment.WARNING)
def announce_time_left(session, transition) -> None:
    """"N minutes left" with the absolute end, so every client counts down the same way."""
    bus.publish_on_commit(
        groups.event(session.event_id),
        "agenda.notice",
        _notice(session, transition, "time_left", minutes=transition.warning_minutes),
    )


@agenda_action("core.announce_ended", moment=Moment.END)
def announce_ended(session, transition) -> None:
    bus.publish_on_commit(groups.event(session.event_id), "agenda.notice", _notice(session, transition, "ended"))
