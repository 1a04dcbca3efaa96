"""The event socket over a real Redis: snapshot, presence, resume, refusals."""

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.utils import timezone

from eventplatform import services
from eventplatform.models import Session

pytestmark = pytest.mark.django_db(transaction=True)


async def test_connect_with_ticket_gets_snapshot(people, connect):
    client = await connect(people["attendee"])
    reply = await client.request("hello")
    assert reply["ok"] is True
    snapshot = reply["data"]
    assert snapshot["event"]["slug"] == "testcamp"
    assert snapshot["event"]["languages"] == ["de", "en"]
    assert snapshot["me"] == {
        "participant_id": people["attendee"].pk,
        "name": "Attendee",
        "roles": ["attendee"],
        "attendance": "online",
    }
    agenda = snapshot["streams"]["agenda"]
    assert agenda["mode"] == "full"
    assert [s["title"] for s in agenda["data"]["sessions"]] == ["Welcome", "Keynote", "Wrap-up"]
    assert {r["kind"] for r in agenda["data"]["rooms"]} == {"stage", "breakout"}
    assert snapshot["presence"]["count"] == 1
    assert snapshot["presence"]["participants"][0]["id"] == people["attendee"].pk


async def test_second_client_appears_in_presence_and_disappears(people, connect):
    first = await connect(people["attendee"])
    await first.request("hello")
    second = await connect(people["speaker"])
    update = await first.wait_push("presence.update", where=lambda d: d["count"] == 2)
    assert {p["name"] for p in update["participants"]} == {"Attendee", "Speaker"}
    speaker = next(p for p in update["participants"] if p["name"] == "Speaker")
    assert speaker["roles"] == ["attendee", "speaker"]

    await second.close()
    update = await first.wait_push("presence.update", where=lambda d: d["count"] == 1)
    assert [p["name"] for p in update["participants"]] == ["Attendee"]


async def test_two_tabs_of_one_person_count_once(people, connect):
    tab1 = await connect(people["attendee"])
    await connect(people["attendee"])
    await connect(people["attendee2"])
    moderator = await connect(people["moderator"])
    # Four sockets, three people: the coalesced update reads fresh and counts each person once.
    update = await tab1.wait_push("presence.update", where=lambda d: d["count"] == 3)
    assert sorted(p["name"] for p in update["participants"]) == ["Attendee", "Attendee2", "Moderator"]
    listing = (await moderator.request("presence.list"))["data"]
    assert listing["count"] == 3
    assert [p["name"] for p in listing["participants"]].count("Attendee") == 1


async def test_resume_with_current_cursor_is_unchanged_and_edits_arrive(people, event, connect):
    client = await connect(people["attendee"])
    cursor = (await client.request("hello"))["data"]["streams"]["agenda"]["cursor"]

    # reconnect with the cursor it holds: nothing to send again
    await client.close()
    client = await connect(people["attendee"])
    resumed = (await client.request("hello", {"resume": {"agenda": cursor}}))["data"]
    assert resumed["streams"]["agenda"] == {"mode": "unchanged", "cursor": cursor, "data": None}

    # an agenda edit while connected arrives as a push with the next cursor
    await sync_to_async(_rename_first_session)(event, "Guten Morgen")
    update = await client.wait_push("agenda.update")
    assert update["cursor"] == cursor + 1
    assert update["data"]["sessions"][0]["title"] == "Guten Morgen"

    # a client that was away during an edit gets the fresh agenda when it resumes
    await client.close()
    await sync_to_async(_rename_first_session)(event, "Moin")
    client = await connect(people["attendee"])
    resumed = (await client.request("hello", {"resume": {"agenda": cursor + 1}}))["data"]
    assert resumed["streams"]["agenda"]["mode"] == "full"
    assert resumed["streams"]["agenda"]["cursor"] == cursor + 2
    assert resumed["streams"]["agenda"]["data"]["sessions"][0]["title"] == "Moin"


def _rename_first_session(event, title):
    session = Session.objects.filter(event=event).order_by("start").first()
    session.title = title
    session.save()
    services.agenda_changed(event)


# --- refusals: each answered with a clear error, the connection stays usable -------------------


async def _still_usable(client):
    reply = await client.request("ping")
    assert reply["ok"] is True, reply


@pytest.mark.parametrize(
    "frame, code",
    [
        ("this is not json", "bad_json"),
        ("[1, 2, 3]", "bad_envelope"),
        ('"hello"', "bad_envelope"),
        ('{"id": null, "type": "ping", "data": {}}', "bad_envelope"),  # an id, but none to reply to
        ('{"id": -1, "type": "ping", "data": {}}', "bad_envelope"),
        ('{"type": "ping", "data": []}', "bad_envelope"),  # a notification whose data is no object
    ],
)
async def test_malformed_frames_get_connection_level_errors(people, connect, frame, code):
    client = await connect(people["attendee"])
    await client.send_raw(frame)
    error = await client.receive()
    assert error["type"] == "error"
    assert error["error"]["code"] == code
    assert error["error"]["message"]
    await _still_usable(client)


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"id": 5, "type": "no.such.thing", "data": {}}, "unknown_type"),
        ({"id": 5, "type": "hello", "data": {"resume": "agenda"}}, "invalid"),  # wrong type
        ({"id": 5, "type": "hello", "data": {"resume": {"agenda": "3"}}}, "invalid"),  # strict: no "3" for 3
        ({"id": 5, "type": "hello", "data": {"surprise": 1}}, "invalid"),  # extra field
        ({"id": 5, "type": "presence.list", "data": {"limit": 0}}, "forbidden"),  # role checked first
        ({"id": 5, "type": "hello", "data": [1]}, "bad_envelope"),
        ({"id": 5, "type": "hello", "data": {}, "extra": 1}, "bad_envelope"),
        ({"id": 5, "data": {}}, "bad_envelope"),
    ],
)
async def test_bad_commands_get_error_replies(people, connect, payload, code):
    client = await connect(people["attendee"])
    await client.send_raw(json.dumps(payload))
    reply = await client.reply_to(5)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    await _still_usable(client)


# --- notifications: frames without id (docs/decisions/0004) -------------------------------------


async def test_accepted_notification_gets_no_reply(people, connect):
    client = await connect(people["attendee"])
    await client.send_raw(json.dumps({"type": "ping", "data": {}}))
    reply = await client.request("ping")  # what came before this reply is kept in `pushes`
    assert reply["ok"] is True
    # Only a coalesced presence update may have come meanwhile; a reply (no "type") may not.
    assert [m for m in client.pushes if m.get("type") != "presence.update"] == []


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"type": "no.such.thing", "data": {}}, "unknown_type"),
        ({"type": "hello", "data": {"surprise": 1}}, "invalid"),
        ({"type": "presence.list", "data": {"limit": 0}}, "forbidden"),
    ],
)
async def test_refused_notification_is_pushed_with_its_type(people, connect, payload, code):
    client = await connect(people["attendee"])
    await client.send_raw(json.dumps(payload))
    refused = await client.wait_push("gateway.refused")
    assert refused["type"] == payload["type"]
    assert refused["error"]["code"] == code
    assert refused["error"]["message"]
    assert [m for m in client.pushes if m.get("type") != "presence.update"] == []  # and nothing else
    await _still_usable(client)


async def test_notifications_count_against_the_rate_limit(people, connect, settings):
    settings.REALTIME = {**settings.REALTIME, "RATE_LIMIT": 3, "RATE_WINDOW": 2}
    client = await connect(people["attendee"])
    for _ in range(4):
        await client.send_raw(json.dumps({"type": "ping", "data": {}}))
    refused = await client.wait_push("gateway.refused")
    assert [m for m in client.pushes if m.get("type") != "presence.update"] == []  # the three within said nothing
    assert refused == {"type": "ping", "error": refused["error"]}
    assert refused["error"]["code"] == "rate_limited"
    assert 0 < refused["error"]["retry_after"] <= 2


async def test_invalid_data_names_the_field(people, connect):
    client = await connect(people["moderator"])
    reply = await client.request("presence.list", {"limit": "many"})
    assert reply["error"]["code"] == "invalid"
    assert reply["error"]["details"][0]["field"] == "limit"
    missing = await client.request("presence.list", {"limit": 5000})
    assert missing["error"]["details"][0]["field"] == "limit"


async def test_role_may_not_call_moderator_command(people, connect):
    attendee = await connect(people["attendee"])
    reply = await attendee.request("presence.list")
    assert reply == {
        "id": reply["id"],
        "ok": False,
        "error": {"code": "forbidden", "message": "Only moderators and organizers may do this."},
    }
    moderator = await connect(people["moderator"])
    assert (await moderator.request("presence.list"))["ok"] is True


@override_settings(REALTIME={**__import__("django.conf").conf.settings.REALTIME, "MAX_FRAME_BYTES": 1024})
async def test_oversize_frame_is_refused(people, connect):
    client = await connect(people["attendee"])
    await client.send_raw(json.dumps({"id": 9, "type": "hello", "data": {"resume": {"x" * 2000: 1}}}))
    error = await client.receive()
    assert error["error"]["code"] == "too_large"
    assert error["error"]["limit"] == 1024
    await _still_usable(client)


async def test_binary_frame_is_refused(people, connect):
    client = await connect(people["attendee"])
    await client.communicator.send_to(bytes_data=b"\x00\x01")
    error = await client.receive()
    assert error["error"]["code"] == "bad_frame"
    await _still_usable(client)


async def test_flood_over_rate_limit(people, connect, settings):
    settings.REALTIME = {**settings.REALTIME, "RATE_LIMIT": 5, "RATE_WINDOW": 1}
    client = await connect(people["attendee"])
    replies = [await client.request("ping") for _ in range(8)]
    assert [r["ok"] for r in replies] == [True] * 5 + [False] * 3
    assert replies[-1]["error"]["code"] == "rate_limited"
    assert 0 < replies[-1]["error"]["retry_after"] <= 1
    await asyncio.sleep(replies[-1]["error"]["retry_after"] + 0.05)
    await _still_usable(client)


async def _refused(ticket: str, slug: str = "testcamp") -> tuple[dict, int]:
    from eventplatform.asgi import application

    communicator = WebsocketCommunicator(
        application, f"/ws/events/{slug}/?ticket={ticket}", headers=[(b"origin", b"http://127.0.0.1:8000")]
    )
    connected, _ = await communicator.connect()
    assert connected  # accepted, so the client can be told why it is refused
    error = json.loads(await communicator.receive_from())
    closed = await communicator.receive_output()
    await communicator.disconnect()
    return error, closed["code"]


async def test_forged_ticket_is_refused(people):
    error, code = await _refused("not-a-real-ticket-secret")
    assert error == {"type": "error", "error": {"code": "ticket_invalid", "message": error["error"]["message"]}}
    assert code == 4401


async def test_expired_ticket_is_refused(people):
    ticket = people["attendee"].ticket
    ticket.valid_until = timezone.now() - timedelta(minutes=1)
    await sync_to_async(ticket.save)()
    error, code = await _refused(ticket.secret)
    assert error["error"]["code"] == "ticket_expired"
    assert code == 4401


async def test_revoked_ticket_is_refused(people):
    ticket = people["attendee"].ticket
    ticket.revoked_at = timezone.now()
    await sync_to_async(ticket.save)()
    error, _ = await _refused(ticket.secret)
    assert error["error"]["code"] == "ticket_revoked"


async def test_ticket_of_another_event_is_refused(people, event):
    from eventplatform.models import Event

    other = await sync_to_async(Event.objects.create)(
        slug="other", title="Other", start=event.start, end=event.end
    )
    error, _ = await _refused(people["attendee"].ticket.secret, slug=other.slug)
    assert error["error"]["code"] == "ticket_invalid"


async def test_no_ticket_and_no_session_is_refused(people):
    from eventplatform.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/events/testcamp/", headers=[(b"origin", b"http://127.0.0.1:8000")])
    await communicator.connect()
    error = json.loads(await communicator.receive_from())
    assert error["error"]["code"] == "not_authenticated"
    assert (await communicator.receive_output())["code"] == 4401


@pytest.mark.parametrize("origin", [b"https://evil.example", b"http://127.0.0.1.evil.example:8000", None])
async def test_foreign_origin_is_refused_at_handshake(people, origin):
    from eventplatform.asgi import application

    headers = [(b"origin", origin)] if origin else []
    communicator = WebsocketCommunicator(
        application, f"/ws/events/testcamp/?ticket={people['attendee'].ticket.secret}", headers=headers
    )
    connected, _ = await communicator.connect()
    assert connected is False


async def test_garbage_counts_against_the_rate_limit(people, connect, settings):
    settings.REALTIME = {**settings.REALTIME, "RATE_LIMIT": 3, "RATE_WINDOW": 2}
    client = await connect(people["attendee"])
    for _ in range(3):
        await client.send_raw("garbage")
        assert (await client.receive())["error"]["code"] == "bad_json"
    limited = await client.request("ping")
    assert limited["error"]["code"] == "rate_limited"
