"""The planning rules, pure functions of a session's times and the clock (no database).

- A session has a start (at its start), an end (at its end) and one warning per configured
  number of minutes N at end − N, counted in real elapsed time (UTC): a change to or from
  daylight saving time between the warning and the end does not move the warning, and a
  session across midnight is one session.
- A warning that would not fall strictly after the start (the session is shorter than N
  minutes, or has no length) is not planned.
- Ties at the same instant run ends first, then warnings, then starts, so a room is closed
  before the next session opens it; a zero-length session's own end still follows its start.

The missed-transition rule (what a transition found overdue does):
- an end always runs, however late: it closes what the start opened;
- a start or a warning of a session that is already over (its end is due) is skipped;
- otherwise it runs late.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

START, WARNING, END = "start", "warning", "end"
DEFAULT_WARNINGS = (5, 1)


@dataclass(frozen=True)
class Planned:
    moment: str
    warning_minutes: int
    due_at: datetime
    order: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.moment, self.warning_minutes)


def parse_warnings(text: str | None) -> tuple[int, ...]:
    """"5,1" → (5, 1): distinct positive minutes, largest first; bad entries raise ValueError."""
    if text is None:
        return DEFAULT_WARNINGS
    minutes = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        value = int(part)
        if not 0 < value <= 240:
            raise ValueError(f"a warning must be between 1 and 240 minutes, not {value}")
        minutes.add(value)
    return tuple(sorted(minutes, reverse=True))


def plan_session(start: datetime, end: datetime, warnings: tuple[int, ...] = DEFAULT_WARNINGS) -> list[Planned]:
    """Every transition of a session starting at `start` and ending at `end` (aware datetimes)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("session times must be timezone-aware")
    # Python subtracts wall-clock time between datetimes of the same zone: in UTC, a minute is
    # a minute even across a daylight saving change.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end < start:
        raise ValueError("a session cannot end before it starts")
    zero_length = end == start
    planned = [Planned(START, 0, start, 2)]
    for minutes in warnings:
        due = end - timedelta(minutes=minutes)
        if due > start:
            planned.append(Planned(WARNING, minutes, due, 1))
    planned.append(Planned(END, 0, end, 3 if zero_length else 0))
    return sorted(planned, key=lambda p: (p.due_at, p.order))


def missed_verdict(moment: str, due_at: datetime, session_end: datetime, now: datetime) -> str:
    """"run" or "skip" for a transition that is due (possibly long overdue) at `now`."""
    if moment == END:
        return "run"
    # A zero-length session's start is due at its end: it is not missed, it is on time.
    if now >= session_end and due_at < session_end:
        return "skip"
    return "run"


def execution_order(items, *, due=lambda t: t.due_at, order=lambda t: t.order):
    """Sort transitions the way they must take effect when several are due together."""
    return sorted(items, key=lambda t: (due(t), order(t)))
