"""WHIP in, WHEP out, through real daphne and a real relay process, with real aiortc peers."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from eventplatform.models import Room
from streams import services
from tests.conftest import LiveSocket
from tests.streams.fixtures import relay  # noqa: F401  (fixture)
from tests.streams.peers import Publisher, Viewer, ahttp, json_body

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def stage(event):
    return Room.objects.get(event=event, kind="stage")


def _key(people, stage, who="speaker"):
    return services.issue_key(people[who], room_id=stage.pk, label=who)[1]


async def _wait_frames(viewer, count, timeout=20):
    deadline = time.monotonic() + timeout
    while len(viewer.frames) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return len(viewer.frames)


async def test_publish_play_join_midstream_and_end(people, stage, daphne, relay):
    port, _ = daphne()
    relay()
    base = f"http://127.0.0.1:{port}"
    key = await sync_to_async(_key)(people, stage)
    watcher = await LiveSocket.open(port, "testcamp", people["attendee"].ticket.secret)
    moderator = await LiveSocket.open(port, "testcamp", people["moderator"].ticket.secret)
    speaker = await LiveSocket.open(port, "testcamp", people["speaker"].ticket.secret)
    for socket in (watcher, moderator, speaker):
        assert (await socket.request("hello"))["ok"]

    publisher = Publisher(base, stage.pk, key)
    status, headers, body = await publisher.start()
    assert status == 201, body
    # Going live switches every player (a push, no reload).
    pushed = await watcher.wait_push("stage.source", where=lambda d: d["live"])
    assert pushed["room_id"] == stage.pk
    assert headers["Content-Type"] == "application/sdp"
    assert headers["Location"].startswith(f"/api/streams/{stage.pk}/whip/")
    assert body.startswith(b"v=0")

    first = Viewer(base, stage.pk, people["attendee"].ticket.secret)
    second = Viewer(base, stage.pk, people["attendee2"].ticket.secret)
    for viewer in (first, second):
        status, headers, body = await viewer.start()
        assert status == 201, body
        assert headers["Location"].startswith(f"/api/streams/{stage.pk}/whep/")
    # Both decode the relayed (never re-encoded) picture at the publisher's size.
    assert await _wait_frames(first, 30) >= 30
    assert await _wait_frames(second, 30) >= 30
    assert {(w, h) for _, w, h, _ in first.frames + second.frames} == {(640, 360)}
    # Moderators get the viewer count (coalesced), the speaker the stream's health.
    await moderator.wait_push("stage.viewers", where=lambda d: d["viewers"] == 2)
    assert not [p for p in watcher.pushes if p["type"] == "stage.viewers"]
    await asyncio.sleep(1.2)
    health = await speaker.request("stage.health", {"room_id": stage.pk})
    assert health["data"]["live"] and health["data"]["viewers"] == 2
    assert health["data"]["fps"] > 10 and health["data"]["bitrate_kbps"] > 5
    assert health["data"]["codec"] == "video/VP8"
    assert (await watcher.request("stage.health", {"room_id": stage.pk}))["error"]["code"] == "forbidden"

    # Someone joining mid-stream starts with a keyframe within 2 s (the relay asks the publisher).
    await asyncio.sleep(2)
    late = Viewer(base, stage.pk, people["moderator"].ticket.secret, decode=False)
    status, _, body = await late.start()
    assert status == 201, body
    await asyncio.wait_for(late.first_frame.wait(), timeout=10)
    arrived, _, _, keyframe = late.frames[0]
    assert keyframe is True
    assert arrived - late.started_at < 2.0

    # The publisher stops: every viewer sees the end of the stream.
    status, _, _ = await ahttp("DELETE", base + publisher.location, headers={"Authorization": f"Bearer {key}"})
    assert status == 200
    await publisher.close()
    for viewer in (first, second, late):
        await asyncio.wait_for(viewer.ended.wait(), timeout=15)
        await viewer.close()

    assert (await watcher.wait_push("stage.source", where=lambda d: not d["live"]))["room_id"] == stage.pk
    for socket in (watcher, moderator, speaker):
        await socket.close()

    # Nothing live now: a clear state with what the player should show instead.
    nobody = Viewer(base, stage.pk, people["attendee"].ticket.secret)
    status, _, body = await nobody.start()
    assert status == 404 and json_body(body)["error"] == "nothing_live"
    assert json_body(body)["stage"]["room_id"] == stage.pk
    await nobody.close()


async def test_whip_refusals(people, stage, daphne, relay):
    port, _ = daphne()
    relay()
    base = f"http://127.0.0.1:{port}"
    key = await sync_to_async(_key)(people, stage)
    other_key = await sync_to_async(_key)(people, stage, "moderator")
    url = f"{base}/api/streams/{stage.pk}/whip"
    sdp_headers = {"Content-Type": "application/sdp"}
    offer = (await Publisher(base, stage.pk, key).offer()).encode()

    status, headers, body = await ahttp("POST", url, offer, sdp_headers)
    assert status == 401 and json_body(body)["error"] == "key_invalid" and "Bearer" in headers["WWW-Authenticate"]
    status, _, _ = await ahttp("POST", url, offer, {**sdp_headers, "Authorization": "Bearer sk_wrong"})
    assert status == 401
    auth = {**sdp_headers, "Authorization": f"Bearer {key}"}
    status, _, body = await ahttp("POST", url, b"hello, this is not sdp", auth)
    assert status == 400 and json_body(body)["error"] == "sdp_invalid"
    status, _, body = await ahttp("POST", url, b"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nnonsense", auth)
    assert status == 400 and json_body(body)["error"] == "sdp_invalid"
    status, _, body = await ahttp("POST", url, b"v=0\r\n" + b"a=x\r\n" * 20000, auth)
    assert status == 413 and json_body(body)["error"] == "sdp_too_large"
    status, _, _ = await ahttp("POST", url, offer, {"Content-Type": "text/plain", "Authorization": f"Bearer {key}"})
    assert status == 415

    publisher = Publisher(base, stage.pk, key)
    assert (await publisher.start())[0] == 201
    second = Publisher(base, stage.pk, other_key)
    status, _, body = await second.start()
    assert status == 409 and json_body(body)["error"] == "stage_busy"
    await second.close()

    resource = base + publisher.location
    assert (await ahttp("PATCH", resource, b"", {"Authorization": f"Bearer {key}"}))[0] == 405
    # Someone else's resource: another valid key of the stage may not end it; no key is 401.
    status, _, body = await ahttp("DELETE", resource, headers={"Authorization": f"Bearer {other_key}"})
    assert status == 403 and json_body(body)["error"] == "not_owner"
    assert (await ahttp("DELETE", resource))[0] == 401
    status, _, _ = await ahttp("DELETE", resource + "x", headers={"Authorization": f"Bearer {key}"})
    assert status == 404

    # A viewer may not end another viewer's playback.
    viewer = Viewer(base, stage.pk, people["attendee"].ticket.secret, decode=False)
    assert (await viewer.start())[0] == 201
    status, _, _ = await ahttp(
        "DELETE", base + viewer.location, headers={"Authorization": f"Bearer {people['attendee2'].ticket.secret}"}
    )
    assert status == 403
    status, _, _ = await ahttp(
        "DELETE", base + viewer.location, headers={"Authorization": f"Bearer {people['attendee'].ticket.secret}"}
    )
    assert status == 200
    await viewer.close()

    # WHEP without a ticket or session: 401.
    status, _, _ = await ahttp("POST", f"{base}/api/streams/{stage.pk}/whep", offer, sdp_headers)
    assert status == 401

    # Revoking the key ends the ingest that uses it.
    await sync_to_async(services.revoke_key)(people["moderator"], key_id=(await sync_to_async(_key_id)(key)))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        third = Publisher(base, stage.pk, other_key)
        status, _, _ = await third.start()
        if status == 201:
            break
        await third.close()
        await asyncio.sleep(0.3)
    assert status == 201
    await third.close()
    await publisher.close()


def _key_id(secret):
    from streams.models import StreamKey, hash_stream_key

    return StreamKey.objects.get(key_hash=hash_stream_key(secret)).pk


async def test_over_capacity_answers_503_with_the_fallback(people, stage, daphne, relay):
    port, _ = daphne()
    relay(args=["--max-viewers", "1"])
    base = f"http://127.0.0.1:{port}"

    def configure():
        services.set_source(
            people["moderator"], room_id=stage.pk, session_id=None, kind="relay", url="",
            fallback_url="https://cdn.example.org/stage/index.m3u8",
        )
        return _key(people, stage)

    key = await sync_to_async(configure)()
    publisher = Publisher(base, stage.pk, key)
    assert (await publisher.start())[0] == 201
    first = Viewer(base, stage.pk, people["attendee"].ticket.secret, decode=False)
    assert (await first.start())[0] == 201
    second = Viewer(base, stage.pk, people["attendee2"].ticket.secret, decode=False)
    status, headers, body = await second.start()
    assert status == 503 and json_body(body)["error"] == "over_capacity"
    assert json_body(body)["stage"]["fallback_url"] == "https://cdn.example.org/stage/index.m3u8"
    assert "cdn.example.org" in headers["Link"]
    for peer in (first, second, publisher):
        await peer.close()
