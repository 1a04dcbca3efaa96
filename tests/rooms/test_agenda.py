"""Breakout sessions drive the rooms through the core's agenda actions."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from eventplatform.agenda_actions import Moment, actions_for
from eventplatform.models import Room, Session
from rooms import services
from rooms.models import Assignment, BreakoutRound

pytestmark = pytest.mark.django_db(transaction=True)


def test_breakout_session_opens_warns_and_closes(event, people):
    room = Room.objects.get(event=event, name="Breakout A")
    now = timezone.now()
    session = Session.objects.create(event=event, title="Workshop", kind="workshop", room=room,
                                     start=now, end=now + timedelta(minutes=30))
    transition = SimpleNamespace(id=1, due_at=now, warning_minutes=5)
    names = [a.name for a in actions_for(session, Moment.START)]
    assert "rooms.open_breakouts" in names

    for action in actions_for(session, Moment.START):
        action.func(session, transition)
    for action in actions_for(session, Moment.START):  # delivered twice: nothing new
        action.func(session, transition)
    rnd = BreakoutRound.objects.get()
    assert rnd.state == "open" and rnd.mode == "automatic" and rnd.session_id == session.pk
    assert abs((rnd.ends_at - session.end).total_seconds()) < 2
    # An attendee already on the stage is placed when their client asks for the state.
    assert services.place_arrival(event.pk, people["attendee"].pk)["room"] is not None
    assert services.place_arrival(event.pk, people["moderator"].pk) is None  # moderators choose

    for action in actions_for(session, Moment.WARNING):
        action.func(session, transition)
    assert BreakoutRound.objects.get().warned_at is not None

    for action in actions_for(session, Moment.END):
        action.func(session, transition)
        action.func(session, transition)
    rnd = BreakoutRound.objects.get()
    assert rnd.state == "done" and rnd.closed_by == "agenda"
    assert not Assignment.objects.exists()


def test_talk_on_the_stage_does_not_open_breakouts(event):
    talk = Session.objects.get(event=event, title="Keynote")
    assert [a.name for a in actions_for(talk, Moment.START) if a.name.startswith("rooms.")] == []
