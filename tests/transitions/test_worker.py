"""Transitions in a real Celery worker and beat over the real Redis broker.

Transitions are due 1–3 s ahead so the tests stay short. The clock is the real one here.
"""

import asyncio
import os
import signal
from datetime import timedelta

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from eventplatform import services
from eventplatform.models import Session
from eventplatform.transitions import services as transitions
from eventplatform.transitions.models import AuditEntry, Transition
from eventplatform.transitions.tasks import run_transition_task
from tests.transitions.worker_app import redis_key

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
S = Transition.State


@sync_to_async
def fresh_session(event, title, *, kind="talk", room="Stage", starts_in=2.0, minutes=30) -> Session:
    """The fixture's sessions removed; one session starting `starts_in` seconds from now, planned."""
    Session.objects.filter(event=event).exclude(title__startswith="T:").delete()
    start = timezone.now() + timedelta(seconds=starts_in)
    session = Session.objects.create(
        event=event, title=f"T:{title}", kind=kind, start=start, end=start + timedelta(minutes=minutes),
        room=event.rooms.get(name=room),
    )
    services.agenda_changed(event)
    return session


@sync_to_async
def transition(session, moment="start", minutes=0) -> Transition:
    return Transition.objects.get(session=session, moment=moment, warning_minutes=minutes)


async def wait_for(predicate, timeout=15.0, interval=0.1):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await sync_to_async(predicate)()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(interval)


def abstract(session) -> str:
    return Session.objects.values_list("abstract", flat=True).get(pk=session.pk)


async def test_a_transition_fires_on_time_and_a_connected_client_sees_it(event, people, celery_procs, connect):
    celery_procs("worker")
    celery_procs("beat")
    client = await connect(people["attendee"])
    session = await fresh_session(event, "Opening", starts_in=2.0)
    start = await transition(session)
    assert start.enqueued_for == start.due_at  # sent as an ETA task at once, not at the next sweep

    notice = await client.wait_push("agenda.notice", where=lambda d: d["kind"] == "live", timeout=10)
    received_at = timezone.now()
    assert notice["session_title"] == "T:Opening" and notice["room_id"] == session.room_id
    pushed = await client.wait_push("agenda.transition", where=lambda d: d["id"] == start.pk)
    assert pushed["state"] == "done"
    plan = await client.wait_push("agenda.plan", where=lambda d: any(t["id"] == start.pk and t["state"] == "done"
                                                                     for t in d["data"]))
    assert plan["cursor"] > 0
    await sync_to_async(start.refresh_from_db)()
    assert start.state == S.DONE and start.attempts == 1
    # Not before its time, and not a sweep later either (the figures are in bench/).
    assert start.finished_at >= start.due_at - timedelta(milliseconds=100)
    assert received_at - start.due_at < timedelta(seconds=3), received_at - start.due_at
    entry = await sync_to_async(AuditEntry.objects.get)(transition=start, action="done")
    assert "core.announce_live" in entry.detail["actions"]


async def test_the_same_task_delivered_twice_applies_once(event, celery_procs):
    celery_procs("worker")
    celery_procs("worker")  # two workers race for the copies
    session = await fresh_session(event, "Networking", kind="networking", starts_in=1.5)
    start = await transition(session)
    # Three more deliveries of the same task at its due time, one early, one long after.
    for _ in range(3):
        run_transition_task.apply_async(args=[start.pk], eta=start.due_at)
    run_transition_task.apply_async(args=[start.pk])
    await wait_for(lambda: Transition.objects.get(pk=start.pk).state == S.DONE)
    run_transition_task.apply_async(args=[start.pk])
    await asyncio.sleep(1.5)  # give every duplicate time to arrive
    assert await sync_to_async(abstract)(session) == "[applied]"
    assert await sync_to_async(AuditEntry.objects.filter(transition=start, action="done").count)() == 1
    await sync_to_async(start.refresh_from_db)()
    assert start.attempts == 1


async def test_a_worker_killed_mid_transition_leaves_no_half_state_and_another_completes_it(event, celery_procs):
    r = redis.Redis.from_url(settings.REDIS_URL)
    first = celery_procs("worker")
    celery_procs("beat")
    session = await fresh_session(event, "Workshop", kind="workshop", room="Breakout A", starts_in=1.0)
    start = await transition(session)

    await wait_for(lambda: r.get(redis_key("entered", start.pk)) == b"1")  # the action is blocked half-way
    claimed = await sync_to_async(Transition.objects.get)(pk=start.pk)
    assert claimed.state == S.RUNNING and claimed.attempts == 1
    assert await sync_to_async(abstract)(session) == ""  # its first half is not committed

    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    await asyncio.sleep(0.5)
    assert await sync_to_async(abstract)(session) == ""  # nothing half applied
    assert (await sync_to_async(Transition.objects.get)(pk=start.pk)).state == S.RUNNING

    r.rpush(redis_key("release", start.pk), "go")  # the next attempt may pass
    celery_procs("worker")
    await wait_for(lambda: Transition.objects.get(pk=start.pk).state == S.DONE, timeout=20)
    assert await sync_to_async(abstract)(session) == "[first half][second half]"
    done = await sync_to_async(Transition.objects.get)(pk=start.pk)
    assert done.attempts == 2 and r.get(redis_key("entered", start.pk)) == b"2"
    actions = await sync_to_async(
        lambda: list(AuditEntry.objects.filter(transition=start).order_by("id").values_list("action", flat=True))
    )()
    assert actions == ["lease_expired", "done"]


async def test_an_override_while_a_transition_is_due_replans_it(event, people, celery_procs, connect):
    celery_procs("worker")
    celery_procs("beat")
    moderator = await connect(people["moderator"])
    session = await fresh_session(event, "Panel", starts_in=-60, minutes=1.05)  # ends in ~3 s
    end = await transition(session, "end")
    assert end.enqueued_for == end.due_at  # its ETA task is on its way

    reply = await moderator.request("agenda.extend", {"session_id": session.pk, "minutes": 1})
    assert reply["ok"], reply
    await asyncio.sleep((end.due_at - timezone.now()).total_seconds() + 1.5)  # past the old due time
    moved = await sync_to_async(Transition.objects.get)(pk=end.pk)
    assert moved.state == S.PLANNED and moved.due_at == end.due_at + timedelta(minutes=1)
    # The "1 minute left" warning moved with the end: it fired (again) one minute before the new end.
    warning = await transition(session, "warning", 1)
    assert warning.due_at == end.due_at and warning.state == S.DONE

    # "End now" instead: the end takes effect at once.
    reply = await moderator.request("agenda.end_now", {"session_id": session.pk})
    assert reply["ok"], reply
    pushed = await moderator.wait_push("agenda.transition", where=lambda d: d["id"] == end.pk, timeout=10)
    assert pushed["state"] == "done"
    overrides = await sync_to_async(
        lambda: list(AuditEntry.objects.filter(kind="override").values_list("action", "actor_name").order_by("id"))
    )()
    assert overrides == [("extend", "Moderator"), ("end_now", "Moderator")]


async def test_an_agenda_edit_moves_its_transitions(event, people, celery_procs):
    celery_procs("worker")
    session = await fresh_session(event, "Keynote", starts_in=1.5)
    start = await transition(session)
    later = start.due_at + timedelta(seconds=2.5)
    await sync_to_async(transitions.move_session)(
        session, start=later, end=session.end, actor=people["organizer"]
    )
    await asyncio.sleep((start.due_at - timezone.now()).total_seconds() + 1.0)
    assert (await transition(session)).state == S.PLANNED  # the old due time passed: nothing happened
    await wait_for(lambda: Transition.objects.get(pk=start.pk).state == S.DONE, timeout=10)
    moved = await transition(session)
    assert moved.due_at == later and moved.finished_at >= later - timedelta(milliseconds=100)
    assert await sync_to_async(AuditEntry.objects.filter(action="move").exists)()
