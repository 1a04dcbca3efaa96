"""Real WebRTC peers (aiortc) in breakout rooms, signalling through a real daphne over real
websockets: two connect and talk over a data channel; the moderator moves one; the old call
ends and the moved one connects with a third person in the new room."""

import asyncio
import json

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from channels.db import database_sync_to_async
from websockets.asyncio.client import connect as ws_connect

from eventplatform.models import Room

pytestmark = pytest.mark.django_db(transaction=True)


class RoomPeer:
    """What the browser's room client does, in Python: follow the assignment, join the call,
    offer to everyone already in it, answer offers, drop peers that leave."""

    def __init__(self, name: str, ws) -> None:
        self.name = name
        self.ws = ws
        self.next_id = 0
        self.replies: dict[int, asyncio.Future] = {}
        self.pcs: dict[int, RTCPeerConnection] = {}
        self.closed_pcs: list[RTCPeerConnection] = []
        self.messages: list[tuple[int, str]] = []
        self.room_id: int | None = None
        self.got_message = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, name, port, ticket):
        ws = await ws_connect(f"ws://127.0.0.1:{port}/ws/events/testcamp/?ticket={ticket}",
                              origin=f"http://127.0.0.1:{port}", max_size=2**20)
        return cls(name, ws)

    async def request(self, type_, data=None):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.replies[self.next_id] = future
        await self.ws.send(json.dumps({"id": self.next_id, "type": type_, "data": data or {}}))
        return await asyncio.wait_for(future, 10)

    async def notify(self, type_, data):
        """As the browser sends signals: no id, no reply; a refusal would come as a push."""
        await self.ws.send(json.dumps({"type": type_, "data": data}))

    async def _read(self):
        async for text in self.ws:
            message = json.loads(text)
            if "id" in message and message["id"] in self.replies:
                self.replies.pop(message["id"]).set_result(message)
                continue
            handler = {
                "rooms.assignment": self._on_assignment,
                "rooms.signal": self._on_signal,
                "rooms.peer.left": self._on_peer_left,
            }.get(message.get("type"))
            if handler is not None:
                # Handlers send requests whose replies this very loop must read: run them aside.
                task = asyncio.create_task(handler(message["data"]))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    def _pc(self, peer_id: int) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # never a public STUN server
        self.pcs[peer_id] = pc

        @pc.on("datachannel")
        def on_channel(channel):
            self._wire(peer_id, channel)

        return pc

    def _wire(self, peer_id, channel):
        @channel.on("open")
        def on_open():
            channel.send(f"hello from {self.name}")

        @channel.on("message")
        def on_message(text):
            self.messages.append((peer_id, text))
            self.got_message.set()

        if channel.readyState == "open":
            on_open()

    async def _close_all(self):
        for peer_id in list(self.pcs):
            await self._drop(peer_id)

    async def _drop(self, peer_id):
        pc = self.pcs.pop(peer_id, None)
        if pc is not None:
            self.closed_pcs.append(pc)
            await pc.close()

    async def _on_assignment(self, data):
        await self._close_all()
        self.room_id = data["room"]["id"] if data["room"] else None
        if self.room_id is None:
            return
        joined = await self.request("rooms.call.join", {"audio": False, "video": False})
        assert joined["ok"], joined
        for peer in joined["data"]["peers"]:
            pc = self._pc(peer["participant_id"])
            self._wire(peer["participant_id"], pc.createDataChannel("room"))
            await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers all candidates here
            await self.notify("rooms.signal", {
                "to": peer["participant_id"],
                "description": {"type": "offer", "sdp": pc.localDescription.sdp},
            })

    async def _on_signal(self, data):
        desc = data.get("description")
        if desc is None:
            return  # aiortc puts its candidates into the SDP
        peer_id = data["from"]
        if desc["type"] == "offer":
            pc = self.pcs.get(peer_id) or self._pc(peer_id)
            await pc.setRemoteDescription(RTCSessionDescription(desc["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await self.notify("rooms.signal", {
                "to": peer_id, "description": {"type": "answer", "sdp": pc.localDescription.sdp},
            })
        elif desc["type"] == "answer" and peer_id in self.pcs:
            await self.pcs[peer_id].setRemoteDescription(RTCSessionDescription(desc["sdp"], "answer"))

    async def _on_peer_left(self, data):
        await self._drop(data["participant_id"])

    async def wait_message_from(self, peer_id, timeout=20):
        async with asyncio.timeout(timeout):
            while not any(p == peer_id for p, _ in self.messages):
                self.got_message.clear()
                await self.got_message.wait()

    async def close(self):
        await self._close_all()
        self.reader.cancel()
        await self.ws.close()


def _rooms(event):
    return (Room.objects.get(event=event, name="Breakout A"), Room.objects.get(event=event, name="Breakout B"))


async def test_peers_connect_move_and_reconnect_in_new_room(event, people, daphne):
    port, _ = await database_sync_to_async(daphne)()
    a, b = await database_sync_to_async(_rooms)(event)
    mod = await RoomPeer.open("mod", port, people["moderator"].ticket.secret)
    alice = await RoomPeer.open("alice", port, people["attendee"].ticket.secret)
    bob = await RoomPeer.open("bob", port, people["attendee2"].ticket.secret)
    carol = await RoomPeer.open("carol", port, people["speaker"].ticket.secret)
    pa, pb, pc_ = people["attendee"].pk, people["attendee2"].pk, people["speaker"].pk
    try:
        assert (await mod.request("rooms.open", {"mode": "manual"}))["ok"]
        assert (await mod.request("rooms.move", {"room_id": a.pk, "participant_ids": [pa, pb]}))["ok"]
        assert (await mod.request("rooms.move", {"room_id": b.pk, "participant_ids": [pc_]}))["ok"]

        # Alice and Bob complete ICE through our signalling and talk over a data channel.
        await alice.wait_message_from(pb)
        await bob.wait_message_from(pa)
        assert alice.pcs[pb].iceConnectionState == "completed"
        assert ("hello from bob") in [t for p, t in alice.messages if p == pb]
        old_call = alice.pcs[pb]

        # The moderator moves Bob to room B: the old call ends on both sides …
        assert (await mod.request("rooms.move", {"room_id": b.pk, "participant_ids": [pb]}))["ok"]
        async with asyncio.timeout(10):
            while pb in alice.pcs or bob.room_id != b.pk:
                await asyncio.sleep(0.05)
        assert old_call.connectionState == "closed"
        # … and Bob connects with Carol in the new room.
        await bob.wait_message_from(pc_)
        await carol.wait_message_from(pb)
        assert bob.pcs[pc_].iceConnectionState == "completed"
        assert pa not in bob.pcs
        # Signalling across rooms is refused now.
        refused = await bob.request("rooms.signal", {"to": pa, "candidate": {"candidate": ""}})
        assert refused["error"]["code"] == "not_same_room"
    finally:
        for peer in (mod, alice, bob, carol):
            await peer.close()
