"""A relay tree: two real relay processes, each capped; the second serves a viewer through the
ingest; over capacity everywhere a viewer gets 503 with the stage's fallback. Real daphne, real
Redis, real aiortc peers."""

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from eventplatform.models import Room
from streams import relay_link, services
from tests.streams.fixtures import relay  # noqa: F401  (fixture)
from tests.streams.peers import Publisher, Viewer, ahttp, json_body

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


async def _registered(count: int, timeout: float = 30) -> list[dict]:
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = await relay_link.processes(client)
            if len(alive) >= count:
                return alive
            await asyncio.sleep(0.2)
        return await relay_link.processes(client)
    finally:
        await client.aclose()


async def _wait(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return condition()


async def test_a_second_relay_serves_through_the_ingest_and_full_means_503(people, event, daphne, relay):
    stage = await sync_to_async(Room.objects.get)(event=event, kind="stage")
    port, _ = daphne()
    relay(args=["--max-viewers", "1"])
    relay(args=["--max-viewers", "1"])
    assert len(await _registered(2)) == 2
    base = f"http://127.0.0.1:{port}"

    def configure():
        services.set_source(
            people["moderator"], room_id=stage.pk, session_id=None, kind="relay", url="",
            fallback_url="https://cdn.example.org/stage/index.m3u8",
        )
        return services.issue_key(people["speaker"], room_id=stage.pk, label="speaker")[1]

    key = await sync_to_async(configure)()
    publisher = Publisher(base, stage.pk, key)
    assert (await publisher.start())[0] == 201

    first = Viewer(base, stage.pk, people["attendee"].ticket.secret)
    second = Viewer(base, stage.pk, people["attendee2"].ticket.secret)
    for viewer in (first, second):
        status, _, body = await viewer.start()
        assert status == 201, body

    # One viewer on each process: the ingest's own, and one the other process pulls for.
    alive = await _registered(2)
    ingest = relay_link.ingest_of(stage.pk, alive)
    edge = next(p for p in alive if p is not ingest)
    assert ingest["viewers"] == 1 and edge["viewers"] == 1
    assert edge["stages"] == {str(stage.pk): 1} and edge["ingest"] == []
    assert first.location.split("/")[-1].startswith(ingest["id"] + ".")
    assert second.location.split("/")[-1].startswith(edge["id"] + ".")

    # Both decode the publisher's picture; the edge viewer's went through two relay processes.
    assert await _wait(lambda: len(first.frames) >= 30 and len(second.frames) >= 30)
    assert {(w, h) for _, w, h, _ in first.frames + second.frames} == {(640, 360)}

    # Every process is full: 503 with Retry-After and the fallback the player switches to.
    third = Viewer(base, stage.pk, people["moderator"].ticket.secret, decode=False)
    status, headers, body = await third.start()
    assert status == 503 and json_body(body)["error"] == "over_capacity"
    assert headers["Retry-After"] and "cdn.example.org" in headers["Link"]
    assert json_body(body)["stage"]["fallback_url"] == "https://cdn.example.org/stage/index.m3u8"
    await third.close()

    # Leaving frees the edge's place (its DELETE reaches the process that serves it).
    status, _, _ = await ahttp("DELETE", base + second.location,
                               headers={"Authorization": f"Bearer {people['attendee2'].ticket.secret}"})
    assert status == 200
    await second.close()
    again = Viewer(base, stage.pk, people["moderator"].ticket.secret, decode=False)
    status, _, body = await again.start()
    assert status == 201, body
    assert again.location.split("/")[-1].startswith(edge["id"] + ".")
    await asyncio.wait_for(again.first_frame.wait(), timeout=15)
    assert again.frames[0][3] is True  # it starts at a keyframe (asked for through the tree)

    # The publisher stops: viewers on both processes see the end of the stream.
    status, _, _ = await ahttp("DELETE", base + publisher.location, headers={"Authorization": f"Bearer {key}"})
    assert status == 200
    await publisher.close()
    for viewer in (first, again):
        await asyncio.wait_for(viewer.ended.wait(), timeout=15)
        await viewer.close()
