"""The direct line (realtime/wire.py) under a real daphne: frames we build ourselves are read
by an independent client (the `websockets` library) byte for byte, and a client that stops
reading is cut off instead of growing the server's memory."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import ConnectionClosed

from eventplatform.realtime import bus, groups
from eventplatform.realtime.envelope import encode_push
from eventplatform.realtime.wire import text_frame
from tests.conftest import LiveSocket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def data_of_size(size: int, fill: str) -> dict:
    """Data whose encoded push is exactly `size` bytes of UTF-8."""
    room = size - len(encode_push("test.size", {"s": ""}).encode())
    width = len(fill.encode())
    data = {"s": fill * (room // width) + "x" * (room % width)}
    assert len(encode_push("test.size", data).encode()) == size
    return data


def test_frame_headers_follow_the_three_length_forms():
    assert text_frame("hi") == b"\x81\x02hi"
    assert text_frame("ü" * 63)[:2] == b"\x81\x7e" and text_frame("ü" * 63)[2:4] == (126).to_bytes(2, "big")
    big = text_frame("a" * 70_000)
    assert big[:2] == b"\x81\x7f" and big[2:10] == (70_000).to_bytes(8, "big") and len(big) == 10 + 70_000


@pytest.mark.parametrize("batching", [{}, {"WS_FANOUT_BATCH_FROM": "1", "WS_FANOUT_BATCH_MS": "100"}],
                         ids=["small-group", "batched"])
async def test_pushes_of_every_length_form_arrive_intact(people, daphne, batching):
    # A group of one socket goes out at once; with batching for every group, the same pushes
    # arrive joined in one write per socket, still each its own frame, in order.
    port, _ = daphne(**batching)
    client = await LiveSocket.open(port, "testcamp", people["attendee"].ticket.secret)
    await client.request("hello")
    event_group = groups.event(people["attendee"].event_id)
    # Both sides of each length boundary, in ASCII and in two-byte characters.
    sent = [data_of_size(size, fill) for size in (60, 125, 126, 65_535, 65_536, 200_000) for fill in ("a", "ü")]
    for data in sent:
        await sync_to_async(bus.publish)(event_group, "test.size", data)
    received = []
    async with asyncio.timeout(20):
        while len(received) < len(sent):
            message = json.loads(await client.ws.recv())
            if message.get("type") == "test.size":
                received.append(message["data"])
    assert received == sent
    await client.close()


async def test_a_client_that_stops_reading_is_cut_off_and_the_others_get_everything(people, daphne):
    port, _ = daphne(WS_MAX_BUFFERED_BYTES=str(256 * 1024))
    reader = await LiveSocket.open(port, "testcamp", people["attendee"].ticket.secret)
    await reader.request("hello")
    stalled = await LiveSocket.open(port, "testcamp", people["attendee2"].ticket.secret)
    await stalled.request("hello")  # from here on it never reads again

    # 400 × 64 KB: far more than the kernel's socket buffers and the limit together.
    event_group = groups.event(people["attendee"].event_id)
    count = 400
    got = []

    async def read_all():
        while len(got) < count:
            message = json.loads(await reader.ws.recv())
            if message.get("type") == "test.bulk":
                got.append(message["data"]["n"])

    reading = asyncio.create_task(read_all())
    for n in range(count):
        await sync_to_async(bus.publish)(event_group, "test.bulk", {"n": n, "pad": "p" * 64_000})
        await asyncio.sleep(0)
    async with asyncio.timeout(60):
        await reading
    assert got == list(range(count))  # in order, nothing lost

    # The stalled client now drains what reached it before the server dropped it.
    drained = 0
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(30):
            while True:
                if json.loads(await stalled.ws.recv()).get("type") == "test.bulk":
                    drained += 1
    assert drained < count
    assert closed.value.rcvd is None  # dropped without a close frame: the client reconnects
    await reader.close()
