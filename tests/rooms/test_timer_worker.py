"""The round's timer with a real Celery worker: it warns, then closes the rooms once."""

import asyncio
import pytest
from channels.db import database_sync_to_async

from eventplatform.models import Room
from rooms import services, tasks
from rooms.models import Assignment, BreakoutRound
from tests.rooms.processes import celery_worker as worker  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_timer_warns_and_closes_rooms_with_a_real_worker(event, people, connect, worker, settings):
    settings.ROOMS = {**settings.ROOMS, "WARNING_SECONDS": 2}
    a = await database_sync_to_async(Room.objects.get)(event=event, name="Breakout A")
    mod = await connect(people["moderator"])
    alice = await connect(people["attendee"])
    opened = await mod.request("rooms.open", {"mode": "manual", "duration_s": 10})
    assert opened["ok"], opened
    await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [people["attendee"].pk]})
    assert (await alice.wait_push("rooms.assignment"))["room"]["id"] == a.pk
    # Clients count down to an absolute time.
    assert opened["data"]["ends_at"] is not None
    warning = await alice.wait_push("rooms.warning", timeout=15)
    assert warning["round_id"] == opened["data"]["id"]
    back = await alice.wait_push("rooms.assignment", timeout=15, where=lambda d: d["room"] is None)
    assert back["room"] is None
    closed = await alice.wait_push("rooms.round", where=lambda d: d["state"] == "done")
    assert closed["id"] == opened["data"]["id"]
    rnd = await database_sync_to_async(BreakoutRound.objects.get)(pk=opened["data"]["id"])
    assert rnd.state == "done" and rnd.closed_by == "timer" and rnd.warned_at is not None
    assert not await database_sync_to_async(Assignment.objects.exists)()
    # A repeated delivery (the reconciler, or the broker redelivering) changes nothing.
    await database_sync_to_async(tasks.close_round.apply_async)((rnd.pk,))
    await database_sync_to_async(tasks.reconcile_rounds.delay)()
    time_before = rnd.closed_at
    await asyncio.sleep(1.5)
    again = await database_sync_to_async(BreakoutRound.objects.get)(pk=rnd.pk)
    assert again.closed_at == time_before
    assert await database_sync_to_async(services.close_round)(rnd.pk) is False


def test_extended_timer_is_not_closed_by_the_old_task(event, people):
    rnd = services.open_round(event.pk, duration_s=10)
    services.set_timer(event.pk, 3600)
    # The ETA task for the old end runs: the round is not due, nothing happens.
    assert tasks.close_round(rnd.pk) is False
    assert BreakoutRound.objects.get(pk=rnd.pk).state == "open"
