"""Packetise each encoded frame once, then send it to every viewer with only its RTP header changed.

Why: with one aiortc `RTCRtpSender` per viewer reading its own track, every frame was split into
RTP payloads, wrapped in a new `RtpPacket`, serialised and handed through a queue and a task
switch once per viewer (~390 µs per frame per viewer, about 85 viewers per core). Here a frame
is split once (the codec's own packetiser from aiortc: VP8 descriptor, H.264 FU-A/STAP-A, Opus),
each packet is serialised once per header-extension layout, and per viewer we only write its
sequence number, timestamp and SSRC into a copy, SRTP-protect it and hand it to its UDP socket,
in one loop, without a task switch per viewer.

The viewer's `RTCRtpSender` stays in charge of everything else: the SDP, ICE/DTLS, its RTCP
(sender reports with the counters we keep up to date, so browsers sync and play; BYE on close),
keyframe requests (PLI/FIR → the publisher) and NACKs (answered from a short history here).
Its own media loop reads an idle track and never sends.

This leans on aiortc 1.14.0 internals (pinned in pyproject.toml). All of them are touched in
`SenderPort` below and nowhere else; tests/streams/test_fanout.py fails loudly if one changes.
"""

import asyncio
import dataclasses
import struct
import time
from collections.abc import Callable

from aiortc import clock
from aiortc.codecs import get_encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket, wrap_rtx
from aiortc.utils import random16, random32

HISTORY = 512  # packets kept per viewer for NACKs: ~0.5 s of 1.5 Mbit/s video
# A viewer whose socket has this much unsent (the kernel refused it) is too slow to keep up:
# we stop queueing for it and restart it at the next keyframe, so its memory stays bounded.
MAX_BACKLOG_BYTES = 256 * 1024
MAX_RETRANSMITS_PER_SECOND = 100  # about two thirds of a 1.5 Mbit/s stream's packets
_HEADER = struct.Struct("!HLL")  # sequence number, timestamp, SSRC at offset 2 of an RTP header


class IdleTrack(MediaStreamTrack):
    """What the viewer's own sender reads: nothing, until the viewer ends (no polling, no CPU)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._ended = asyncio.Event()

    async def recv(self):
        await self._ended.wait()
        raise MediaStreamError

    def end(self) -> None:
        self._ended.set()
        self.stop()


class SenderPort:
    """The few aiortc internals a route needs from one viewer's `RTCRtpSender` (aiortc 1.14.0)."""

    def __init__(self, sender, payload_type: int) -> None:
        self.sender = sender
        self.payload_type = payload_type

    def ready(self) -> bool:
        # `send()` ran (mid, extension ids and RTX type are known) and DTLS is up (SRTP keys).
        return bool(self.sender._RTCRtpSender__started) and self.sender.transport._state == State.CONNECTED

    def layout(self):
        """What the header of this viewer's packets looks like, besides sequence/timestamp/SSRC."""
        ext_map = self.sender._RTCRtpSender__rtp_header_extensions_map
        ids = dataclasses.astuple(ext_map._HeaderExtensionsMap__ids)
        return (self.payload_type, self.sender._RTCRtpSender__mid, ids), ext_map

    @property
    def mid(self) -> str | None:
        return self.sender._RTCRtpSender__mid

    @property
    def ssrc(self) -> int:
        return self.sender._ssrc

    @property
    def rtx(self) -> tuple[int | None, int]:
        return self.sender._RTCRtpSender__rtx_payload_type, self.sender._rtx_ssrc

    async def send(self, data: bytes) -> None:
        await self.sender.transport._send_rtp(data)  # SRTP-protects, then UDP; never waits

    def wire(self):
        """(SRTP session, UDP transport, address) of this viewer, to send a frame's packets in a
        plain loop: what `transport._send_rtp` does per packet, without its three coroutine
        layers (a third of the per-packet cost). ConnectionError when it is not connected."""
        dtls = self.sender.transport
        if dtls._state != State.CONNECTED:
            raise ConnectionError("not connected")
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or pair.protocol.transport is None:
            raise ConnectionError("no nominated candidate pair")
        return dtls._tx_srtp, pair.protocol.transport, pair.remote_addr

    def backlog(self) -> int:
        """Bytes waiting in this viewer's UDP socket buffer in user space (0 when unknown)."""
        try:
            pair = self.sender.transport.transport._connection._nominated.get(1)
            return pair.protocol.transport.get_write_buffer_size() if pair else 0
        except AttributeError:
            return 0

    def sent(self, packets: int, octets: int, rtp_timestamp: int) -> None:
        """Keep the sender's counters true: its RTCP sender reports carry them to the player."""
        s = self.sender
        s._RTCRtpSender__ntp_timestamp = clock.current_ntp_time()
        s._RTCRtpSender__rtp_timestamp = rtp_timestamp
        s._RTCRtpSender__packet_count += packets
        s._RTCRtpSender__octet_count += octets

    def take_over(self, track: IdleTrack, on_keyframe: Callable[[], None], on_nack) -> None:
        """The sender keeps its RTCP; its media loop idles; PLI/FIR and NACKs come to us."""
        self.sender.replaceTrack(track)
        self.sender._send_keyframe = on_keyframe
        self.sender._retransmit = on_nack


class Route:
    """One viewer's stream of one kind: its header values and where it stands."""

    def __init__(self, port: SenderPort, kind: str) -> None:
        self.port = port
        self.kind = kind
        self.layout = None  # known once the sender started
        self.ext_map = None
        self.sequence = random16() % 32768  # lower half: no early wrap (SRTP index estimation)
        self.timestamp_origin = random32()
        self.rtx_sequence = random16() % 32768
        self.waiting_for_keyframe = kind == "video"
        self.history: list = [None] * HISTORY
        self.dropped_frames = 0
        self.nack_window = [0.0, 0]  # start of the current second, retransmissions in it
        self.closed = False
        self.track = IdleTrack(kind)  # what its own sender reads: nothing

    async def retransmit(self, sequence: int) -> None:
        # A viewer that loses much (or lies) must not make us send its stream twice over.
        now = time.monotonic()
        if now - self.nack_window[0] >= 1:
            self.nack_window = [now, 0]
        if self.nack_window[1] >= MAX_RETRANSMITS_PER_SECOND:
            return
        self.nack_window[1] += 1
        entry = self.history[sequence % HISTORY]
        if entry is None or entry[0] != sequence or self.ext_map is None:
            return
        data = bytearray(entry[1])
        _HEADER.pack_into(data, 2, sequence, entry[2], self.port.ssrc)
        packet = RtpPacket.parse(bytes(data), self.ext_map)
        rtx_type, rtx_ssrc = self.port.rtx
        if rtx_type is not None:
            packet = wrap_rtx(packet, payload_type=rtx_type, sequence_number=self.rtx_sequence, ssrc=rtx_ssrc)
            self.rtx_sequence = (self.rtx_sequence + 1) & 0xFFFF
        try:
            await self.port.send(packet.serialize(self.ext_map))
        except ConnectionError:
            pass


class Fanout:
    """One stage feed's media of one kind, packetised once, sent to every route."""

    def __init__(self, kind: str, codec: RTCRtpCodecParameters, request_keyframe: Callable[[], None]) -> None:
        self.kind = kind
        self.codec = codec
        self.packetiser = get_encoder(codec)  # only its `pack` is used: nothing is encoded
        self.request_keyframe = request_keyframe
        self.routes: list[Route] = []

    def add(self, sender, payload_type: int) -> Route:
        """From now on this fan-out writes `sender`'s media (its negotiated `payload_type`)."""
        return self.add_port(SenderPort(sender, payload_type))

    def add_port(self, port: SenderPort) -> Route:
        route = Route(port, self.kind)
        port.take_over(route.track, self.request_keyframe, route.retransmit)
        self.routes.append(route)
        return route

    def remove(self, route: Route) -> None:
        route.closed = True
        if route in self.routes:
            self.routes.remove(route)
        route.track.end()

    @staticmethod
    def _templates(payloads: list[bytes], layout, ext_map) -> list[bytes]:
        """The frame's packets serialised for one header layout, with zero sequence/timestamp/SSRC."""
        last = len(payloads) - 1
        now = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
        out = []
        for i, payload in enumerate(payloads):
            packet = RtpPacket(payload_type=layout[0], marker=int(i == last), sequence_number=0, timestamp=0)
            packet.payload = payload
            packet.extensions.abs_send_time = now
            packet.extensions.mid = layout[1]
            out.append(packet.serialize(ext_map))
        return out

    async def forward(self, packet, keyframe: bool) -> None:
        """Send one encoded frame (an `av.Packet` with pts in the codec's clock) to every route."""
        payloads, timestamp = self.packetiser.pack(packet)
        if not payloads:
            return
        octets = sum(map(len, payloads))
        by_layout: dict = {}
        need_keyframe = False
        for route in list(self.routes):
            if route.closed:
                continue
            if route.layout is None:
                if not route.port.ready():
                    continue
                route.layout, route.ext_map = route.port.layout()
            if route.waiting_for_keyframe:
                if not keyframe:
                    need_keyframe = True
                    continue
                route.waiting_for_keyframe = False
            if route.port.backlog() > MAX_BACKLOG_BYTES:
                # Too slow for this stream: drop it here, not in an unbounded buffer.
                route.dropped_frames += 1
                if self.kind == "video":
                    route.waiting_for_keyframe = True
                    need_keyframe = True
                continue
            templates = by_layout.get(route.layout)
            if templates is None:
                templates = by_layout[route.layout] = self._templates(payloads, route.layout, route.ext_map)
            rtp_timestamp = (route.timestamp_origin + timestamp) & 0xFFFFFFFF
            ssrc = route.port.ssrc
            sequence = route.sequence
            history = route.history
            try:
                srtp, udp, address = route.port.wire()
                for template in templates:
                    data = bytearray(template)
                    _HEADER.pack_into(data, 2, sequence, rtp_timestamp, ssrc)
                    # The shared template, not this copy: history costs a reference per packet.
                    history[sequence % HISTORY] = (sequence, template, rtp_timestamp)
                    sequence = (sequence + 1) & 0xFFFF
                    udp.sendto(srtp.protect(bytes(data)), address)
            except ConnectionError:
                route.closed = True  # its connection ended; the relay removes it
                continue
            finally:
                route.sequence = sequence
            route.port.sent(len(templates), octets, rtp_timestamp)
        if need_keyframe:
            self.request_keyframe()
