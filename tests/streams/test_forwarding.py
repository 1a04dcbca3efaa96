"""The relay's per-viewer queue and keyframe rules, and keyframe detection in encoded frames."""

import av
import pytest

from streams.passthrough import is_keyframe
from streams.relay import QUEUE_FRAMES, ForwardTrack


class FeedSpy:
    """Counts the keyframe requests a viewer track makes of its feed."""

    def __init__(self):
        self.requests = 0

    def request_keyframe(self):
        self.requests += 1


def test_keyframe_detection():
    assert is_keyframe("video/VP8", bytes([0b10010000, 1, 2]))  # frame tag bit 0 = 0
    assert not is_keyframe("video/VP8", bytes([0b10010001, 1, 2]))
    assert is_keyframe("video/H264", b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x01\x65\x88")  # SPS + IDR
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")  # a P slice
    assert is_keyframe("audio/opus", b"\x01")


async def test_a_new_viewer_starts_at_a_keyframe_and_asks_for_one():
    feed = FeedSpy()
    track = ForwardTrack("video", feed)
    track.offer(av.Packet(b"delta"), keyframe=False)
    assert track.queue.empty() and feed.requests == 1
    track.offer(av.Packet(b"key"), keyframe=True)
    track.offer(av.Packet(b"delta2"), keyframe=False)
    assert bytes(await track.recv()) == b"key"
    assert bytes(await track.recv()) == b"delta2"


async def test_a_slow_viewer_is_bounded_and_restarts_at_the_next_keyframe():
    feed = FeedSpy()
    track = ForwardTrack("video", feed)
    track.offer(av.Packet(b"key"), keyframe=True)
    for i in range(QUEUE_FRAMES["video"] * 3):  # the viewer's sender never reads
        track.offer(av.Packet(b"d%d" % i), keyframe=False)
        assert track.queue.qsize() <= QUEUE_FRAMES["video"]
    assert track.dropped >= QUEUE_FRAMES["video"] and feed.requests >= 1
    track.offer(av.Packet(b"key2"), keyframe=True)
    assert bytes(await track.recv()) == b"key2"  # what was stale is gone


async def test_the_end_of_the_feed_ends_the_viewer_track():
    from aiortc.mediastreams import MediaStreamError

    track = ForwardTrack("audio", FeedSpy())
    track.offer(av.Packet(b"a"), keyframe=True)
    track.end()
    with pytest.raises(MediaStreamError):
        await track.recv()
