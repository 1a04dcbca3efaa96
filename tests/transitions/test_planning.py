"""The planning rules with a controlled clock: no database, no real time."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from eventplatform.transitions import planning
from eventplatform.transitions.planning import END, START, WARNING, execution_order, missed_verdict, plan_session

BERLIN = ZoneInfo("Europe/Berlin")


def at(*args, tz=UTC):
    return datetime(*args, tzinfo=tz)


def summary(plan):
    return [(p.moment, p.warning_minutes, p.due_at) for p in plan]


def test_a_session_starts_warns_five_and_one_minutes_before_its_end_and_ends():
    plan = plan_session(at(2026, 5, 4, 10, 0), at(2026, 5, 4, 10, 45))
    assert summary(plan) == [
        (START, 0, at(2026, 5, 4, 10, 0)),
        (WARNING, 5, at(2026, 5, 4, 10, 40)),
        (WARNING, 1, at(2026, 5, 4, 10, 44)),
        (END, 0, at(2026, 5, 4, 10, 45)),
    ]


def test_configured_warnings_and_warnings_longer_than_the_session_are_left_out():
    assert planning.parse_warnings("2, 10,2") == (10, 2)
    assert planning.parse_warnings("") == ()
    assert planning.parse_warnings(None) == (5, 1)
    for bad in ("0", "-1", "abc", "241"):
        with pytest.raises(ValueError):
            planning.parse_warnings(bad)
    plan = plan_session(at(2026, 5, 4, 10, 0), at(2026, 5, 4, 10, 4), (10, 5, 2))
    assert summary(plan) == [(START, 0, at(2026, 5, 4, 10, 0)), (WARNING, 2, at(2026, 5, 4, 10, 2)),
                             (END, 0, at(2026, 5, 4, 10, 4))]
    # Exactly as long as the warning: it would coincide with the start, so it is not planned.
    assert [p.moment for p in plan_session(at(2026, 5, 4, 10, 0), at(2026, 5, 4, 10, 5), (5,))] == [START, END]


def test_back_to_back_sessions_in_one_room_end_before_the_next_starts():
    first = plan_session(at(2026, 5, 4, 10, 0), at(2026, 5, 4, 10, 45))
    second = plan_session(at(2026, 5, 4, 10, 45), at(2026, 5, 4, 11, 30))
    tagged = [("first", p) for p in first] + [("second", p) for p in second]
    ordered = execution_order(tagged, due=lambda t: t[1].due_at, order=lambda t: t[1].order)
    at_1045 = [(name, p.moment) for name, p in ordered if p.due_at == at(2026, 5, 4, 10, 45)]
    assert at_1045 == [("first", END), ("second", START)]


def test_overlapping_sessions_in_different_rooms_each_keep_their_own_transitions():
    stage = plan_session(at(2026, 5, 4, 10, 0), at(2026, 5, 4, 11, 0))
    breakout = plan_session(at(2026, 5, 4, 10, 30), at(2026, 5, 4, 10, 56))
    assert len(stage) == len(breakout) == 4
    merged = execution_order(stage + breakout)
    assert [(p.moment, p.due_at.minute) for p in merged] == [
        (START, 0), (START, 30), (WARNING, 51), (WARNING, 55), (WARNING, 55), (END, 56), (WARNING, 59), (END, 0)
    ]


def test_a_zero_length_session_starts_then_ends_with_no_warnings():
    plan = plan_session(at(2026, 5, 4, 12, 0), at(2026, 5, 4, 12, 0))
    assert [p.moment for p in execution_order(plan)] == [START, END]
    # Its start is due at its end, and is not "missed" at that instant.
    assert missed_verdict(START, at(2026, 5, 4, 12, 0), at(2026, 5, 4, 12, 0), at(2026, 5, 4, 12, 0)) == "run"


def test_a_session_across_midnight_is_one_session():
    start, end = at(2026, 12, 31, 23, 50, tz=BERLIN), at(2027, 1, 1, 0, 3, tz=BERLIN)
    plan = plan_session(start, end)
    assert [(p.moment, p.due_at.astimezone(BERLIN).strftime("%m-%d %H:%M")) for p in plan] == [
        (START, "12-31 23:50"), (WARNING, "12-31 23:58"), (WARNING, "01-01 00:02"), (END, "01-01 00:03")
    ]


def test_warnings_count_real_minutes_across_the_dst_change_in_the_events_time_zone():
    # 29 March 2026: Berlin skips from 02:00 to 03:00. A session 01:30–03:02 local lasts 32 minutes.
    start = at(2026, 3, 29, 1, 30, tz=BERLIN)
    end = at(2026, 3, 29, 3, 2, tz=BERLIN)
    plan = plan_session(start, end)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=32)
    assert end - start == timedelta(minutes=92)  # the pitfall: same-zone subtraction is wall-clock
    local = [(p.moment, p.due_at.astimezone(BERLIN).strftime("%H:%M %Z")) for p in plan]
    # 5 minutes before 03:02 CEST is 01:57 CET (wall clock would say 02:57, which never existed).
    assert local == [(START, "01:30 CET"), (WARNING, "01:57 CET"), (WARNING, "03:01 CEST"), (END, "03:02 CEST")]
    assert all(
        end.astimezone(UTC) - p.due_at == timedelta(minutes=p.warning_minutes) for p in plan if p.moment == WARNING
    )

    # And in autumn (25 October 2026, 03:00 CEST → 02:00 CET): 02:58 CET − 5 min is 02:53 CET.
    end = at(2026, 10, 25, 2, 58, tz=BERLIN).replace(fold=1)
    plan = plan_session(at(2026, 10, 25, 2, 40, tz=BERLIN), end)
    assert [p.due_at.astimezone(UTC).strftime("%H:%M") for p in plan] == ["00:40", "01:53", "01:57", "01:58"]


def test_missed_transition_rule():
    end = at(2026, 5, 4, 10, 45)
    late = at(2026, 5, 4, 10, 50)
    assert missed_verdict(END, end, end, late) == "run"  # an end always runs: it closes what the start opened
    assert missed_verdict(WARNING, at(2026, 5, 4, 10, 44), end, late) == "skip"
    assert missed_verdict(START, at(2026, 5, 4, 10, 0), end, late) == "skip"
    assert missed_verdict(START, at(2026, 5, 4, 10, 0), end, at(2026, 5, 4, 10, 20)) == "run"  # late, still useful
    assert missed_verdict(WARNING, at(2026, 5, 4, 10, 40), end, at(2026, 5, 4, 10, 41)) == "run"


def test_times_must_be_aware_and_in_order():
    with pytest.raises(ValueError):
        plan_session(datetime(2026, 5, 4, 10), datetime(2026, 5, 4, 11))
    with pytest.raises(ValueError):
        plan_session(at(2026, 5, 4, 11), at(2026, 5, 4, 10))
