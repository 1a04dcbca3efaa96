"""The transition services on the real database and Redis, with the clock under control
(execution is called directly here; tests/transitions/test_worker.py runs it in a real worker)."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from eventplatform import agenda_actions, services
from eventplatform.agenda_actions import Moment
from eventplatform.models import Session
from eventplatform.realtime.envelope import GatewayError
from eventplatform.transitions import services as transitions
from eventplatform.transitions.models import AuditEntry, Transition

pytestmark = pytest.mark.django_db(transaction=True)
S = Transition.State


@pytest.fixture
def planned(event):
    services.agenda_changed(event)
    return event


def _t(session, moment, minutes=0):
    return Transition.objects.get(session=session, moment=moment, warning_minutes=minutes)


def _session(event, title):
    return Session.objects.get(event=event, title=title)


def test_agenda_changed_plans_every_session_and_moves_planned_transitions(planned):
    welcome = _session(planned, "Welcome")
    assert Transition.objects.filter(event=planned).count() == 12  # 3 sessions × (start, 5, 1, end)
    assert _t(welcome, "warning", 5).due_at == welcome.end - timedelta(minutes=5)

    Session.objects.filter(pk=welcome.pk).update(end=welcome.end + timedelta(minutes=7))
    services.agenda_changed(planned)
    assert _t(welcome, "warning", 5).due_at == welcome.end + timedelta(minutes=2)
    assert _t(welcome, "end").due_at == welcome.end + timedelta(minutes=7)
    assert AuditEntry.objects.filter(event=planned, kind="replan").exists()

    # Nothing changed: no new audit entry.
    count = AuditEntry.objects.count()
    services.agenda_changed(planned)
    assert AuditEntry.objects.count() == count


def test_a_transition_runs_once_its_actions_see_the_transition_and_the_audit_says_so(planned, monkeypatch):
    calls = []
    monkeypatch.setitem(
        agenda_actions.AGENDA_ACTIONS, "test.record",
        agenda_actions.AgendaAction("test.record", Moment.START, None, None, lambda s, t: calls.append((s.pk, t.pk))),
    )
    welcome = _session(planned, "Welcome")
    start = _t(welcome, "start")
    assert transitions.run_transition(start.pk, now=start.due_at - timedelta(seconds=5)) == "early"
    assert calls == []
    assert transitions.run_transition(start.pk, now=start.due_at) == "done"
    assert transitions.run_transition(start.pk, now=start.due_at) == "not_planned"
    assert calls == [(welcome.pk, start.pk)]
    start.refresh_from_db()
    assert start.state == S.DONE and start.attempts == 1 and start.late_ms is not None
    entry = AuditEntry.objects.get(transition=start, action="done")
    assert entry.actor is None and "test.record" in entry.detail["actions"] and "core.announce_live" in entry.detail["actions"]


async def test_a_connected_client_gets_the_transition_and_the_notice(planned, people, connect):
    client = await connect(people["attendee"])
    welcome = await sync_to_async(_session)(planned, "Welcome")
    start = await sync_to_async(_t)(welcome, "start")
    assert await sync_to_async(transitions.run_transition)(start.pk, now=start.due_at) == "done"
    pushed = await client.wait_push("agenda.transition")
    assert pushed["id"] == start.pk and pushed["state"] == "done" and pushed["moment"] == "start"
    notice = await client.wait_push("agenda.notice")
    assert notice["kind"] == "live" and notice["session_title"] == "Welcome"
    # The plan push after a transition is coalesced per event by a Celery task (test_worker.py
    # sees it arrive); here, in-process, the task runs directly.
    from eventplatform.transitions.tasks import publish_plan_task

    await sync_to_async(publish_plan_task)(planned.pk)
    plan = await client.wait_push("agenda.plan")
    assert plan["data"][0]["state"] == "done"


def test_a_failing_action_rolls_back_everything_and_is_retried_then_marked_failed(planned, monkeypatch, settings):
    settings.TRANSITIONS = {**settings.TRANSITIONS, "MAX_ATTEMPTS": 2}
    welcome = _session(planned, "Welcome")

    def half_then_fail(session, transition):
        Session.objects.filter(pk=session.pk).update(abstract="half applied")
        raise RuntimeError("stage source unreachable")

    monkeypatch.setitem(
        agenda_actions.AGENDA_ACTIONS, "test.fail",
        agenda_actions.AgendaAction("test.fail", Moment.START, None, None, half_then_fail),
    )
    start = _t(welcome, "start")
    assert transitions.run_transition(start.pk, now=start.due_at) == "retry"
    welcome.refresh_from_db()
    assert welcome.abstract == ""  # the action's write rolled back with the transition
    start.refresh_from_db()
    assert start.state == S.PLANNED and "stage source unreachable" in start.error
    assert transitions.run_transition(start.pk, now=start.due_at) == "failed"
    start.refresh_from_db()
    assert start.state == S.FAILED and start.attempts == 2
    assert list(AuditEntry.objects.filter(transition=start).values_list("action", flat=True).order_by("id")) == [
        "error", "failed"
    ]


def test_a_missed_warning_of_a_session_already_over_is_skipped_and_its_end_still_runs(planned):
    welcome = _session(planned, "Welcome")
    late = welcome.end + timedelta(minutes=3)
    warning = _t(welcome, "warning", 1)
    assert transitions.run_transition(warning.pk, now=late) == "skipped"
    warning.refresh_from_db()
    assert warning.reason == "session_over"
    assert transitions.run_transition(_t(welcome, "end").pk, now=late) == "done"


def test_due_transitions_of_one_session_take_effect_in_order(planned):
    welcome = _session(planned, "Welcome")
    end = _t(welcome, "end")
    # Workers were down for the whole session; the end's task comes first.
    assert transitions.run_transition(end.pk, now=welcome.end + timedelta(seconds=1)) == "done"
    states = {(t.moment, t.warning_minutes): t.state for t in Transition.objects.filter(session=welcome)}
    assert states == {("start", 0): S.SKIPPED, ("warning", 5): S.SKIPPED, ("warning", 1): S.SKIPPED, ("end", 0): S.DONE}
    start_done = Transition.objects.get(session=welcome, moment="start").finished_at
    assert start_done <= Transition.objects.get(session=welcome, moment="end").finished_at


def test_the_reconciler_frees_a_claim_whose_lease_expired(planned):
    welcome = _session(planned, "Welcome")
    start = _t(welcome, "start")
    now = timezone.now()
    Transition.objects.filter(pk=start.pk).update(
        state=S.RUNNING, claim_token="dead", claimed_at=now - timedelta(minutes=1),
        lease_until=now - timedelta(seconds=1), attempts=1,
    )
    result = transitions.reconcile(now=now)
    assert result["freed"] == 1
    start.refresh_from_db()
    assert start.state == S.PLANNED and start.enqueued_for == start.due_at  # and sent again
    assert AuditEntry.objects.filter(transition=start, action="lease_expired").exists()
    assert transitions.run_transition(start.pk, now=max(now, start.due_at)) == "done"
    start.refresh_from_db()
    assert start.attempts == 2


# --- overrides and bad input -------------------------------------------------------------------

async def test_overrides_by_non_moderators_are_refused(planned, people, connect):
    welcome = await sync_to_async(_session)(planned, "Welcome")
    before = await sync_to_async(lambda: list(Transition.objects.values_list("id", "due_at", "state")))()
    for who in ("attendee", "speaker", "staff"):
        client = await connect(people[who])
        for type_, data in [
            ("agenda.start_now", {"session_id": welcome.pk}),
            ("agenda.extend", {"session_id": welcome.pk, "minutes": 5}),
            ("agenda.end_now", {"session_id": welcome.pk}),
            ("agenda.skip", {"transition_id": before[0][0]}),
        ]:
            reply = await client.request(type_, data)
            assert reply["ok"] is False and reply["error"]["code"] == "forbidden", (who, type_)
    after = await sync_to_async(lambda: list(Transition.objects.values_list("id", "due_at", "state")))()
    assert after == before
    assert not await sync_to_async(AuditEntry.objects.filter(kind="override").exists)()


async def test_moderator_extends_and_the_warnings_move_with_the_end(planned, people, connect):
    client = await connect(people["moderator"])
    welcome = await sync_to_async(_session)(planned, "Welcome")
    reply = await client.request("agenda.extend", {"session_id": welcome.pk, "minutes": 10})
    assert reply["ok"], reply
    plan = await client.wait_push("agenda.plan")
    warning = next(t for t in plan["data"] if t["session_id"] == welcome.pk and t["warning_minutes"] == 5)
    new_end = welcome.end + timedelta(minutes=10)
    assert warning["due_at"].startswith((new_end - timedelta(minutes=5)).isoformat()[:19])
    entry = await sync_to_async(lambda: AuditEntry.objects.select_related("actor").get(action="extend"))()
    assert entry.actor_name == "Moderator" and entry.detail["minutes"] == 10

    for bad in [{"session_id": welcome.pk, "minutes": 0}, {"session_id": welcome.pk, "minutes": 500},
                {"session_id": welcome.pk, "minutes": "5"}, {"session_id": welcome.pk}]:
        assert (await client.request("agenda.extend", bad))["error"]["code"] == "invalid"
    assert (await client.request("agenda.extend", {"session_id": 999999, "minutes": 5}))["error"]["code"] == (
        "session_not_found"
    )


def test_extending_a_finished_session_is_refused(planned, people):
    welcome = _session(planned, "Welcome")
    moderator = people["moderator"]
    after_end = welcome.end + timedelta(seconds=1)
    with pytest.raises(GatewayError) as refused:
        transitions.extend(planned, welcome.pk, 5, actor=moderator, now=after_end)
    assert refused.value.code == "session_over"
    # Its end has taken effect: refused even by a clock that lags behind the end.
    assert transitions.run_transition(_t(welcome, "end").pk, now=welcome.end) == "done"
    with pytest.raises(GatewayError) as refused:
        transitions.extend(planned, welcome.pk, 5, actor=moderator, now=welcome.end - timedelta(seconds=2))
    assert refused.value.code == "session_over"
    assert not AuditEntry.objects.filter(action="extend").exists()


def test_end_now_skips_the_remaining_warnings_and_start_now_ends_the_running_session(planned, people):
    moderator = people["moderator"]
    welcome, keynote = _session(planned, "Welcome"), _session(planned, "Keynote")
    now = welcome.start + timedelta(minutes=10)
    transitions.end_now(planned, welcome.pk, actor=moderator, now=now)
    # Agenda edits replan with the real clock; these warnings are due in the future of "now".
    assert _t(welcome, "end").due_at == now
    transitions.start_now(planned, keynote.pk, actor=moderator)
    keynote.refresh_from_db()
    assert abs((keynote.start - timezone.now()).total_seconds()) < 5
    assert _t(keynote, "start").due_at == keynote.start
    with pytest.raises(GatewayError) as refused:
        transitions.start_now(planned, keynote.pk, actor=moderator)
    assert refused.value.code == "session_already_started"


def test_start_now_while_the_previous_session_runs_in_the_room_ends_it(event, people):
    now = timezone.now()
    stage = event.rooms.get(name="Stage")
    Session.objects.filter(event=event).delete()
    running = Session.objects.create(event=event, title="Running", start=now - timedelta(minutes=10),
                                     end=now + timedelta(minutes=10), room=stage)
    nxt = Session.objects.create(event=event, title="Next", start=now + timedelta(minutes=10),
                                 end=now + timedelta(minutes=40), room=stage)
    services.agenda_changed(event)
    transitions.start_now(event, nxt.pk, actor=people["moderator"])
    running.refresh_from_db()
    nxt.refresh_from_db()
    assert running.end == nxt.start
    assert _t(running, "end").due_at == _t(nxt, "start").due_at
    assert _t(running, "end").order < _t(nxt, "start").order  # the room closes before it reopens
    # Its warnings were due before its new end and are now moot.
    assert {_t(running, "warning", 5).state, _t(running, "warning", 1).state} == {S.SKIPPED}


async def test_skip_leaves_out_one_planned_transition(planned, people, connect):
    client = await connect(people["moderator"])
    welcome = await sync_to_async(_session)(planned, "Welcome")
    warning = await sync_to_async(_t)(welcome, "warning", 5)
    reply = await client.request("agenda.skip", {"transition_id": warning.pk})
    assert reply["ok"] and reply["data"]["transition"]["state"] == "skipped"
    pushed = await client.wait_push("agenda.transition")
    assert pushed["id"] == warning.pk and pushed["reason"] == "skipped_by_moderator"
    again = await client.request("agenda.skip", {"transition_id": warning.pk})
    assert again["error"]["code"] == "transition_not_planned"
    assert await sync_to_async(transitions.run_transition)(warning.pk, now=warning.due_at) == "not_planned"


async def test_an_agenda_whose_sessions_overlap_in_one_room_is_refused(planned, people, connect):
    client = await connect(people["organizer"])
    welcome = await sync_to_async(_session)(planned, "Welcome")
    keynote = await sync_to_async(_session)(planned, "Keynote")
    before = await sync_to_async(lambda: list(Transition.objects.values_list("id", "due_at")))()
    reply = await client.request("agenda.move", {
        "session_id": welcome.pk, "start": welcome.start.isoformat(),
        "end": (keynote.start + timedelta(minutes=5)).isoformat(),
    })
    assert reply["ok"] is False and reply["error"]["code"] == "agenda_overlap"
    assert "Keynote" in reply["error"]["message"] and "Stage" in reply["error"]["message"]
    await sync_to_async(welcome.refresh_from_db)()
    assert welcome.end == keynote.start - timedelta(minutes=15)  # unchanged
    assert await sync_to_async(lambda: list(Transition.objects.values_list("id", "due_at")))() == before
    # Extending into the next session in the same room is refused the same way.
    moderator = await connect(people["moderator"])
    reply = await moderator.request("agenda.extend", {"session_id": welcome.pk, "minutes": 30})
    assert reply["error"]["code"] == "agenda_overlap"
    # A moderator may not move sessions at all.
    reply = await moderator.request("agenda.move", {
        "session_id": welcome.pk, "start": welcome.start.isoformat(), "end": welcome.end.isoformat()})
    assert reply["error"]["code"] == "forbidden"
    # The whole-agenda check names the clash too.
    await sync_to_async(Session.objects.filter(pk=welcome.pk).update)(end=keynote.start + timedelta(minutes=5))
    with pytest.raises(GatewayError) as refused:
        await sync_to_async(transitions.refuse_overlaps)(planned)
    assert refused.value.code == "agenda_overlap"


async def test_an_organizer_moves_a_session_and_its_transitions_follow(planned, people, connect):
    client = await connect(people["organizer"])
    wrap = await sync_to_async(_session)(planned, "Wrap-up")
    new_start = wrap.start + timedelta(hours=2)
    reply = await client.request("agenda.move", {
        "session_id": wrap.pk, "start": new_start.isoformat(), "end": (new_start + timedelta(minutes=30)).isoformat(),
    })
    assert reply["ok"], reply
    assert (await sync_to_async(_t)(wrap, "start")).due_at == new_start
    assert (await sync_to_async(_t)(wrap, "warning", 5)).due_at == new_start + timedelta(minutes=25)
    warn = await client.request("agenda.set_warnings", {"minutes": [10, 2]})
    assert warn["ok"] and warn["data"]["minutes"] == [10, 2]
    minutes = await sync_to_async(lambda: set(Transition.objects.filter(session=wrap, moment="warning")
                                             .values_list("warning_minutes", flat=True)))()
    assert minutes == {10, 2}
    bad = await client.request("agenda.set_warnings", {"minutes": [0]})
    assert bad["error"]["code"] == "bad_warnings"
    # Into a room that does not exist, or with the end before the start: refused, nothing moves.
    times = {"start": new_start.isoformat(), "end": (new_start + timedelta(minutes=30)).isoformat()}
    missing = await client.request("agenda.move", {"session_id": wrap.pk, "room_id": 999999, **times})
    assert missing["error"]["code"] == "room_not_found"
    backwards = await client.request("agenda.move", {"session_id": wrap.pk, "start": times["end"], "end": times["start"]})
    assert backwards["error"]["code"] == "agenda_invalid"
    assert (await sync_to_async(_t)(wrap, "start")).due_at == new_start


def test_organizers_read_the_audit_log_in_the_back_office_and_cannot_edit_it(planned, people, client):
    from django.contrib.auth import get_user_model

    welcome = _session(planned, "Welcome")
    transitions.extend(planned, welcome.pk, 5, actor=people["moderator"])
    admin = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw")
    client.force_login(admin)
    page = client.get("/admin/eventplatform/auditentry/")
    assert page.status_code == 200
    assert "extend" in page.content.decode() and "Moderator" in page.content.decode()
    assert client.get("/admin/eventplatform/transition/").status_code == 200
    entry = AuditEntry.objects.get(action="extend")
    assert client.get("/admin/eventplatform/auditentry/add/").status_code == 403
    assert client.post(f"/admin/eventplatform/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
