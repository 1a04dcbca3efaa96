"""Polls and stage reactions over the real gateway and Redis."""

import asyncio

import pytest

from chat import live
from chat.models import PollBallot, PollOption
from tests.chat.conftest import channel_of, no_push

pytestmark = pytest.mark.django_db(transaction=True)


async def make_poll(mod, stage, **extra):
    created = await mod.request("poll.create", {"channel_id": stage, "question": "Kaffee oder Tee?",
                                                "options": ["Kaffee", "Tee", "Mate"], **extra})
    assert created["ok"], created
    poll = created["data"]
    assert poll["state"] == "draft"
    opened = await mod.request("poll.set_state", {"poll_id": poll["id"], "state": "open"})
    assert opened["data"]["state"] == "open"
    return poll


async def test_a_single_choice_poll_with_live_results(people, connect):
    alice, bob, mod = [await connect(people[p]) for p in ("attendee", "attendee2", "moderator")]
    stage = await channel_of(alice)
    poll = await make_poll(mod, stage)
    update = await alice.wait_push("poll.update")
    assert update["id"] == poll["id"] and update["state"] == "open"
    coffee, tea, _mate = (o["id"] for o in poll["options"])
    two = await alice.request("poll.vote", {"poll_id": poll["id"], "option_ids": [coffee, tea]})
    assert two["error"]["code"] == "invalid_options"
    alien = await alice.request("poll.vote", {"poll_id": poll["id"], "option_ids": [999999]})
    assert alien["error"]["code"] == "invalid_options"
    assert (await alice.request("poll.vote", {"poll_id": poll["id"], "option_ids": [coffee]}))["ok"]
    assert (await alice.request("poll.vote", {"poll_id": poll["id"], "option_ids": [tea]}))["error"]["code"] == "already_voted"
    voted = await bob.request("poll.vote", {"poll_id": poll["id"], "option_ids": [coffee]})
    assert voted["data"]["poll"]["options"][0]["votes"] == 2
    counts = await alice.wait_push("poll.counts", where=lambda d: d["ballots"] == 2)
    assert counts["counts"][str(coffee)] == 2 and counts["counts"][str(tea)] == 0
    await mod.request("poll.set_state", {"poll_id": poll["id"], "state": "closed"})
    late = await alice.request("poll.vote", {"poll_id": poll["id"], "option_ids": [tea]})
    assert late["error"]["code"] == "poll_closed"
    assert await PollBallot.objects.acount() == 2


async def test_results_after_close_stay_secret_until_the_poll_closes(people, connect):
    alice, mod = await connect(people["attendee"]), await connect(people["moderator"])
    stage = await channel_of(alice)
    poll = await make_poll(mod, stage, kind="multiple", results="after_close")
    ids = [o["id"] for o in poll["options"]]
    voted = await alice.request("poll.vote", {"poll_id": poll["id"], "option_ids": ids[:2]})
    assert [o["votes"] for o in voted["data"]["poll"]["options"]] == [None, None, None]
    assert await no_push(alice, "poll.counts", seconds=0.8)
    snapshot = (await alice.request("hello", {}))["data"]["streams"]["qa"]["data"]
    assert snapshot["polls"][0]["options"][0]["votes"] is None
    assert snapshot["my_ballots"] == {str(poll["id"]): ids[:2]}
    await mod.request("poll.set_state", {"poll_id": poll["id"], "state": "closed"})
    counts = await alice.wait_push("poll.counts")
    assert counts["counts"] == {str(ids[0]): 1, str(ids[1]): 1, str(ids[2]): 0}
    assert [o.votes async for o in PollOption.objects.order_by("position")] == [1, 1, 0]


async def test_reactions_are_summed_into_one_push_per_second(people, connect, settings):
    clients = [await connect(people[p]) for p in ("attendee", "attendee2", "speaker")]
    stage = await channel_of(clients[0])
    watcher = clients[0]

    async def burst(client):
        for kind in ["applause"] * 10 + ["heart"] * 5:
            assert (await client.request("chat.react", {"channel_id": stage, "kind": kind}))["ok"]

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(burst(c) for c in clients))
    total: dict[str, int] = {}
    pushes = 0
    while total != {"applause": 30, "heart": 15}:
        counts = (await watcher.wait_push("chat.reactions", timeout=3))["counts"]
        pushes += 1
        for k, n in counts.items():
            total[k] = total.get(k, 0) + n
    elapsed = asyncio.get_running_loop().time() - started
    # 45 reactions, one push per elapsed second window (at most one more for the window edge).
    assert pushes <= int(elapsed / (settings.CHAT["REACTION_FLUSH_MS"] / 1000)) + 1
    assert await no_push(watcher, "chat.reactions", seconds=1.3)
    bad = await watcher.request("chat.react", {"channel_id": stage, "kind": "<script>"})
    assert bad["error"]["code"] == "invalid"


async def test_reactions_from_two_processes_share_one_flush(people, connect, settings):
    """Two flushers never both win a window: the SET NX election is in Redis, not in memory."""
    from eventplatform.realtime.runtime import runtime

    client = await connect(people["attendee"])
    stage = await channel_of(client)
    key = live._key("react-flush", stage)
    await runtime().redis.delete(key)
    first = await runtime().redis.set(key, "1", nx=True, px=1000)
    second = await runtime().redis.set(key, "1", nx=True, px=1000)
    assert first and not second
    # The holder here is "another process" that died before flushing: the counts wait in Redis.
    await runtime().redis.hincrby(live._key("react", stage), "laugh", 7)
    await asyncio.sleep(1.1)
    assert (await client.request("chat.react", {"channel_id": stage, "kind": "laugh"}))["ok"]
    counts = (await client.wait_push("chat.reactions", timeout=3))["counts"]
    assert counts == {"laugh": 8}


async def test_reactions_only_on_the_stage(people, event, connect):
    client = await connect(people["attendee"])
    announcements = await channel_of(client, kind="announcements")
    assert (await client.request("chat.react", {"channel_id": announcements, "kind": "heart"}))["error"]["code"] == "not_stage"
