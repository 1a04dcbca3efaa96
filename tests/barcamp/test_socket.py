"""The barcamp over the real event socket (Channels communicator, real Redis)."""

import asyncio

from channels.db import database_sync_to_async

from barcamp.models import Cell, Vote


async def test_propose_vote_and_coalesced_counts(camp, people, connect, settled):
    proposer = await connect(people["attendee"])
    screen = await connect(people["attendee2"])
    reply = await proposer.request("barcamp.propose", {"title": "Barrierefreiheit", "needs": ["Beamer"]})
    assert reply["ok"], reply
    proposal = reply["data"]
    assert proposal["length"] == 45 and proposal["proposer"]["name"] == "Attendee"
    pushed = await screen.wait_push("barcamp.proposal", where=lambda d: d["id"] == proposal["id"])
    assert pushed["title"] == "Barrierefreiheit"

    # A burst of votes and hands from several people: the screen gets the result in one push,
    # not one per vote.
    voters = [await connect(people[k]) for k in ("speaker", "staff", "moderator")]
    for client in voters:
        assert (await client.request("barcamp.vote", {"proposal_id": proposal["id"], "choice": "interested"}))["ok"]
    organizer = await connect(people["organizer"])
    assert (await organizer.request("barcamp.hands", {"proposal_id": proposal["id"], "hands": 20}))["ok"]
    counts = await screen.wait_push(
        "barcamp.votes", where=lambda d: d["counts"][str(proposal["id"])]["hands"] == 20
    )
    assert counts["counts"][str(proposal["id"])] == {"interested": 3, "maybe": 0, "hands": 20}
    await asyncio.sleep(0.8)
    assert (await screen.request("ping"))["ok"]
    extra = [m for m in screen.pushes if m.get("type") == "barcamp.votes"]
    assert len(extra) <= 1  # four changes inside one interval: one broadcast (plus at most one edge)


async def test_vote_counts_are_at_most_two_per_second(camp, people, connect, settled):
    client = await connect(people["attendee"])
    reply = await client.request("barcamp.propose", {"title": "Zählung"})
    pid = reply["data"]["id"]
    voters = [await connect(people[k]) for k in ("attendee2", "speaker", "staff", "moderator", "organizer")]
    loop = asyncio.get_running_loop()
    start = loop.time()
    # 30 votes, a steady trickle (each one asks for a broadcast; the rate limit allows 40 per
    # 10 s per socket, six each here).
    for votes in range(30):
        voter = voters[votes % len(voters)]
        choice = "interested" if (votes // len(voters)) % 2 else "maybe"
        assert (await voter.request("barcamp.vote", {"proposal_id": pid, "choice": choice}))["ok"]
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.7)
    assert (await client.request("ping"))["ok"]  # everything pushed before the reply is collected
    pushes = [m for m in client.pushes if m.get("type") == "barcamp.votes"]
    elapsed = loop.time() - start
    # One broadcast per 500 ms interval at most, however many votes: about elapsed × 2.
    assert 1 <= len(pushes) <= elapsed * 2 + 1, (len(pushes), elapsed)
    assert await database_sync_to_async(Vote.objects.filter(proposal_id=pid).count)() == len(voters)


async def test_refusals_over_the_socket(camp, people, connect, settled):
    attendee = await connect(people["attendee"])
    for type_, data, code in [
        ("barcamp.propose", {"title": "x", "colour": "red"}, "invalid"),
        ("barcamp.propose", {"title": 7}, "invalid"),
        ("barcamp.propose", {"title": "x" * 500}, "invalid"),
        ("barcamp.vote", {"proposal_id": 1, "choice": "love"}, "invalid"),
        ("barcamp.vote", {"proposal_id": 999999, "choice": "maybe"}, "unknown_proposal"),
        ("barcamp.hands", {"proposal_id": 1, "hands": 3}, "forbidden"),
        ("barcamp.grid", {}, "forbidden"),
        ("barcamp.place", {"cell_id": 1, "version": 1, "proposal_id": None}, "forbidden"),
        ("barcamp.autofill", {}, "forbidden"),
        ("barcamp.release", {}, "forbidden"),
        ("barcamp.configure", {"voting_open": False}, "forbidden"),
    ]:
        reply = await attendee.request(type_, data)
        assert not reply["ok"] and reply["error"]["code"] == code, (type_, reply)


async def test_two_organizers_on_one_cell_and_a_release_reaches_everyone(camp, people, connect, settled):
    from eventplatform import services as core

    second_organizer = await database_sync_to_async(core.register_participant)(
        camp["event"], name="Orga Zwei", username="t-orga2", roles={"organizer"}
    )
    one = await connect(people["organizer"])
    two = await connect(second_organizer)
    attendee = await connect(people["attendee"])
    hello = await attendee.request("hello", {})
    assert hello["data"]["streams"]["barcamp"]["data"]["state"]["voting_open"] is True
    p1 = (await attendee.request("barcamp.propose", {"title": "Eins"}))["data"]["id"]
    p2 = (await attendee.request("barcamp.propose", {"title": "Zwei", "mode": "onsite"}))["data"]["id"]
    grid_one = (await one.request("barcamp.grid"))["data"]
    grid_two = (await two.request("barcamp.grid"))["data"]
    hall = next(r for r in grid_one["rooms"] if r["name"] == "Breakout A")
    cell = next(c for c in grid_one["cells"] if c["room_id"] == hall["id"] and c["slot_id"] == grid_one["slots"][0]["id"])
    same = next(c for c in grid_two["cells"] if c["id"] == cell["id"])
    ok = await one.request("barcamp.place", {"cell_id": cell["id"], "version": cell["version"], "proposal_id": p1})
    assert ok["ok"] and ok["data"]["version"] == cell["version"] + 1
    pushed = await two.wait_push("barcamp.cells", where=lambda d: d["cells"][0]["id"] == cell["id"])
    assert pushed["cells"][0]["proposal_id"] == p1
    late = await two.request("barcamp.place", {"cell_id": same["id"], "version": same["version"], "proposal_id": p2})
    assert not late["ok"] and late["error"]["code"] == "grid_conflict"
    assert late["error"]["cell"]["proposal_id"] == p1
    assert (await database_sync_to_async(Cell.objects.get)(pk=cell["id"])).proposal_id == p1

    released = await one.request("barcamp.release")
    assert released["ok"] and released["data"]["changes"][0]["kind"] == "new"
    notice = await attendee.wait_push("barcamp.release")
    assert notice["number"] == 1 and notice["changes"][0]["title"] == "Eins"
    agenda = await attendee.wait_push(
        "agenda.update", where=lambda d: any(s["kind"] == "barcamp" for s in d["data"]["sessions"])
    )
    session = next(s for s in agenda["data"]["sessions"] if s["kind"] == "barcamp")
    assert session["title"] == "Eins" and session["room_id"] == hall["room_id"]
    assert notice["sessions"] == {str(p1): session["id"]}
    again = await attendee.request("hello", {})
    listed = {p["id"]: p for p in again["data"]["streams"]["barcamp"]["data"]["proposals"]}
    assert listed[p1]["session_id"] == session["id"] and listed[p2]["session_id"] is None

    feed = await attendee.request("barcamp.feed")
    assert feed["ok"] and feed["data"]["url"].startswith("/barcamp/testcamp/my/")
    starred = await attendee.request("barcamp.star", {"proposal_id": p1, "starred": True})
    assert starred["ok"]
