"""Breakout rooms over the real gateway and Redis: moves, authorization, bad input."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from eventplatform.models import Room
from rooms import ice, services
from rooms.models import Assignment, Breakout, BreakoutRound

pytestmark = pytest.mark.django_db(transaction=True)

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def _rooms(event):
    a = Room.objects.get(event=event, name="Breakout A")
    b = Room.objects.get(event=event, name="Breakout B")
    return a, b


async def _open(mod, mode="manual", **extra):
    reply = await mod.request("rooms.open", {"mode": mode, **extra})
    assert reply["ok"], reply
    return reply["data"]


async def _moderator_and_two(event, people, connect):
    """Rooms A and B, a round opened by the moderator, and Alice's and Bob's sockets."""
    a, b = await database_sync_to_async(_rooms)(event)
    mod = await connect(people["moderator"])
    alice = await connect(people["attendee"])
    bob = await connect(people["attendee2"])
    await _open(mod)
    return a, b, mod, alice, bob


async def test_move_switches_rooms_and_signalling_follows(event, people, connect):
    a, b, mod, alice, bob = await _moderator_and_two(event, people, connect)
    pa, pb = people["attendee"].pk, people["attendee2"].pk

    reply = await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [pa, pb]})
    assert reply == {"id": reply["id"], "ok": True, "data": {"count": 2}}
    assert (await alice.wait_push("rooms.assignment"))["room"]["id"] == a.pk
    assert (await bob.wait_push("rooms.assignment"))["room"]["id"] == a.pk

    assert (await alice.request("rooms.call.join", {"audio": True, "video": True}))["data"]["peers"] == []
    joined = (await bob.request("rooms.call.join", {"audio": False, "video": True}))["data"]
    assert [p["participant_id"] for p in joined["peers"]] == [pa]
    peer = await alice.wait_push("rooms.peer.joined", where=lambda d: d["participant_id"] == pb)
    assert peer["participant_id"] == pb and peer["state"]["audio"] is False

    # Bob relays an offer to Alice: it arrives with who sent it and from which room.
    assert (await bob.request("rooms.signal", {"to": pa, "description": {"type": "offer", "sdp": SDP}}))["ok"]
    sig = await alice.wait_push("rooms.signal")
    assert sig == {"room_id": a.pk, "from": pb, "description": {"type": "offer", "sdp": SDP}, "candidate": None} or (
        sig["from"] == pb and sig["description"]["sdp"] == SDP
    )
    # Mute state reaches the others in the room.
    assert (await bob.request("rooms.media", {"audio": True, "video": True, "speaking": True}))["ok"]
    media = await alice.wait_push("rooms.media")
    assert media["participant_id"] == pb and media["state"]["speaking"] is True

    # The moderator moves Bob: Bob is told, Alice sees him leave, and signalling between
    # them is refused from that moment on.
    assert (await mod.request("rooms.move", {"room_id": b.pk, "participant_ids": [pb]}))["ok"]
    assert (await bob.wait_push("rooms.assignment"))["room"]["id"] == b.pk
    left = await alice.wait_push("rooms.peer.left")
    assert left == {"room_id": a.pk, "participant_id": pb, "state": None} or left["participant_id"] == pb
    refused = await bob.request("rooms.signal", {"to": pa, "candidate": {"candidate": "", "sdpMid": "0"}})
    assert refused["ok"] is False and refused["error"]["code"] == "not_same_room"
    refused = await alice.request("rooms.signal", {"to": pb, "description": {"type": "answer", "sdp": SDP}})
    assert refused["error"]["code"] == "not_same_room"
    assert await database_sync_to_async(services.call_members)(a.pk) == {pa: {"audio": True, "video": True,
                                                                             "screen": False, "speaking": False,
                                                                             "name": "Attendee", "moderator": False}}


async def test_attendee_cannot_run_breakouts(event, people, connect):
    a, _ = await database_sync_to_async(_rooms)(event)
    alice = await connect(people["attendee"])
    for type_, data in [
        ("rooms.open", {"mode": "manual"}),
        ("rooms.move", {"room_id": a.pk, "participant_ids": [people["attendee2"].pk]}),
        ("rooms.overview", {}),
        ("rooms.close", {}),
        ("rooms.broadcast", {"text": "hi"}),
        ("rooms.visit", {"room_id": a.pk}),
        ("rooms.return", {"countdown_s": 5}),
        ("rooms.assign", {}),
    ]:
        reply = await alice.request(type_, data)
        assert reply["ok"] is False and reply["error"]["code"] == "forbidden", (type_, reply)
    assert not await database_sync_to_async(BreakoutRound.objects.exists)()


async def test_self_select_enforces_capacity(event, people, connect):
    a, b = await database_sync_to_async(_rooms)(event)
    await database_sync_to_async(Room.objects.filter(pk=a.pk).update)(capacity=1)
    mod = await connect(people["moderator"])
    alice = await connect(people["attendee"])
    bob = await connect(people["attendee2"])
    early = await alice.request("rooms.choose", {"room_id": a.pk})
    assert early["error"]["code"] == "not_self_select"
    await _open(mod, "self_select")
    assert (await alice.request("rooms.choose", {"room_id": a.pk}))["data"]["room"]["id"] == a.pk
    full = await bob.request("rooms.choose", {"room_id": a.pk})
    assert full["ok"] is False and full["error"]["code"] == "room_full"
    assert (await bob.request("rooms.choose", {"room_id": b.pk}))["ok"]
    assert await database_sync_to_async(Assignment.objects.filter(breakout__room=a).count)() == 1


def test_self_select_race_gives_the_last_seat_once(event, people):
    """Many threads choose the same one-seat room at once: exactly one gets it."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from eventplatform import services as core

    a, _ = _rooms(event)
    Room.objects.filter(pk=a.pk).update(capacity=1)
    services.open_round(event.pk, mode="self_select")
    racers = [core.register_participant(event, name=f"R{i}", username=f"race{i}") for i in range(6)]

    def attempt(pid):
        try:
            services.choose(event.pk, pid, a.pk)
            return "ok"
        except Exception as exc:  # room_full, or SQLite's "locked" under contention
            return getattr(exc, "code", type(exc).__name__)
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(attempt, [p.pk for p in racers]))
    assert results.count("ok") == 1, results
    assert Assignment.objects.filter(breakout__room=a).count() == 1


async def test_signals_sent_without_waiting_arrive_or_are_refused_by_push(event, people, connect):
    """The browser sends its signals as notifications (no id, no reply): they reach the peer,
    and a refused one comes back as `gateway.refused` naming the signal."""
    a, b, mod, alice, bob = await _moderator_and_two(event, people, connect)
    pa, pb = people["attendee"].pk, people["attendee2"].pk
    assert (await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [pa, pb]}))["ok"]
    await alice.wait_push("rooms.assignment")
    await bob.wait_push("rooms.assignment")

    await bob.notify("rooms.signal", {"to": pa, "description": {"type": "offer", "sdp": SDP}})
    await bob.notify("rooms.signal", {"to": pa, "candidate": {"candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host"}})
    offer = await alice.wait_push("rooms.signal")
    assert offer["from"] == pb and offer["description"]["type"] == "offer"
    assert (await alice.wait_push("rooms.signal"))["candidate"]["candidate"].startswith("candidate:1 ")

    await bob.notify("rooms.signal", {"to": pa, "description": {"type": "offer", "sdp": "hello"}})
    invalid = await bob.wait_push("gateway.refused")
    assert invalid["type"] == "rooms.signal" and invalid["error"]["code"] == "invalid"

    assert (await mod.request("rooms.move", {"room_id": b.pk, "participant_ids": [pb]}))["ok"]
    await bob.wait_push("rooms.assignment", where=lambda d: d["room"]["id"] == b.pk)
    await bob.notify("rooms.signal", {"to": pa, "candidate": {"candidate": ""}})
    refused = await bob.wait_push("gateway.refused")
    assert refused == {"type": "rooms.signal", "error": refused["error"]}
    assert refused["error"]["code"] == "not_same_room"
    assert (await alice.request("ping"))["ok"]  # collects what reached Alice meanwhile
    assert not [p for p in alice.pushes if p["type"] == "rooms.signal"]


async def test_bad_signalling_input_is_refused(event, people, connect):
    a, _ = await database_sync_to_async(_rooms)(event)
    mod = await connect(people["moderator"])
    alice = await connect(people["attendee"])
    await _open(mod)
    await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [people["attendee"].pk]})
    cases = [
        {"to": people["attendee2"].pk, "description": {"type": "offer", "sdp": "hello"}},  # not SDP
        {"to": people["attendee2"].pk, "description": {"type": "bogus", "sdp": SDP}},
        {"to": people["attendee2"].pk, "description": {"type": "offer", "sdp": SDP + "a=x\r\n" * 8000}},
        {"to": people["attendee2"].pk, "candidate": {"candidate": "rm -rf"}},
        {"to": people["attendee2"].pk, "candidate": {"candidate": "candidate:" + "1" * 2000}},
        {"to": people["attendee2"].pk},  # neither
        {"to": "7", "candidate": {"candidate": ""}},  # wrong type
        {"to": people["attendee2"].pk, "candidate": {"candidate": ""}, "extra": 1},
    ]
    for data in cases:
        reply = await alice.request("rooms.signal", data)
        assert reply["ok"] is False and reply["error"]["code"] in {"invalid", "too_large"}, (data, reply)
    unknown = await alice.request("rooms.signal", {"to": 999999, "candidate": {"candidate": ""}})
    assert unknown["error"]["code"] == "unknown_peer"
    myself = await alice.request("rooms.signal", {"to": people["attendee"].pk, "candidate": {"candidate": ""}})
    assert myself["error"]["code"] == "unknown_peer"
    # Someone in no room at all (on the stage) is not a peer either.
    stage = await alice.request("rooms.signal", {"to": people["attendee2"].pk, "candidate": {"candidate": ""}})
    assert stage["error"]["code"] == "not_same_room"
    # And the socket still works afterwards.
    assert (await alice.request("ping"))["ok"]


async def test_moving_to_a_closed_or_unknown_room_is_refused(event, people, connect):
    a, b = await database_sync_to_async(_rooms)(event)
    mod = await connect(people["moderator"])
    await _open(mod, room_ids=[a.pk])
    pid = people["attendee"].pk
    closed = await mod.request("rooms.move", {"room_id": b.pk, "participant_ids": [pid]})
    assert closed["error"]["code"] == "room_closed"
    unknown = await mod.request("rooms.move", {"room_id": 424242, "participant_ids": [pid]})
    assert unknown["error"]["code"] == "unknown_room"
    nobody = await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [424242]})
    assert nobody["error"]["code"] == "unknown_participant"
    again = await mod.request("rooms.open", {"mode": "manual"})
    assert again["error"]["code"] == "round_running"
    assert not await database_sync_to_async(Assignment.objects.exists)()


async def test_room_deleted_with_people_in_it(event, people, connect):
    a, b = await database_sync_to_async(_rooms)(event)
    mod = await connect(people["moderator"])
    alice = await connect(people["attendee"])
    bob = await connect(people["attendee2"])
    await _open(mod)
    await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [people["attendee"].pk, people["attendee2"].pk]})
    await alice.wait_push("rooms.assignment", where=lambda d: d["room"])
    await bob.wait_push("rooms.assignment", where=lambda d: d["room"])
    await alice.request("rooms.call.join", {})
    await database_sync_to_async(Room.objects.filter(pk=a.pk).delete)()
    back = await alice.wait_push("rooms.assignment", where=lambda d: d["room"] is None)
    assert back["room"] is None
    assert (await bob.wait_push("rooms.assignment", where=lambda d: d["room"] is None))["room"] is None
    refused = await alice.request("rooms.signal", {"to": people["attendee2"].pk, "candidate": {"candidate": ""}})
    assert refused["error"]["code"] == "not_in_room"
    state = (await alice.request("rooms.state"))["data"]
    assert state["assignment"]["room"] is None and [r["id"] for r in state["rooms"]] == [b.pk]
    assert (await mod.request("rooms.overview"))["ok"]


async def test_mesh_limit_refuses_clearly(event, people, connect, settings):
    settings.ROOMS = {**settings.ROOMS, "MESH_LIMIT": 2}
    a, _ = await database_sync_to_async(_rooms)(event)
    mod = await connect(people["moderator"])
    clients = [await connect(people[k]) for k in ("attendee", "attendee2", "speaker")]
    await _open(mod)
    await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [people[k].pk for k in ("attendee", "attendee2", "speaker")]})
    assert (await clients[0].request("rooms.call.join", {}))["ok"]
    assert (await clients[1].request("rooms.call.join", {}))["ok"]
    full = await clients[2].request("rooms.call.join", {})
    assert full["ok"] is False and full["error"]["code"] == "mesh_full" and full["error"]["limit"] == 2
    # Someone leaving frees the place.
    await clients[0].request("rooms.call.leave")
    assert (await clients[2].request("rooms.call.join", {}))["ok"]


async def test_moderator_visits_broadcasts_and_gets_help(event, people, connect):
    a, _ = await database_sync_to_async(_rooms)(event)
    mod = await connect(people["moderator"])
    alice = await connect(people["attendee"])
    await _open(mod)
    await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [people["attendee"].pk]})
    await alice.wait_push("rooms.assignment")
    help_ = await alice.request("rooms.help", {"message": "We are stuck"})
    assert help_["ok"]
    call = await mod.wait_push("rooms.help")
    assert call["room_id"] == a.pk and call["message"] == "We are stuck"
    visit = await mod.request("rooms.visit", {"room_id": a.pk})
    assert visit["data"]["source"] == "moderator"
    view = (await mod.request("rooms.overview"))["data"]
    room = next(r for r in view["rooms"] if r["id"] == a.pk)
    assert {m["name"]: m["moderator"] for m in room["members"]} == {"Attendee": False, "Moderator": True}
    assert (await mod.request("rooms.broadcast", {"text": "5 minutes left"}))["ok"]
    assert (await alice.wait_push("rooms.broadcast"))["text"] == "5 minutes left"
    # Close one room: its people go back to the stage.
    assert (await mod.request("rooms.close", {"room_id": a.pk}))["ok"]
    assert (await alice.wait_push("rooms.assignment", where=lambda d: d["room"] is None))["room"] is None
    again = await mod.request("rooms.close", {"room_id": a.pk})
    assert again["error"]["code"] == "room_closed"


async def test_late_arrival_is_placed_by_automatic_mode(event, people, connect):
    mod = await connect(people["moderator"])
    alice = await connect(people["attendee"])
    await _open(mod, "automatic")
    first = await alice.wait_push("rooms.assignment")
    late = await connect(people["attendee2"])
    second = await late.wait_push("rooms.assignment")
    # Balanced: the late arrival goes to the other (emptier) room.
    assert {first["room"]["id"], second["room"]["id"]} == {r.pk for r in await database_sync_to_async(_rooms)(event)}
    assert second["source"] == "automatic"


def test_balanced_plan_keeps_groups_together_and_apart(event):
    import random

    services.ensure_breakouts(event.pk)
    rooms = list(Breakout.objects.select_related("room").filter(room__event=event))
    for seed in range(20):
        plan = services.balanced_plan(
            list(range(1, 9)), rooms, together=[[1, 2, 3]], apart=[[4, 5]], rng=random.Random(seed)
        )
        assert plan[1] == plan[2] == plan[3]
        assert plan[4] != plan[5]
        sizes = sorted(sum(1 for b in plan.values() if b == r) for r in rooms)
        assert sizes == [4, 4]


def test_turn_credential_is_signed_and_expires():
    with override_settings(ROOMS={**__import__("django.conf").conf.settings.ROOMS, "TURN_SECRET": "s3cret",
                                  "TURN_URLS": ["turn:127.0.0.1:3478"], "TURN_CREDENTIAL_TTL": 60}):
        now = time.time()
        cred = ice.turn_credential(42, now=now)
        user, _, pid = cred["username"].partition(":")
        assert pid == "42" and int(user) == int(now + 60)
        # The coturn scheme: base64(HMAC-SHA1(secret, username)).
        import base64
        import hashlib
        import hmac

        assert cred["credential"] == base64.b64encode(
            hmac.new(b"s3cret", cred["username"].encode(), hashlib.sha1).digest()
        ).decode()
        assert ice.credential_valid(cred["username"], cred["credential"], now=now + 59)
        assert not ice.credential_valid(cred["username"], cred["credential"], now=now + 61)
        assert not ice.credential_valid(cred["username"], "forged", now=now)
        servers = ice.ice_servers(42)
        assert servers["ice_servers"][0]["urls"] == ["turn:127.0.0.1:3478"] and servers["expires"] > now
