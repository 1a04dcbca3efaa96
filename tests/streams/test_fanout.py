"""The fan-out's RTP rules (header rewrite, sequence continuity, keyframe wait, bounded backlog),
and the aiortc internals it relies on, checked against a real aiortc peer connection."""

import asyncio
from fractions import Fraction

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from streams.fanout import HISTORY, MAX_BACKLOG_BYTES, Fanout, IdleTrack, SenderPort
from tests.streams.peers import NO_ICE_SERVERS

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


class PortSpy:
    """Stands where a viewer's RTCRtpSender would: records what the fan-out sends it."""

    def __init__(self, ssrc: int, payload_type: int = 96, rtx=(None, 0)) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.rtx = rtx
        self.ext_map = HeaderExtensionsMap()
        self.sent_bytes: list[bytes] = []
        self.counted = [0, 0, None]
        self.pending = 0  # what its socket has not sent yet
        self.on_keyframe = self.on_nack = None

    def ready(self) -> bool:
        return True

    def layout(self):
        return (self.payload_type, "0", ()), self.ext_map

    async def send(self, data: bytes) -> None:
        self.sent_bytes.append(data)

    def wire(self):
        return self, self, ("127.0.0.1", 9)  # plays the SRTP session and the UDP socket too

    def protect(self, data: bytes) -> bytes:
        return data

    def sendto(self, data: bytes, address) -> None:
        self.sent_bytes.append(data)

    def backlog(self) -> int:
        return self.pending

    def sent(self, packets, octets, rtp_timestamp) -> None:
        self.counted[0] += packets
        self.counted[1] += octets
        self.counted[2] = rtp_timestamp

    def take_over(self, track, on_keyframe, on_nack) -> None:
        self.on_keyframe, self.on_nack = on_keyframe, on_nack

    def packets(self) -> list[RtpPacket]:
        return [RtpPacket.parse(b, self.ext_map) for b in self.sent_bytes]


def _vp8_keyframe() -> av.Packet:
    return frame(100, 0, keyframe=True)


def frame(size: int, index: int, keyframe: bool) -> av.Packet:
    # A VP8 frame tag: bit 0 clear for a keyframe. The rest is opaque to the packetiser.
    data = bytes([0x10 if keyframe else 0x11]) + bytes([index % 256]) * (size - 1)
    packet = av.Packet(data)
    packet.pts, packet.time_base = index * 3000, Fraction(1, 90000)
    return packet


class KeyframeRequests:
    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1


async def test_each_viewer_gets_the_same_payloads_under_its_own_header():
    requests = KeyframeRequests()
    fanout = Fanout("video", VP8, requests)
    a, b = PortSpy(ssrc=1111), PortSpy(ssrc=2222, payload_type=100)
    fanout.add_port(a)
    fanout.add_port(b)
    for i in range(5):
        await fanout.forward(frame(4000, i, keyframe=i == 0), keyframe=i == 0)

    pa, pb = a.packets(), b.packets()
    assert len(pa) == len(pb) > 5  # 4000 bytes is more than one packet per frame
    assert [p.payload for p in pa] == [p.payload for p in pb]  # packetised once, shared
    assert {p.ssrc for p in pa} == {1111} and {p.ssrc for p in pb} == {2222}
    assert {p.payload_type for p in pa} == {96} and {p.payload_type for p in pb} == {100}
    for packets in (pa, pb):
        # Sequence numbers continue without a gap; a frame's packets share a timestamp and the
        # last one carries the marker; timestamps advance like the source's (3000 per frame).
        assert [(p.sequence_number - packets[0].sequence_number) % 65536 for p in packets] == list(range(len(packets)))
        stamps = sorted({p.timestamp for p in packets})
        assert len(stamps) == 5 and {(y - x) % 2**32 for x, y in zip(stamps, stamps[1:])} == {3000}
        for stamp in stamps:
            one_frame = [p for p in packets if p.timestamp == stamp]
            assert [p.marker for p in one_frame] == [0] * (len(one_frame) - 1) + [1]
    # Their offsets differ: a viewer learns nothing about another viewer's stream.
    assert pa[0].sequence_number != pb[0].sequence_number or pa[0].timestamp != pb[0].timestamp
    assert a.counted[0] == len(pa) and a.counted[2] == pa[-1].timestamp  # for its RTCP sender reports
    assert requests.count == 0


async def test_a_new_viewer_waits_for_a_keyframe_and_asks_for_one():
    requests = KeyframeRequests()
    fanout = Fanout("video", VP8, requests)
    port = PortSpy(ssrc=5)
    fanout.add_port(port)
    await fanout.forward(frame(500, 1, keyframe=False), keyframe=False)
    assert port.sent_bytes == [] and requests.count == 1
    await fanout.forward(frame(500, 2, keyframe=True), keyframe=True)
    await fanout.forward(frame(500, 3, keyframe=False), keyframe=False)
    packets = port.packets()
    assert len(packets) == 2 and packets[1].sequence_number == (packets[0].sequence_number + 1) % 65536
    assert packets[0].payload[-1] == 2  # the keyframe first; nothing before it
    # A viewer's own keyframe request (PLI/FIR) goes to the same rate-limited request.
    port.on_keyframe()
    assert requests.count == 2


async def test_audio_needs_no_keyframe():
    fanout = Fanout("audio", RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111),
                    KeyframeRequests())
    port = PortSpy(ssrc=7, payload_type=111)
    fanout.add_port(port)
    packet = av.Packet(b"\x08opus")
    packet.pts, packet.time_base = 960, Fraction(1, 48000)
    await fanout.forward(packet, keyframe=True)
    assert [p.payload for p in port.packets()] == [b"\x08opus"]


async def test_a_slow_viewer_is_skipped_until_the_next_keyframe_and_others_go_on():
    requests = KeyframeRequests()
    fanout = Fanout("video", VP8, requests)
    slow, fast = PortSpy(ssrc=1), PortSpy(ssrc=2)
    fanout.add_port(slow)
    fanout.add_port(fast)
    await fanout.forward(frame(500, 0, keyframe=True), keyframe=True)
    slow.pending = MAX_BACKLOG_BYTES + 1  # its socket cannot take more: we must not queue for it
    for i in range(1, 10):
        await fanout.forward(frame(500, i, keyframe=False), keyframe=False)
    assert len(slow.sent_bytes) == 1 and len(fast.sent_bytes) == 10
    assert requests.count >= 1
    slow.pending = 0  # drained: it still waits for a picture it can decode
    await fanout.forward(frame(500, 10, keyframe=False), keyframe=False)
    assert len(slow.sent_bytes) == 1
    await fanout.forward(frame(500, 11, keyframe=True), keyframe=True)
    packets = slow.packets()
    assert len(packets) == 2 and packets[1].payload[-1] == 11
    # No gap in its sequence numbers: the player sees a new picture, not lost packets.
    assert packets[1].sequence_number == (packets[0].sequence_number + 1) % 65536


async def test_a_lost_packet_is_sent_again_from_the_shared_history():
    fanout = Fanout("video", VP8, KeyframeRequests())
    plain, with_rtx = PortSpy(ssrc=1), PortSpy(ssrc=2, rtx=(97, 4242))
    fanout.add_port(plain)
    fanout.add_port(with_rtx)
    await fanout.forward(frame(3000, 0, keyframe=True), keyframe=True)
    lost = plain.packets()[1]
    await plain.on_nack(lost.sequence_number)
    again = plain.packets()[-1]
    assert (again.sequence_number, again.payload, again.ssrc) == (lost.sequence_number, lost.payload, 1)

    lost = with_rtx.packets()[1]
    await with_rtx.on_nack(lost.sequence_number)
    rtx = with_rtx.packets()[-1]
    assert rtx.payload_type == 97 and rtx.ssrc == 4242
    assert rtx.payload[:2] == lost.sequence_number.to_bytes(2, "big") and rtx.payload[2:] == lost.payload
    await with_rtx.on_nack((lost.sequence_number + HISTORY) % 65536)  # long gone: nothing sent
    assert with_rtx.packets()[-1].payload_type == 97 and len(with_rtx.sent_bytes) == len(with_rtx.packets())


async def test_the_aiortc_internals_the_fanout_uses_are_there():
    """aiortc is pinned (1.14.0) because of these: an upgrade that moves one fails here, loudly."""
    import aiortc

    assert aiortc.__version__ == "1.14.0", "streams/fanout.py SenderPort was written against aiortc 1.14.0"
    relay, viewer = RTCPeerConnection(NO_ICE_SERVERS), RTCPeerConnection(NO_ICE_SERVERS)
    try:
        viewer.addTransceiver("video", direction="recvonly")
        await viewer.setLocalDescription(await viewer.createOffer())
        await relay.setRemoteDescription(RTCSessionDescription(viewer.localDescription.sdp, "offer"))
        transceiver = relay.getTransceivers()[0]
        transceiver.direction = "sendonly"
        vp8 = [c for c in transceiver._codecs if c.mimeType == "video/VP8"][0]
        fanout = Fanout("video", vp8, KeyframeRequests())
        route = fanout.add(transceiver.sender, vp8.payloadType)
        assert isinstance(transceiver.sender.track, IdleTrack)
        await relay.setLocalDescription(await relay.createAnswer())
        await viewer.setRemoteDescription(RTCSessionDescription(relay.localDescription.sdp, "answer"))
        port: SenderPort = route.port
        for _ in range(200):  # connecting on 127.0.0.1 takes well under a second
            if port.ready():
                break
            await asyncio.sleep(0.05)
        assert port.ready()
        layout, ext_map = port.layout()
        assert layout[0] == vp8.payloadType and layout[1] == port.mid == "0"
        assert isinstance(ext_map, HeaderExtensionsMap) and isinstance(layout[2], tuple)
        assert isinstance(port.ssrc, int) and port.rtx[0] is not None and isinstance(port.rtx[1], int)
        assert port.backlog() == 0  # found the socket (else the AttributeError fallback hides it)
        srtp, udp, address = port.wire()
        assert callable(srtp.protect) and callable(udp.sendto) and isinstance(address, tuple)
        # What the plain send loop writes is what the viewer decrypts and takes as its stream.
        arrived = []

        async def record(packet, arrival_time_ms):
            arrived.append(packet)

        viewer.getTransceivers()[0].receiver._handle_rtp_packet = record
        await fanout.forward(_vp8_keyframe(), keyframe=True)
        for _ in range(100):
            if arrived:
                break
            await asyncio.sleep(0.02)
        assert [(p.ssrc, p.sequence_number) for p in arrived] == [(port.ssrc, (route.sequence - 1) % 65536)]
        assert port.sender.transport.transport._connection._nominated.get(1) is not None
        async def outbound():
            stats = await transceiver.sender.getStats()
            found = [s for s in stats.values() if s.type == "outbound-rtp"][0]
            return found.packetsSent, found.bytesSent

        before = await outbound()
        assert before[0] == 1  # the forwarded keyframe above, counted for the sender reports
        port.sent(3, 300, 1234)
        after = await outbound()
        assert (after[0] - before[0], after[1] - before[1]) == (3, 300)
        assert transceiver.sender._RTCRtpSender__rtp_timestamp == 1234
        assert transceiver.sender._send_keyframe == fanout.request_keyframe
        assert transceiver.sender._retransmit == route.retransmit
        # A NACK is answered through the sender's own path, as RTX on its retransmission SSRC.
        await route.retransmit((route.sequence - 1) % 65536)
        for _ in range(100):
            if len(arrived) > 1:
                break
            await asyncio.sleep(0.02)
        assert arrived[-1].ssrc == port.rtx[1] and arrived[-1].payload_type == port.rtx[0]
    finally:
        await relay.close()
        await viewer.close()

