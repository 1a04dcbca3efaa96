"""Encoded frames out of aiortc's RTCRtpReceiver, without decoding (aiortc 1.14.0, pinned).

aiortc's receiver reassembles RTP packets into whole encoded frames (its jitter buffer) and hands
them to a decoder thread (`rtcrtpreceiver.decoder_worker`) that writes decoded frames into the
remote track's queue. We replace that worker: for a track whose queue is marked
`encoded_passthrough`, it wraps each encoded frame in an `av.Packet` instead of decoding it. On
the sending side aiortc 1.14's RTCRtpSender packs an `av.Packet` from a track as pre-encoded data
(`encoder.pack`), so a relayed frame goes from the publisher's packets to each viewer's
packetizer without a decoder or encoder in between. Other tracks decode as usual.

The replacement depends on aiortc internals (the worker's name and arguments, the jitter
frame's `data`/`timestamp`); tests/streams/test_relay.py proves them for the pinned version.
"""

import asyncio
from fractions import Fraction

import av
from aiortc import rtcrtpreceiver

_original_worker = rtcrtpreceiver.decoder_worker


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own (a new viewer may start with it)."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        # RFC 6386 §9.1: bit 0 of the frame tag is 0 for a key frame.
        return bool(data) and not (data[0] & 0x01)
    if mime == "video/h264":
        # Annex B after aiortc's depayloader: an IDR slice (5) or a sequence parameter set (7).
        i = 0
        while True:
            i = data.find(b"\x00\x00\x01", i)
            if i < 0 or i + 3 >= len(data):
                return False
            if data[i + 3] & 0x1F in (5, 7):
                return True
            i += 3
    return True  # audio: every frame stands alone


def _passthrough_worker(loop: asyncio.AbstractEventLoop, input_q, output_q: asyncio.Queue) -> None:
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        codec, encoded_frame = task
        if not getattr(output_q, "encoded_passthrough", False):
            # Not ours: decode like aiortc does (the stock worker takes this frame and the rest).
            with input_q.mutex:
                input_q.queue.appendleft(task)
            return _original_worker(loop, input_q, output_q)
        packet = av.Packet(encoded_frame.data)
        packet.pts = encoded_frame.timestamp
        packet.time_base = Fraction(1, codec.clockRate)
        packet.is_keyframe = is_keyframe(codec.mimeType, encoded_frame.data)
        asyncio.run_coroutine_threadsafe(output_q.put(packet), loop)


def install() -> None:
    """Route marked tracks around the decoder (idempotent)."""
    rtcrtpreceiver.decoder_worker = _passthrough_worker


def mark(track) -> None:
    """From now on, `track.recv()` yields encoded `av.Packet`s (call before media flows)."""
    track._queue.encoded_passthrough = True
