"""A barcamp on the shared test event: three rooms (hall on site, two hybrid breakouts) and
three slots after the core's stage sessions, the middle one blocked for lunch."""

from datetime import timedelta

import pytest

from barcamp import services
from eventplatform.models import Room


@pytest.fixture
def camp(event, people):
    rooms = {r.name: r for r in Room.objects.filter(event=event)}
    hall = Room.objects.create(event=event, name="Hall", kind=Room.Kind.ONSITE, position=3)
    services.add_room(event, hall, capacity=60, mode="onsite")
    services.add_room(event, rooms["Breakout A"], capacity=20, mode="hybrid", streamable=True)
    services.add_room(event, rooms["Breakout B"], capacity=10, mode="hybrid")
    base = event.start.replace(minute=0, second=0) + timedelta(hours=5)
    slots = [
        services.add_slot(event, base, base + timedelta(minutes=45)),
        services.add_slot(event, base + timedelta(hours=1), base + timedelta(hours=2), blocked=True, label="Lunch"),
        services.add_slot(event, base + timedelta(hours=2), base + timedelta(hours=2, minutes=45)),
    ]
    services.configure(people["organizer"], voting_open=True)
    return {"event": event, "slots": slots, "hall": hall, "rooms": rooms}


@pytest.fixture
async def settled():
    """After a socket test: stop pending vote-count publishers and close the database connection
    of the worker thread they use, so PostgreSQL can drop the test database."""
    yield
    import asyncio

    from channels.db import database_sync_to_async
    from django.db import connections

    from barcamp import handlers

    for task in list(handlers._timers):
        task.cancel()
    await asyncio.gather(*handlers._timers, return_exceptions=True)
    await database_sync_to_async(connections.close_all)()
