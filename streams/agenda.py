"""Schedule-driven stage changes: a stage session's start puts its source on, its end the slate."""

from eventplatform.agenda_actions import Moment, agenda_action
from streams import services


@agenda_action("streams.stage_on", moment=Moment.START, room_kinds={"stage"})
def stage_on(session, transition) -> None:
    services.set_stage_session(session.room, session)


@agenda_action("streams.stage_slate", moment=Moment.END, room_kinds={"stage"})
def stage_slate(session, transition) -> None:
    services.end_stage_session(session.room, session)
