"""Breakout rooms across two real daphne processes, as compose runs them: a move reaches sockets
on both, their room groups follow, and signalling is refused on either process the moment the
move is heard there."""

import pytest
from channels.db import database_sync_to_async

from eventplatform.models import Room
from tests.conftest import LiveSocket

pytestmark = pytest.mark.django_db(transaction=True)

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def _rooms(event):
    return Room.objects.get(event=event, name="Breakout A"), Room.objects.get(event=event, name="Breakout B")


def _tickets(people):
    return {k: p.ticket.secret for k, p in people.items()}


async def test_move_and_signalling_across_two_processes(event, people, daphne):
    a, b = await database_sync_to_async(_rooms)(event)
    tickets = await database_sync_to_async(_tickets)(people)
    (one, _), (two, _) = daphne(), daphne()
    mod = await LiveSocket.open(one, "testcamp", tickets["moderator"])
    alice = await LiveSocket.open(one, "testcamp", tickets["attendee"])
    bob = await LiveSocket.open(two, "testcamp", tickets["attendee2"])
    speaker = await LiveSocket.open(one, "testcamp", tickets["speaker"])
    pa, pb, ps = people["attendee"].pk, people["attendee2"].pk, people["speaker"].pk
    try:
        assert (await mod.request("rooms.open", {"mode": "manual"}))["ok"]
        assert (await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [pa, pb]}))["ok"]
        assert (await bob.wait_push("rooms.assignment", where=lambda d: d["room"]))["room"]["id"] == a.pk
        assert (await alice.wait_push("rooms.assignment", where=lambda d: d["room"]))["room"]["id"] == a.pk

        # Bob (process two) and Alice (process one) in one room: his offer reaches her.
        assert (await alice.request("rooms.call.join", {}))["ok"]
        assert (await bob.request("rooms.call.join", {}))["ok"]
        assert (await bob.request("rooms.signal", {"to": pa, "description": {"type": "offer", "sdp": SDP}}))["ok"]
        offer = await alice.wait_push("rooms.signal")
        assert offer["from"] == pb and offer["room_id"] == a.pk
        # A browser sends its answer and ICE candidates at once, as notifications (no replies):
        # they reach the peer in the order sent (the sender does not wait for Redis; its
        # signals are published in posting order).
        burst = [{"description": {"type": "answer", "sdp": SDP}}] + [
            {"candidate": {"candidate": f"candidate:{n} 1 udp 1 192.0.2.1 {50000 + n} typ host"}} for n in range(8)
        ]
        for body in burst:
            await bob.notify("rooms.signal", {"to": pa, **body})
        received = [await alice.wait_push("rooms.signal") for _ in burst]

        def what(signal):
            return signal["description"]["type"] if "description" in signal else signal["candidate"]["candidate"]

        assert [what(r) for r in received] == [what(body) for body in burst]
        # Process two put Bob's socket into room A's group: Alice's mute state reaches him.
        assert (await alice.request("rooms.media", {"audio": False}))["ok"]
        assert (await bob.wait_push("rooms.media"))["participant_id"] == pa

        # Bob is moved to B (together with the speaker, on process one).
        assert (await mod.request("rooms.move", {"room_id": b.pk, "participant_ids": [pb, ps]}))["ok"]
        assert (await bob.wait_push("rooms.assignment", where=lambda d: d["room"]))["room"]["id"] == b.pk
        assert (await alice.wait_push("rooms.peer.left"))["participant_id"] == pb
        refused = await bob.request("rooms.signal", {"to": pa, "candidate": {"candidate": ""}})
        assert refused["ok"] is False and refused["error"]["code"] == "not_same_room"
        refused = await alice.request("rooms.signal", {"to": pb, "description": {"type": "answer", "sdp": SDP}})
        assert refused["ok"] is False and refused["error"]["code"] == "not_same_room"

        # In B, across the processes again: the speaker's call reaches Bob's new group.
        await speaker.wait_push("rooms.assignment", where=lambda d: d["room"])
        assert (await bob.request("rooms.call.join", {}))["ok"]
        assert (await speaker.request("rooms.call.join", {}))["ok"]
        joined = await bob.wait_push("rooms.peer.joined", where=lambda d: d["participant_id"] == ps)
        assert joined["room_id"] == b.pk
        assert (await speaker.request("rooms.signal", {"to": pb, "candidate": {"candidate": ""}}))["ok"]
        assert (await bob.wait_push("rooms.signal"))["from"] == ps

        # Everyone back to the stage: nobody may signal anyone any more.
        assert (await mod.request("rooms.close", {}))["ok"]
        assert (await bob.wait_push("rooms.assignment", where=lambda d: d["room"] is None))["room"] is None
        refused = await bob.request("rooms.signal", {"to": ps, "candidate": {"candidate": ""}})
        assert refused["error"]["code"] == "not_in_room"
    finally:
        for socket in (mod, alice, bob, speaker):
            await socket.close()
