import asyncio
import itertools

import pytest

from chat.models import QA, Channel
from eventplatform.models import Room, Session
from eventplatform.realtime import groups
from eventplatform.realtime.runtime import runtime

_keys = itertools.count(1)


def key() -> str:
    return f"k{next(_keys)}"


@pytest.fixture(autouse=True)
def _fresh_channel_cache():
    from chat import handlers

    handlers._open_channels.clear()
    yield
    handlers._open_channels.clear()


@pytest.fixture
def stage(event):
    return Room.objects.get(event=event, name="Stage")


@pytest.fixture
def talk(event):
    """The keynote on the stage, with its Q&A open."""
    session = Session.objects.get(event=event, title="Keynote")
    QA.objects.update_or_create(session=session, defaults={"is_open": True})
    return session


async def channel_of(client, room_name: str | None = None, kind: str = "stage") -> int:
    reply = await client.request("hello", {})
    assert reply["ok"], reply
    channels = reply["data"]["streams"]["chat"]["data"]["channels"]
    for c in channels:
        if (room_name is None and c["kind"] == kind) or c["name"] == room_name:
            return c["id"]
    raise AssertionError(f"no channel {room_name or kind} in {channels}")


async def enter_room(participant, room_id):
    """What the rooms app does when someone enters a breakout: conn.set_room on their socket."""
    for conn in list(runtime().hub.members.get(groups.user(participant.pk), ())):
        await conn.set_room(room_id)


def breakout_channel(event, name="Breakout A") -> Channel:
    return Channel.objects.get(room__event=event, room__name=name)


async def drop(client):
    """The connection ends (the fixture must not close it a second time)."""
    await client.close()

    async def closed():
        return None

    client.close = closed


async def no_push(client, type_, seconds=0.7):
    """True if no push of this type arrives within `seconds`.

    (A receive that times out cancels the communicator's application, so wait with
    receive_nothing, which does not.)"""
    if any(m.get("type") == type_ for m in client.pushes):
        return False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if await client.communicator.receive_nothing(timeout=left):
            return True
        message = await client.receive()
        if message.get("type") == type_:
            return False
        client.pushes.append(message)
    return True
