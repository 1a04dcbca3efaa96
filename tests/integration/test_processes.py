"""Real daphne processes over the real Redis: presence across processes, process death, idling."""

import asyncio
import os
import signal

import pytest
from asgiref.sync import sync_to_async

from eventplatform import services
from tests.conftest import LiveSocket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAST_PRESENCE = {"WS_PRESENCE_TTL": "3", "WS_PRESENCE_REFRESH": "1", "WS_PRESENCE_COALESCE_MS": "200"}


async def test_two_processes_share_presence_and_a_dead_process_expires(people, daphne):
    port_a, _ = daphne(**FAST_PRESENCE)
    port_b, process_b = daphne(**FAST_PRESENCE)

    alice = await LiveSocket.open(port_a, "testcamp", people["attendee"].ticket.secret)
    assert (await alice.request("hello"))["data"]["presence"]["count"] == 1
    bob = await LiveSocket.open(port_b, "testcamp", people["speaker"].ticket.secret)
    bob_view = (await bob.request("hello"))["data"]["presence"]
    assert bob_view["count"] == 2  # bob's process sees alice, who is connected to the other one

    seen = await alice.wait_push("presence.update", where=lambda d: d["count"] == 2)
    assert {p["name"] for p in seen["participants"]} == {"Attendee", "Speaker"}

    # A push published anywhere reaches sockets on both processes.
    await sync_to_async(services.agenda_changed)(people["attendee"].event)
    assert (await alice.wait_push("agenda.update"))["cursor"] == (await bob.wait_push("agenda.update"))["cursor"]

    # Process B dies without a goodbye: bob's entry stops counting after the TTL.
    os.kill(process_b.pid, signal.SIGKILL)
    process_b.wait()
    gone = await alice.wait_push("presence.update", where=lambda d: d["count"] == 1, timeout=15)
    assert [p["name"] for p in gone["participants"]] == ["Attendee"]
    await alice.close()


async def test_client_reconnects_to_another_process_and_resumes(people, daphne):
    port_a, process_a = daphne()
    port_b, _ = daphne()
    client = await LiveSocket.open(port_a, "testcamp", people["attendee"].ticket.secret)
    cursor = (await client.request("hello"))["data"]["streams"]["agenda"]["cursor"]

    process_a.terminate()  # the client's server goes away
    process_a.wait()
    await sync_to_async(services.agenda_changed)(people["attendee"].event)  # missed while away

    client = await LiveSocket.open(port_b, "testcamp", people["attendee"].ticket.secret)
    resumed = (await client.request("hello", {"resume": {"agenda": cursor}}))["data"]["streams"]["agenda"]
    assert resumed["mode"] == "full" and resumed["cursor"] == cursor + 1
    again = (await client.request("hello", {"resume": {"agenda": cursor + 1}}))["data"]["streams"]["agenda"]
    assert again == {"mode": "unchanged", "cursor": cursor + 1, "data": None}
    await client.close()


async def test_idle_socket_stays_connected_for_a_minute(people, daphne):
    """redis-py's read timeout once killed idle subscribers after 5 s (DESIGN.md pitfalls)."""
    port, _ = daphne()
    client = await LiveSocket.open(port, "testcamp", people["attendee"].ticket.secret)
    await client.request("hello")
    await asyncio.sleep(65)
    await sync_to_async(services.agenda_changed)(people["attendee"].event)
    assert "sessions" in (await client.wait_push("agenda.update"))["data"]
    assert (await client.request("ping"))["ok"] is True
    await client.close()


async def test_one_person_on_two_processes_shares_one_message_budget(people, daphne):
    limits = {"WS_RATE_LIMIT": "60", "WS_RATE_LIMIT_PERSON": "40", "WS_RATE_WINDOW": "10"}
    port_a, _ = daphne(**limits)
    port_b, _ = daphne(**limits)
    secret = people["attendee"].ticket.secret
    tab_a = await LiveSocket.open(port_a, "testcamp", secret)
    tab_b = await LiveSocket.open(port_b, "testcamp", secret)
    other = await LiveSocket.open(port_a, "testcamp", people["speaker"].ticket.secret)
    # 25 messages per tab: each tab under its own limit (60), together over the person's (40).
    for tab in (tab_a, tab_b):
        assert all([(await tab.request("ping"))["ok"] for _ in range(25)])
    # Each process learns the person's total when it next sends its counts (every 0.25 s while
    # they write): a flood goes on a moment at most, then every tab is refused.
    for tab in (tab_a, tab_b):
        replies = []
        for _ in range(10):
            replies.append(await tab.request("ping"))
            await asyncio.sleep(0.15)
        refused = [r for r in replies if not r["ok"]]
        assert len(refused) >= 5, replies
        assert all(r["error"]["code"] == "rate_limited" and r["error"]["retry_after"] > 0 for r in refused)
        assert not any(r["ok"] for r in replies[replies.index(refused[0]) :])  # refused from then on
    assert (await other.request("ping"))["ok"]  # someone else is not affected
    for socket in (tab_a, tab_b, other):
        await socket.close()
