"""Real WebRTC peers for the stage tests: an aiortc publisher (WHIP) and viewers (WHEP)."""

import asyncio
import json
import time
import urllib.error
import urllib.request

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame

NO_ICE_SERVERS = RTCConfiguration(iceServers=[])  # never a public STUN server in tests


class PatternTrack(VideoStreamTrack):
    """A synthetic camera: a moving bar over a grey picture, `width`×`height` at 30 fps."""

    def __init__(self, width=640, height=360) -> None:
        super().__init__()
        self.width, self.height, self.count = width, height, 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(self.width, self.height, "yuv420p")
        x = (self.count * 8) % (self.width - 32)
        self.count += 1
        for index, (plane, scale, grey, bar) in enumerate(zip(frame.planes, (1, 2, 2), (128, 128, 128), (220, 90, 240))):
            width, height = self.width // scale, self.height // scale
            left = x // scale
            row = bytes([grey]) * left + bytes([bar]) * (32 // scale) + bytes([grey]) * (width - left - 32 // scale)
            plane.update((row + bytes(plane.line_size - width)) * height)
        frame.pts, frame.time_base = pts, time_base
        return frame


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) — errors included, so tests can check them."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def ahttp(*args, **kwargs):
    return await asyncio.to_thread(http, *args, **kwargs)


class Publisher:
    def __init__(self, base: str, room_id: int, key: str, width=640, height=360) -> None:
        self.base, self.room_id, self.key = base, room_id, key
        self.pc = RTCPeerConnection(NO_ICE_SERVERS)
        self.pc.addTransceiver(PatternTrack(width, height), direction="sendonly")
        self.location = None

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def start(self) -> tuple[int, dict, bytes]:
        sdp = await self.offer()
        status, headers, body = await ahttp(
            "POST", f"{self.base}/api/streams/{self.room_id}/whip", sdp.encode(),
            {"Content-Type": "application/sdp", "Authorization": f"Bearer {self.key}"},
        )
        if status == 201:
            self.location = headers["Location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(body.decode(), "answer"))
        return status, headers, body

    async def close(self) -> None:
        await self.pc.close()


class Viewer:
    """Plays the stage with WHEP; `decode=False` counts encoded frames (see streams/passthrough)."""

    def __init__(self, base: str, room_id: int, ticket: str, decode=True) -> None:
        self.base, self.room_id, self.ticket, self.decode = base, room_id, ticket, decode
        self.pc = RTCPeerConnection(NO_ICE_SERVERS)
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames: list = []  # (arrival monotonic, width, height, keyframe)
        self.ended = asyncio.Event()
        self.first_frame = asyncio.Event()
        self.location = None
        self.started_at = None
        self._task = None

    async def start(self) -> tuple[int, dict, bytes]:
        from streams import passthrough

        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.started_at = time.monotonic()
        status, headers, body = await ahttp(
            "POST", f"{self.base}/api/streams/{self.room_id}/whep", self.pc.localDescription.sdp.encode(),
            {"Content-Type": "application/sdp", "Authorization": f"Bearer {self.ticket}"},
        )
        if status != 201:
            return status, headers, body
        self.location = headers["Location"]
        if not self.decode:
            passthrough.install()
        await self.pc.setRemoteDescription(RTCSessionDescription(body.decode(), "answer"))
        track = self.pc.getTransceivers()[0].receiver.track
        if not self.decode:
            passthrough.mark(track)
        self._task = asyncio.ensure_future(self._read(track))
        return status, headers, body

    async def _read(self, track) -> None:
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                item = await track.recv()
                if self.decode:
                    self.frames.append((time.monotonic(), item.width, item.height, None))
                else:
                    self.frames.append((time.monotonic(), None, None, item.is_keyframe))
                self.first_frame.set()
        except MediaStreamError:
            self.ended.set()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        await self.pc.close()


def json_body(body: bytes) -> dict:
    return json.loads(body.decode())
