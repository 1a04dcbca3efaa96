from types import SimpleNamespace

import pytest

from eventplatform import agenda_actions
from eventplatform.agenda_actions import Moment, actions_for, agenda_action


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(agenda_actions, "AGENDA_ACTIONS", {})
    return agenda_actions


def _session(kind, room_kind):
    room = SimpleNamespace(kind=room_kind) if room_kind else None
    return SimpleNamespace(kind=kind, room=room, room_id=1 if room else None)


def test_actions_match_moment_session_kind_and_room_kind(registry):
    calls = []
    agenda_action("b.stage_talks", moment=Moment.START, session_kinds={"talk"}, room_kinds={"stage"})(calls.append)
    agenda_action("a.every_start", moment=Moment.START)(calls.append)
    agenda_action("c.breakout_end", moment="end", room_kinds={"breakout"})(calls.append)

    talk_on_stage = _session("talk", "stage")
    assert [a.name for a in actions_for(talk_on_stage, Moment.START)] == ["a.every_start", "b.stage_talks"]
    assert actions_for(talk_on_stage, Moment.END) == []
    assert [a.name for a in actions_for(_session("workshop", "breakout"), Moment.END)] == ["c.breakout_end"]
    assert [a.name for a in actions_for(_session("break", None), Moment.START)] == ["a.every_start"]


def test_an_action_name_is_registered_once(registry):
    agenda_action("x", moment=Moment.END)(print)
    with pytest.raises(ValueError):
        agenda_action("x", moment=Moment.END)(print)
