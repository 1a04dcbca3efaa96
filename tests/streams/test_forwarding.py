"""Shared packetisation end to end: the relay's fan-out feeds real aiortc viewers that decode it,
and keyframe detection in encoded frames."""

import asyncio
from fractions import Fraction

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from streams.fanout import Fanout
from streams.passthrough import is_keyframe
from streams.relay import Relay, StageFeed
from tests.streams.peers import NO_ICE_SERVERS, PatternTrack

pytestmark = pytest.mark.timeout(60)


def test_keyframe_detection():
    assert is_keyframe("video/VP8", bytes([0b10010000, 1, 2]))  # frame tag bit 0 = 0
    assert not is_keyframe("video/VP8", bytes([0b10010001, 1, 2]))
    assert is_keyframe("video/H264", b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x01\x65\x88")  # SPS + IDR
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")  # a P slice
    assert is_keyframe("audio/opus", b"\x01")


async def _encoded_pictures(count: int, width: int, height: int) -> list[bytes]:
    """VP8 frames of the test pattern, keyframe every 30 (as OBS sends with a 1-s interval)."""
    source = PatternTrack(width, height)
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base, codec.bit_rate, codec.gop_size = Fraction(1, 30), 1_000_000, 30
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out = []
    for _ in range(count):
        picture = await source.recv()
        picture.pts, picture.time_base = len(out), Fraction(1, 30)
        out += [bytes(p) for p in codec.encode(picture)]
    return out


class Watcher:
    """A real aiortc viewer that decodes what it gets."""

    def __init__(self):
        self.pc = RTCPeerConnection(NO_ICE_SERVERS)
        self.pc.addTransceiver("video", direction="recvonly")
        self.sizes: list[tuple[int, int]] = []
        self.task = None

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        track = self.pc.getTransceivers()[0].receiver.track
        self.task = asyncio.ensure_future(self._read(track))

    async def _read(self, track):
        while True:
            picture = await track.recv()
            self.sizes.append((picture.width, picture.height))


def _vp8_feed(relay: Relay) -> StageFeed:
    """A VP8 feed as the publisher's ingest would make it, fed by the test instead of a publisher."""
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    feed = StageFeed(room_id=1, event_id=1, resource="r", key_id=1, pc=RTCPeerConnection(NO_ICE_SERVERS),
                     codecs={"video": vp8})
    feed.fanouts["video"] = Fanout("video", vp8, feed.request_keyframe)
    relay.feeds[1] = feed
    return feed


async def test_one_packetisation_feeds_two_decoding_viewers():
    pictures = await _encoded_pictures(45, 640, 360)
    relay = Relay(max_viewers=10)
    feed = _vp8_feed(relay)
    watchers = [Watcher(), Watcher()]
    try:
        for watcher in watchers:
            _resource, answer = await relay.play(room_id=1, participant_id=1, sdp=await watcher.offer())
            await watcher.answer(answer)
        routes = feed.fanouts["video"].routes
        assert len(routes) == 2
        for _ in range(200):
            if all(r.port.ready() for r in routes):
                break
            await asyncio.sleep(0.05)
        for index in range(150):  # five seconds of video at 30 frames a second
            data = pictures[index % len(pictures)]
            packet = av.Packet(data)
            packet.pts, packet.time_base = index * 3000, Fraction(1, 90000)
            await feed.fanouts["video"].forward(packet, is_keyframe("video/VP8", data))
            await asyncio.sleep(1 / 30)
        for _ in range(100):
            if all(len(w.sizes) >= 60 for w in watchers):
                break
            await asyncio.sleep(0.05)
        for watcher in watchers:
            assert len(watcher.sizes) >= 60, len(watcher.sizes)
            assert set(watcher.sizes) == {(640, 360)}
        assert all(r.dropped_frames == 0 for r in routes)
    finally:
        for watcher in watchers:
            if watcher.task:
                watcher.task.cancel()
            await watcher.pc.close()
        await relay.close()


async def test_a_burst_of_viewers_does_not_overshoot_the_cap():
    from streams.relay import RelayRefusal

    relay = Relay(max_viewers=2)
    feed = _vp8_feed(relay)
    watchers = [Watcher() for _ in range(5)]
    try:
        offers = [await w.offer() for w in watchers]
        # All five ask at once: each negotiation awaits, so all would pass a check of the count alone.
        answers = await asyncio.gather(*(relay.play(room_id=1, participant_id=1, sdp=o) for o in offers),
                                       return_exceptions=True)
        refused = [a for a in answers if isinstance(a, RelayRefusal)]
        assert len(refused) == 3 and {r.code for r in refused} == {"over_capacity"}
        assert relay.viewer_count() == 2 and relay.joining == 0
        # An edge link (another relay process) is not a person and is not capped.
        edge = Watcher()
        await relay.play(room_id=1, participant_id=0, sdp=await edge.offer(), edge=True)
        assert relay.viewer_count() == 2 and len(feed.viewers) == 3
        watchers.append(edge)
    finally:
        for watcher in watchers:
            await watcher.pc.close()
        await relay.close()
