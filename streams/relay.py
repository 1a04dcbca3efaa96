"""The stage relay: one publisher per stage in (WHIP), its encoded packets out to every viewer (WHEP).

Runs in its own process (`manage.py relay`), never in daphne's event loop. The web process asks
it over Redis (streams/relay_link.py). Nothing is decoded or encoded here (streams/passthrough.py);
each frame is packetised once and sent to every viewer with its own RTP header (streams/fanout.py).

A stage's feed comes either from its publisher (this process is the stage's ingest) or, in a
relay tree, from the ingest process: this process then plays the stage like any viewer and
forwards it to its own viewers (an edge feed). Each process serves at most `max_viewers`
viewers; the links between processes do not count against it.

A viewer that falls behind (its socket backlog over a bound) is skipped until the next keyframe,
so memory stays bounded; the relay asks the publisher for a keyframe (PLI), at most once per
KEYFRAME_INTERVAL for the whole stage.
"""

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from django.conf import settings

from streams import passthrough
from streams.fanout import Fanout, Route

logger = logging.getLogger("streams.relay")

KEYFRAME_INTERVAL = 0.5  # seconds between keyframe requests to one publisher
EDGE_GRACE = 10.0  # seconds an edge feed without viewers keeps its link to the ingest


def ice_configuration() -> RTCConfiguration:
    """Always explicit: with none, aiortc would ask a public STUN server."""
    servers = [RTCIceServer(**s) for s in getattr(settings, "STREAMS_ICE_SERVERS", [])]
    return RTCConfiguration(iceServers=servers)


class RelayRefusal(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass
class Viewer:
    resource: str
    participant_id: int
    pc: RTCPeerConnection
    routes: list[tuple[Fanout, Route]]
    edge: bool = False  # another relay process pulling the stage, not a person


@dataclass
class StageFeed:
    """One stage's live ingest and the viewers this process serves for it."""

    room_id: int
    event_id: int
    resource: str
    key_id: int
    pc: RTCPeerConnection
    codecs: dict[str, RTCRtpCodecParameters] = field(default_factory=dict)
    receivers: dict = field(default_factory=dict)
    fanouts: dict[str, Fanout] = field(default_factory=dict)
    edge: bool = False  # fed by the ingest process, not by the publisher
    viewers: dict[str, Viewer] = field(default_factory=dict)
    last_keyframe_request: float = 0.0
    frames: int = 0
    bytes: int = 0
    window: list = field(default_factory=lambda: [time.monotonic(), 0, 0])  # start, frames, bytes
    ended: bool = False

    def request_keyframe(self) -> None:
        now = time.monotonic()
        if now - self.last_keyframe_request < KEYFRAME_INTERVAL or "video" not in self.receivers:
            return
        receiver = self.receivers["video"]
        sources = receiver.getSynchronizationSources()
        if sources:  # none before the first packet arrives: nothing to ask yet
            self.last_keyframe_request = now
            asyncio.ensure_future(receiver._send_rtcp_pli(sources[0].source))

    def receive(self, transceiver) -> bool:
        """Take what `transceiver` receives as this feed's source of its kind, in its first codec
        that is not a retransmission format, and passed through undecoded; False if none."""
        media = [c for c in transceiver._codecs if not c.mimeType.lower().endswith("/rtx")]
        if not media:
            return False
        self.codecs[transceiver.kind] = media[0]
        self.receivers[transceiver.kind] = transceiver.receiver
        passthrough.mark(transceiver.receiver.track)
        return True

    def people(self) -> int:
        """Viewers who are people (links to other relay processes are not)."""
        return sum(1 for v in self.viewers.values() if not v.edge)

    async def pump(self, kind: str, track) -> None:
        """Read the source's encoded frames and send each to every viewer (no decode, packetised once)."""
        fanout = self.fanouts[kind]
        try:
            while True:
                packet = await track.recv()
                if kind == "video":
                    self.frames += 1
                    self.window[1] += 1
                self.bytes += packet.size
                self.window[2] += packet.size
                await fanout.forward(packet, packet.is_keyframe)
        except MediaStreamError:
            pass

    def rates(self) -> tuple[float, float]:
        start, frames, size = self.window
        elapsed = max(time.monotonic() - start, 0.001)
        return frames / elapsed, size * 8 / 1000 / elapsed


def _same_codec(a: RTCRtpCodecParameters, b: RTCRtpCodecParameters) -> bool:
    if a.mimeType.lower() != b.mimeType.lower():
        return False
    if a.mimeType.lower() == "video/h264":
        return a.parameters.get("packetization-mode", 0) == b.parameters.get("packetization-mode", 0)
    return True


class Relay:
    """All feeds of this process, with a cap on the viewers it serves."""

    def __init__(self, max_viewers: int, name: str = "") -> None:
        self.max_viewers = max_viewers
        self.name = name  # this process in the relay tree; prefixes its resources so requests find it
        self.feeds: dict[int, StageFeed] = {}
        self.resources: dict[str, StageFeed] = {}  # viewer resource → feed
        self.on_change = None  # called with a feed when it starts, ends, or its viewers change
        self._pulling: dict[int, asyncio.Future] = {}
        self.joining = 0  # viewers between the cap check and their place in a feed
        passthrough.install()

    def new_resource(self) -> str:
        token = secrets.token_urlsafe(16)
        return f"{self.name}.{token}" if self.name else token

    def viewer_count(self) -> int:
        return sum(f.people() for f in self.feeds.values())

    async def publish(self, *, room_id: int, event_id: int, key_id: int, sdp: str) -> tuple[str, str]:
        if room_id in self.feeds and not self.feeds[room_id].ended:
            raise RelayRefusal("stage_busy")
        pc = RTCPeerConnection(ice_configuration())
        feed = StageFeed(room_id=room_id, event_id=event_id, resource=self.new_resource(), key_id=key_id, pc=pc)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as error:
            await pc.close()
            raise RelayRefusal("sdp_invalid", str(error)[:200]) from error
        for transceiver in pc.getTransceivers():
            if transceiver.kind in feed.codecs or transceiver.receiver.track is None:
                transceiver.direction = "inactive"  # one video and one audio per stage
                continue
            if feed.receive(transceiver):
                transceiver.direction = "recvonly"
        if "video" not in feed.codecs and "audio" not in feed.codecs:
            await pc.close()
            raise RelayRefusal("sdp_invalid", "no audio or video to receive")
        await pc.setLocalDescription(await pc.createAnswer())
        self._start_feed(feed)
        return feed.resource, pc.localDescription.sdp

    def _start_feed(self, feed: StageFeed) -> None:
        pc = feed.pc
        for kind, codec in feed.codecs.items():
            feed.fanouts[kind] = Fanout(kind, codec, feed.request_keyframe)
        self.feeds[feed.room_id] = feed
        tasks = [
            asyncio.ensure_future(feed.pump(kind, feed.receivers[kind].track)) for kind in feed.codecs
        ]

        async def watch():
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            await self.end_feed(feed)

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed"):
                await self.end_feed(feed)

        asyncio.ensure_future(watch())
        self._changed(feed)

    async def pull_feed(self, room_id: int, event_id: int, ask_ingest) -> StageFeed:
        """Play the stage from its ingest process, as one more (pass-through) viewer of it.

        `ask_ingest(offer_sdp)` delivers our WHEP offer to the ingest and returns its answer SDP,
        or raises RelayRefusal. Concurrent viewers of the same stage share one pull.
        """
        if room_id in self.feeds:
            return self.feeds[room_id]
        if room_id in self._pulling:
            return await asyncio.shield(self._pulling[room_id])
        future = self._pulling[room_id] = asyncio.get_running_loop().create_future()
        try:
            feed = await self._pull(room_id, event_id, ask_ingest)
            future.set_result(feed)
            return feed
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: a pull nobody else waits for must not warn
            raise
        finally:
            del self._pulling[room_id]

    async def _pull(self, room_id: int, event_id: int, ask_ingest) -> StageFeed:
        pc = RTCPeerConnection(ice_configuration())
        for kind in ("video", "audio"):
            pc.addTransceiver(kind, direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        try:
            answer = await ask_ingest(pc.localDescription.sdp)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except BaseException:
            await pc.close()
            raise
        feed = StageFeed(room_id=room_id, event_id=event_id, resource=self.new_resource(), key_id=0,
                         pc=pc, edge=True)
        for transceiver in pc.getTransceivers():
            if transceiver.currentDirection != "recvonly":
                continue  # the stage has no such kind
            feed.receive(transceiver)
        if not feed.codecs:
            await pc.close()
            raise RelayRefusal("nothing_live")
        self._start_feed(feed)
        return feed

    async def end_feed(self, feed: StageFeed) -> None:
        if feed.ended:
            return
        feed.ended = True
        if self.feeds.get(feed.room_id) is feed:
            del self.feeds[feed.room_id]
        viewers = list(feed.viewers.values())
        feed.viewers.clear()
        for viewer in viewers:
            self.resources.pop(viewer.resource, None)
            for fanout, route in viewer.routes:
                fanout.remove(route)
        # Closing a viewer's connection sends RTCP BYE: its player sees the stream end.
        await asyncio.gather(*(v.pc.close() for v in viewers), feed.pc.close(), return_exceptions=True)
        self._changed(feed)

    async def unpublish(self, *, room_id: int, resource: str, key_id: int) -> None:
        feed = self.feeds.get(room_id)
        if feed is None or feed.resource != resource:
            raise RelayRefusal("resource_unknown")
        if feed.key_id != key_id:
            raise RelayRefusal("not_owner")
        await self.end_feed(feed)

    async def revoke_key(self, key_id: int) -> None:
        for feed in [f for f in self.feeds.values() if f.key_id == key_id]:
            await self.end_feed(feed)

    async def play(self, *, room_id: int, participant_id: int, sdp: str, edge: bool = False,
                   ask_ingest=None, event_id: int = 0) -> tuple[str, str]:
        """A WHEP viewer; `edge` for another relay process (not capped); `ask_ingest` to pull the stage."""
        if edge:
            return await self._play(room_id, participant_id, sdp, edge, ask_ingest, event_id)
        # Viewers still negotiating hold their place: a burst of joins must not overshoot the cap.
        if self.viewer_count() + self.joining >= self.max_viewers:
            raise RelayRefusal("over_capacity")
        self.joining += 1
        try:
            return await self._play(room_id, participant_id, sdp, edge, ask_ingest, event_id)
        finally:
            self.joining -= 1

    async def _play(self, room_id, participant_id, sdp, edge, ask_ingest, event_id) -> tuple[str, str]:
        feed = self.feeds.get(room_id)
        if feed is None and ask_ingest is not None:
            feed = await self.pull_feed(room_id, event_id, ask_ingest)
        if feed is None:
            raise RelayRefusal("nothing_live")
        pc = RTCPeerConnection(ice_configuration())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as error:
            await pc.close()
            raise RelayRefusal("sdp_invalid", str(error)[:200]) from error
        chosen_codecs = []
        for transceiver in pc.getTransceivers():
            codec = feed.codecs.get(transceiver.kind)
            if codec is None or any(t.kind == transceiver.kind for t, _ in chosen_codecs):
                transceiver.direction = "inactive"
                continue
            # Only the publisher's codec (and its retransmission format): nothing is transcoded.
            chosen = [c for c in transceiver._codecs if _same_codec(c, codec)][:1]
            if not chosen:
                await pc.close()
                raise RelayRefusal("codec_unsupported", f"the stage sends {codec.mimeType}")
            rtx = [
                c for c in transceiver._codecs
                if c.mimeType.lower().endswith("/rtx") and c.parameters.get("apt") == chosen[0].payloadType
            ]
            transceiver._codecs = chosen + rtx
            transceiver.direction = "sendonly"
            chosen_codecs.append((transceiver, chosen[0]))
        if not chosen_codecs:
            await pc.close()
            raise RelayRefusal("codec_unsupported", "the offer receives neither audio nor video")
        if feed.ended:  # it ended while we negotiated
            await pc.close()
            raise RelayRefusal("nothing_live")
        # The fan-out writes this viewer's packets; its sender keeps RTCP, and its keyframe
        # requests (PLI/FIR) go to the publisher, rate-limited.
        routes = [
            (feed.fanouts[t.kind], feed.fanouts[t.kind].add(t.sender, codec.payloadType))
            for t, codec in chosen_codecs
        ]
        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            for fanout, route in routes:
                fanout.remove(route)
            await pc.close()
            raise
        viewer = Viewer(resource=self.new_resource(), participant_id=participant_id, pc=pc, routes=routes,
                        edge=edge)
        feed.viewers[viewer.resource] = viewer
        self.resources[viewer.resource] = feed
        feed.request_keyframe()  # the new viewer starts at a keyframe: ask for one now

        @pc.on("connectionstatechange")
        async def on_state():
            # Not when its DELETE (or the feed's end) already removed it and closed the connection.
            if pc.connectionState in ("failed", "closed") and viewer.resource in self.resources:
                await self.stop_viewer(viewer.resource)

        self._changed(feed)
        return viewer.resource, pc.localDescription.sdp

    async def stop_viewer(self, resource: str, participant_id: int | None = None) -> None:
        feed = self.resources.get(resource)
        if feed is None or resource not in feed.viewers:
            raise RelayRefusal("resource_unknown")
        viewer = feed.viewers[resource]
        if participant_id is not None and viewer.participant_id != participant_id:
            raise RelayRefusal("not_owner")
        del feed.viewers[resource]
        del self.resources[resource]
        for fanout, route in viewer.routes:
            fanout.remove(route)
        await viewer.pc.close()
        self._changed(feed)
        if feed.edge and not feed.viewers:
            # Nobody here watches any more: after a grace (a reload, the next viewer) free the
            # ingest's link rather than keep pulling the stage for no one.
            asyncio.get_running_loop().call_later(EDGE_GRACE, self._end_idle_edge, feed)

    def _end_idle_edge(self, feed: StageFeed) -> None:
        if not feed.viewers and not feed.ended:
            asyncio.ensure_future(self.end_feed(feed))

    def _changed(self, feed: StageFeed) -> None:
        if self.on_change is not None:
            self.on_change(feed)

    async def close(self) -> None:
        for feed in list(self.feeds.values()):
            await self.end_feed(feed)
