"""What happens when the agenda moves on: apps register actions, the core's transitions run them.

An app says, in its AppConfig.ready():

    @agenda_action("chat.open_qa", moment=Moment.START, session_kinds={"talk"}, room_kinds={"stage"})
    def open_qa(session, transition): ...

and the transition runner calls every matching action when a session starts, ends, or reaches
a warning before its end. Contract for an action:
- it runs inside the transition's database transaction (the runner holds the transition row
  locked): write through services, publish with `bus.publish_on_commit`, never publish directly;
- it must not call other apps; it may raise, and then the whole transition rolls back and is
  retried or marked failed (never half applied);
- `transition` carries what the action may need beyond the session (e.g. `transition.id` for
  idempotency, `transition.due_at`, `transition.warning_minutes`).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class Moment(StrEnum):
    START = "start"
    WARNING = "warning"  # N minutes before the end (per event; default 5 and 1)
    END = "end"


@dataclass(frozen=True)
class AgendaAction:
    name: str
    moment: Moment
    session_kinds: frozenset[str] | None  # None: every kind
    room_kinds: frozenset[str] | None  # None: any room, or none
    func: Callable

    def applies_to(self, session, moment: Moment) -> bool:
        if moment != self.moment:
            return False
        if self.session_kinds is not None and session.kind not in self.session_kinds:
            return False
        if self.room_kinds is not None:
            room_kind = session.room.kind if session.room_id else None
            if room_kind not in self.room_kinds:
                return False
        return True


AGENDA_ACTIONS: dict[str, AgendaAction] = {}


def agenda_action(
    name: str,
    *,
    moment: Moment,
    session_kinds: Iterable[str] | None = None,
    room_kinds: Iterable[str] | None = None,
):
    def register(func):
        if name in AGENDA_ACTIONS:
            raise ValueError(f"agenda action {name!r} registered twice")
        AGENDA_ACTIONS[name] = AgendaAction(
            name,
            Moment(moment),
            frozenset(session_kinds) if session_kinds is not None else None,
            frozenset(room_kinds) if room_kinds is not None else None,
            func,
        )
        return func

    return register


def actions_for(session, moment: Moment) -> list[AgendaAction]:
    """The actions to run for this session at this moment, in a stable order (by name)."""
    return [action for name, action in sorted(AGENDA_ACTIONS.items()) if action.applies_to(session, moment)]
