"""Chat across two real daphne processes: reactions and votes from both end in one push per window."""

import asyncio
import uuid

import pytest

from chat.models import QA, Question
from eventplatform.models import Session
from tests.conftest import LiveSocket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


async def test_reactions_and_votes_from_two_processes_are_summed_once(people, event, daphne):
    port_a, _ = daphne()
    port_b, _ = daphne()
    alice = await LiveSocket.open(port_a, "testcamp", people["attendee"].ticket.secret)
    bob = await LiveSocket.open(port_b, "testcamp", people["attendee2"].ticket.secret)
    hello = await alice.request("hello")
    stage = next(c["id"] for c in hello["data"]["streams"]["chat"]["data"]["channels"] if c["kind"] == "stage")
    await bob.request("hello")

    async def burst(client, n):
        for _ in range(n):
            assert (await client.request("chat.react", {"channel_id": stage, "kind": "applause"}))["ok"]

    await asyncio.gather(burst(alice, 12), burst(bob, 9))
    total, pushes = 0, 0
    while total < 21:
        counts = await alice.wait_push("chat.reactions", timeout=5)
        total += counts["counts"]["applause"]
        pushes += 1
    assert total == 21  # nothing counted twice although both processes saw reactions
    assert pushes <= 3  # a burst well under a second or two: one push per window, not 21

    # A message sent on one process reaches the socket on the other exactly once.
    sent = await alice.request("chat.send", {"channel_id": stage, "text": "über Prozesse", "client_key": uuid.uuid4().hex})
    assert (await bob.wait_push("chat.message"))["id"] == sent["data"]["message"]["id"]

    # Votes from both processes: exact count, coalesced pushes end on it.
    session = await Session.objects.aget(event=event, title="Keynote")
    await QA.objects.acreate(session=session, is_open=True)
    asked = await alice.request("qa.ask", {"session_id": session.pk, "text": "Frage?", "client_key": uuid.uuid4().hex})
    qid = asked["data"]["question"]["id"]
    speaker = await LiveSocket.open(port_b, "testcamp", people["speaker"].ticket.secret)
    await asyncio.gather(bob.request("qa.vote", {"question_id": qid}), speaker.request("qa.vote", {"question_id": qid}))
    assert (await Question.objects.aget(pk=qid)).votes == 2
    await alice.wait_push("qa.votes", where=lambda d: d["counts"].get(str(qid)) == 2)
    for client in (alice, bob, speaker):
        await client.close()
