"""The stage relay: one publisher per stage in (WHIP), its encoded packets out to every viewer (WHEP).

Runs in its own process (`manage.py relay`), never in daphne's event loop. The web process asks
it over Redis (streams/relay_link.py): a request list that every relay process reads, one reply
key per request. Nothing is decoded or encoded here: see streams/passthrough.py.

Per viewer there is one bounded queue per kind. When a viewer falls behind and its queue is
full, its queue is emptied and it waits for the next keyframe (it never grows memory); the relay
asks the publisher for a keyframe (PLI), at most once per KEYFRAME_INTERVAL for the whole stage.
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

logger = logging.getLogger("streams.relay")

KEYFRAME_INTERVAL = 0.5  # seconds between keyframe requests to one publisher
QUEUE_FRAMES = {"video": 30, "audio": 50}  # about one second of media per viewer and kind


def ice_configuration() -> RTCConfiguration:
    """Always explicit: with none, aiortc would ask a public STUN server."""
    servers = [RTCIceServer(**s) for s in getattr(settings, "STREAMS_ICE_SERVERS", [])]
    return RTCConfiguration(iceServers=servers)


class RelayRefusal(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


class ForwardTrack(MediaStreamTrack):
    """What one viewer's sender reads: the publisher's encoded packets, from a bounded queue."""

    def __init__(self, kind: str, feed: "StageFeed") -> None:
        super().__init__()
        self.kind = kind
        self.feed = feed
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_FRAMES[kind])
        self.waiting_for_keyframe = kind == "video"
        self.dropped = 0

    def offer(self, packet, keyframe: bool) -> None:
        if self.waiting_for_keyframe:
            if not keyframe:
                self.feed.request_keyframe()
                return
            self.waiting_for_keyframe = False
        try:
            self.queue.put_nowait(packet)
        except asyncio.QueueFull:
            # A slow viewer: drop what it has not sent and restart it at the next keyframe.
            self.dropped += self.queue.qsize()
            while not self.queue.empty():
                self.queue.get_nowait()
            if self.kind == "video":
                self.waiting_for_keyframe = True
                self.feed.request_keyframe()

    def end(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self.queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet


@dataclass
class Viewer:
    resource: str
    participant_id: int
    pc: RTCPeerConnection
    tracks: list[ForwardTrack]


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

    async def pump(self, kind: str, track) -> None:
        """Read the publisher's encoded frames and hand each to every viewer (no copy, no decode)."""
        try:
            while True:
                packet = await track.recv()
                keyframe = packet.is_keyframe
                if kind == "video":
                    self.frames += 1
                    self.window[1] += 1
                self.bytes += packet.size
                self.window[2] += packet.size
                for viewer in list(self.viewers.values()):
                    for forward in viewer.tracks:
                        if forward.kind == kind:
                            forward.offer(packet, keyframe)
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

    def __init__(self, max_viewers: int) -> None:
        self.max_viewers = max_viewers
        self.feeds: dict[int, StageFeed] = {}
        self.resources: dict[str, StageFeed] = {}  # viewer resource → feed
        self.on_change = None  # called with a feed when it starts, ends, or its viewers change
        passthrough.install()

    def viewer_count(self) -> int:
        return sum(len(f.viewers) for f in self.feeds.values())

    async def publish(self, *, room_id: int, event_id: int, key_id: int, sdp: str) -> tuple[str, str]:
        if room_id in self.feeds and not self.feeds[room_id].ended:
            raise RelayRefusal("stage_busy")
        pc = RTCPeerConnection(ice_configuration())
        feed = StageFeed(room_id=room_id, event_id=event_id, resource=secrets.token_urlsafe(16), key_id=key_id, pc=pc)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as error:
            await pc.close()
            raise RelayRefusal("sdp_invalid", str(error)[:200]) from error
        for transceiver in pc.getTransceivers():
            if transceiver.kind in feed.codecs or transceiver.receiver.track is None:
                transceiver.direction = "inactive"  # one video and one audio per stage
                continue
            media = [c for c in transceiver._codecs if not c.mimeType.lower().endswith("/rtx")]
            if not media:
                continue
            feed.codecs[transceiver.kind] = media[0]
            feed.receivers[transceiver.kind] = transceiver.receiver
            transceiver.direction = "recvonly"
            passthrough.mark(transceiver.receiver.track)
        if "video" not in feed.codecs and "audio" not in feed.codecs:
            await pc.close()
            raise RelayRefusal("sdp_invalid", "no audio or video to receive")
        await pc.setLocalDescription(await pc.createAnswer())
        self.feeds[room_id] = feed
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
        return feed.resource, pc.localDescription.sdp

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
            for track in viewer.tracks:
                track.end()
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

    async def play(self, *, room_id: int, participant_id: int, sdp: str) -> tuple[str, str]:
        feed = self.feeds.get(room_id)
        if feed is None:
            raise RelayRefusal("nothing_live")
        if self.viewer_count() >= self.max_viewers:
            raise RelayRefusal("over_capacity")
        pc = RTCPeerConnection(ice_configuration())
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as error:
            await pc.close()
            raise RelayRefusal("sdp_invalid", str(error)[:200]) from error
        tracks = []
        for transceiver in pc.getTransceivers():
            codec = feed.codecs.get(transceiver.kind)
            if codec is None or any(t.kind == transceiver.kind for t in tracks):
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
            track = ForwardTrack(transceiver.kind, feed)
            transceiver.sender.replaceTrack(track)
            transceiver.direction = "sendonly"
            # A viewer's keyframe request (PLI/FIR) goes to the publisher, rate-limited.
            transceiver.sender._send_keyframe = feed.request_keyframe
            tracks.append(track)
        if not tracks:
            await pc.close()
            raise RelayRefusal("codec_unsupported", "the offer receives neither audio nor video")
        await pc.setLocalDescription(await pc.createAnswer())
        viewer = Viewer(resource=secrets.token_urlsafe(16), participant_id=participant_id, pc=pc, tracks=tracks)
        feed.viewers[viewer.resource] = viewer
        self.resources[viewer.resource] = feed
        feed.request_keyframe()  # the new viewer starts at a keyframe: ask for one now

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed"):
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
        for track in viewer.tracks:
            track.end()
        await viewer.pc.close()
        self._changed(feed)

    def _changed(self, feed: StageFeed) -> None:
        if self.on_change is not None:
            self.on_change(feed)

    async def close(self) -> None:
        for feed in list(self.feeds.values()):
            await self.end_feed(feed)
