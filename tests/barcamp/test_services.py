"""Proposals, voting, the grid, releases: the services and what they refuse."""

import threading

import pytest
from django.db import connection

from barcamp import selectors, services
from barcamp.models import Cell, Proposal, Publication, Release, Vote
from eventplatform.models import Event, Session
from eventplatform.realtime.envelope import GatewayError


def propose(person, title="Open Source in der Verwaltung", **fields):
    return services.propose(person, title=title, **fields)


def refused(code, func, *args, **kwargs):
    with pytest.raises(GatewayError) as caught:
        func(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


# --- proposals ----------------------------------------------------------------------------------

def test_proposal_has_the_event_default_length_and_its_fields(camp, people):
    services.configure(people["organizer"], session_length=30)
    p = propose(
        people["attendee"], description="Wie Kommunen teilen", cohost_ids=[people["attendee2"].pk],
        language="de", format="workshop", mode="onsite", needs=["Beamer", "Flipchart"], in_plenum=True,
    )
    p.refresh_from_db()
    assert (p.length, p.format, p.mode, p.needs, p.in_plenum) == (30, "workshop", "onsite", ["Beamer", "Flipchart"], True)
    assert list(p.cohosts.all()) == [people["attendee2"]]
    assert propose(people["attendee"], length=60).length == 60


@pytest.mark.parametrize(
    "fields, code",
    [
        ({"title": "  "}, "invalid_title"),
        ({"title": "x" * 201}, "invalid_title"),
        ({"length": 5}, "invalid_length"),
        ({"length": 600}, "invalid_length"),
        ({"mode": "moon"}, "invalid_mode"),
        ({"format": "rave"}, "invalid_format"),
        ({"needs": [f"n{i}" for i in range(11)]}, "invalid_needs"),
        ({"cohost_ids": [999999]}, "unknown_participant"),
    ],
)
def test_bad_proposals_are_refused_and_nothing_is_stored(camp, people, fields, code):
    fields = {"title": "Gut", **fields}
    refused(code, services.propose, people["attendee"], **fields)
    assert not Proposal.objects.exists()


def test_cohost_from_another_event_is_refused(camp, people):
    other = Event.objects.create(slug="other", title="Other", start=camp["event"].start, end=camp["event"].end)
    from eventplatform import services as core

    stranger = core.register_participant(other, name="Stranger", username="stranger")
    refused("unknown_participant", propose, people["attendee"], cohost_ids=[stranger.pk])


def test_hosts_edit_until_the_grid_is_fixed_organizers_always(camp, people):
    p = propose(people["attendee"], cohost_ids=[people["attendee2"].pk])
    services.edit_proposal(people["attendee2"], p.pk, title="Neu")  # a co-host may
    refused("forbidden", services.edit_proposal, people["speaker"], p.pk, title="Fremd")
    services.configure(people["organizer"], grid_fixed=True)
    refused("grid_fixed", services.edit_proposal, people["attendee"], p.pk, title="Zu spät")
    refused("grid_fixed", propose, people["attendee2"])
    services.edit_proposal(people["organizer"], p.pk, title="Vom Orga")
    p.refresh_from_db()
    assert p.title == "Vom Orga"


# --- voting -------------------------------------------------------------------------------------

def test_one_vote_per_participant_and_proposal_a_second_changes_it(camp, people):
    p = propose(people["speaker"])
    services.vote(people["attendee"], p.pk, "interested")
    services.vote(people["attendee"], p.pk, "maybe")
    services.vote(people["attendee2"], p.pk, "interested")
    services.count_hands(people["organizer"], p.pk, 12)
    assert selectors.vote_counts(camp["event"].pk)[str(p.pk)] == {"interested": 1, "maybe": 1, "hands": 12}
    services.vote(people["attendee"], p.pk, None)
    assert Vote.objects.filter(proposal=p).count() == 1


def test_voting_refusals(camp, people):
    p = propose(people["speaker"])
    refused("invalid_choice", services.vote, people["attendee"], p.pk, "love")
    refused("unknown_proposal", services.vote, people["attendee"], 999999, "interested")
    refused("forbidden", services.count_hands, people["attendee"], p.pk, 3)
    refused("invalid_hands", services.count_hands, people["organizer"], p.pk, -1)
    services.configure(people["organizer"], voting_open=False)
    refused("voting_closed", services.vote, people["attendee"], p.pk, "interested")
    assert not Vote.objects.exists()


def test_concurrent_votes_of_one_participant_leave_one_vote(camp, people):
    p = propose(people["speaker"])
    voters = [people["attendee"], people["attendee2"]]
    barrier = threading.Barrier(8)
    errors = []

    def cast(person, choice):
        try:
            barrier.wait()
            services.vote(person, p.pk, choice)
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=cast, args=(voters[i % 2], "interested" if i % 3 else "maybe")) for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Vote.objects.filter(proposal=p).count() == 2
    assert sorted(Vote.objects.filter(proposal=p).values_list("participant_id", flat=True)) == sorted(
        v.pk for v in voters
    )


# --- the grid -----------------------------------------------------------------------------------

def cell_at(camp, slot_index, room_name):
    return Cell.objects.get(slot=camp["slots"][slot_index], room__room__name=room_name)


def test_second_organizer_saving_the_same_slot_gets_a_conflict(camp, people):
    first, second = propose(people["attendee"], title="Erste"), propose(people["attendee2"], title="Zweite")
    cell = cell_at(camp, 0, "Hall")
    seen = cell.version  # both editors loaded the grid at this version
    services.place(people["organizer"], cell.pk, seen, first.pk)
    error = refused("grid_conflict", services.place, people["organizer"], cell.pk, seen, second.pk)
    assert error.extra["cell"]["proposal_id"] == first.pk
    cell.refresh_from_db()
    assert cell.proposal_id == first.pk and cell.version == seen + 1


def test_concurrent_saves_of_one_slot_one_wins(camp, people):
    proposals = [propose(people["attendee"], title=f"P{i}") for i in range(6)]
    cell = cell_at(camp, 0, "Hall")
    barrier = threading.Barrier(len(proposals))
    outcomes = []

    def save(proposal):
        try:
            barrier.wait()
            services.place(people["organizer"], cell.pk, cell.version, proposal.pk)
            outcomes.append(("ok", proposal.pk))
        except GatewayError as refusal:
            outcomes.append((refusal.code, proposal.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(p,)) for p in proposals]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [pid for code, pid in outcomes if code == "ok"]
    assert len(winners) == 1
    assert sorted(code for code, _ in outcomes if code != "ok") == ["grid_conflict"] * 5
    cell.refresh_from_db()
    assert cell.proposal_id == winners[0]


def test_moving_a_proposal_empties_its_old_cell_and_bumps_its_version(camp, people):
    p = propose(people["attendee"])
    a, b = cell_at(camp, 0, "Hall"), cell_at(camp, 2, "Hall")
    services.place(people["organizer"], a.pk, a.version, p.pk)
    a.refresh_from_db()
    services.place(people["organizer"], b.pk, b.version, p.pk)
    old = Cell.objects.get(pk=a.pk)
    assert old.proposal_id is None and old.version == a.version + 1
    refused("grid_conflict", services.place, people["organizer"], a.pk, a.version, None)


def test_grid_refusals(camp, people):
    p = propose(people["attendee"])
    lunch = cell_at(camp, 1, "Hall")
    refused("slot_blocked", services.place, people["organizer"], lunch.pk, lunch.version, p.pk)
    refused("forbidden", services.place, people["attendee"], lunch.pk, lunch.version, None)
    refused("unknown_cell", services.place, people["organizer"], 999999, 1, None)
    refused("unknown_proposal", services.place, people["organizer"], lunch.pk, lunch.version, 999999)
    refused("forbidden", services.run_autofill, people["moderator"])
    refused("forbidden", services.release, people["attendee"])


def test_conflict_warnings(camp, people):
    host = people["attendee"]
    big = propose(host, title="Groß", mode="online")
    other = propose(host, title="Auch von mir")
    for person in (people["attendee2"], people["speaker"], people["staff"]):
        services.vote(person, big.pk, "interested")
    services.count_hands(people["organizer"], big.pk, 30)  # 33 expected: Breakout B holds 10
    b, a = cell_at(camp, 0, "Breakout B"), cell_at(camp, 0, "Hall")
    services.place(people["organizer"], b.pk, b.version, big.pk)
    services.place(people["organizer"], a.pk, a.version, other.pk)
    codes = {(c["proposal_id"], c["code"]) for c in selectors.conflicts(camp["event"])}
    assert (big.pk, "too_small") in codes
    assert (big.pk, "host_clash") in codes and (other.pk, "host_clash") in codes
    assert (big.pk, "mode") not in codes  # hybrid room takes an online session
    assert (other.pk, "mode") in codes  # a hybrid session in the on-site hall
    refused("grid_conflicts", services.release, people["organizer"])


def test_double_booking_with_an_agenda_session_in_the_room(camp, people):
    slot = camp["slots"][0]
    Session.objects.create(event=camp["event"], title="Fixed talk", start=slot.start, end=slot.end, room=camp["hall"])
    p = propose(people["attendee"], mode="onsite")
    cell = cell_at(camp, 0, "Hall")
    services.place(people["organizer"], cell.pk, cell.version, p.pk)
    assert [c["code"] for c in selectors.conflicts(camp["event"])] == ["double_booking"]


def test_autofill_by_votes_keeps_pins_and_hosts_apart(camp, people):
    org = people["organizer"]
    popular = propose(people["attendee"], title="Beliebt")
    middling = propose(people["attendee2"], title="Mittel")
    pinned = propose(people["speaker"], title="Gepinnt")
    same_host = propose(people["attendee"], title="Auch Attendee")
    services.count_hands(org, popular.pk, 18)
    services.count_hands(org, middling.pk, 8)
    services.count_hands(org, same_host.pk, 9)
    b = cell_at(camp, 2, "Breakout B")
    services.place(org, b.pk, b.version, pinned.pk, pinned=True)
    result = services.run_autofill(org)
    assert result["unplaced"] == []
    where = {c.proposal_id: c for c in Cell.objects.filter(proposal__isnull=False).select_related("room__room")}
    assert where[pinned.pk].pk == b.pk and where[pinned.pk].pinned
    assert where[popular.pk].room.room.name == "Breakout A"  # hybrid proposals: the biggest hybrid room
    assert where[popular.pk].slot_id != where[same_host.pk].slot_id  # one host, two slots
    assert all(not c.slot.is_blocked for c in where.values())


# --- releases -----------------------------------------------------------------------------------

def test_release_publishes_sessions_and_later_releases_record_changes(camp, people):
    org = people["organizer"]
    one, two = propose(people["attendee"], title="Eins"), propose(people["attendee2"], title="Zwei")
    star_holder = people["staff"]
    a0, b0 = cell_at(camp, 0, "Breakout A"), cell_at(camp, 0, "Breakout B")
    services.place(org, a0.pk, a0.version, one.pk)
    services.place(org, b0.pk, b0.version, two.pk)
    services.star(star_holder, one.pk, True)
    services.star(star_holder, one.pk, True)  # twice is once
    version_before = Event.objects.get(pk=camp["event"].pk).agenda_version
    first = services.release(org)
    assert first.number == 1 and {c["kind"] for c in first.changes} == {"new"}
    session = Publication.objects.get(proposal=one).session
    assert (session.kind, session.room.name, session.start) == ("barcamp", "Breakout A", camp["slots"][0].start)
    assert list(session.speakers.all()) == [people["attendee"]]
    assert Event.objects.get(pk=camp["event"].pk).agenda_version > version_before

    # move one, cancel two (withdrawn)
    a2 = cell_at(camp, 2, "Breakout A")
    services.place(org, a2.pk, a2.version, one.pk)
    services.withdraw_proposal(people["attendee2"], two.pk)
    second = services.release(org)
    kinds = {(c["kind"], c["proposal_id"]) for c in second.changes}
    assert kinds == {("moved", one.pk), ("cancelled", two.pk)}
    moved = Publication.objects.get(proposal=one).session
    assert moved.pk == session.pk and moved.start == camp["slots"][2].start  # stable id
    assert Publication.objects.get(proposal=two).session is None
    assert [s.pk for s in selectors.starred_sessions(star_holder.pk)] == [session.pk]
    assert services.release(org).changes == []
    assert Release.objects.filter(event=camp["event"]).count() == 3


def test_admin_saves_rooms_and_slots_through_the_services(camp, people):
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin_user = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw")
    client = Client()
    client.force_login(admin_user)
    slot = camp["slots"][0]
    response = client.post(
        "/admin/barcamp/slot/add/",
        {"event": camp["event"].pk, "start_0": "2030-01-01", "start_1": "18:00", "end_0": "2030-01-01",
         "end_1": "18:45", "label": "Abend"},
    )
    assert response.status_code == 302, response.content[:500]
    from barcamp.models import Slot

    added = Slot.objects.get(label="Abend")
    assert Cell.objects.filter(slot=added).count() == 3  # one per barcamp room
    assert Cell.objects.filter(slot=slot).count() == 3


def test_overlapping_slots_in_one_room_are_a_double_booking(camp, people):
    from datetime import timedelta

    first = camp["slots"][0]
    overlapping = services.add_slot(camp["event"], first.start + timedelta(minutes=30), first.end + timedelta(minutes=30))
    p, q = propose(people["attendee"], title="A", mode="onsite"), propose(people["attendee2"], title="B", mode="onsite")
    a = cell_at(camp, 0, "Hall")
    b = Cell.objects.get(slot=overlapping, room__room__name="Hall")
    services.place(people["organizer"], a.pk, a.version, p.pk)
    services.place(people["organizer"], b.pk, b.version, q.pk)
    codes = sorted((c["proposal_id"], c["code"]) for c in selectors.conflicts(camp["event"]))
    assert codes == sorted([(p.pk, "double_booking"), (q.pk, "double_booking")])
    refused("grid_conflicts", services.release, people["organizer"])


def test_the_same_proposal_into_two_cells_at_once_one_wins(camp, people):
    p = propose(people["attendee"], title="Begehrt")
    cells = [cell_at(camp, 0, "Breakout A"), cell_at(camp, 2, "Breakout B"), cell_at(camp, 0, "Breakout B")]
    barrier = threading.Barrier(len(cells))
    outcomes = []

    def save(cell):
        try:
            barrier.wait()
            services.place(people["organizer"], cell.pk, cell.version, p.pk)
            outcomes.append("ok")
        except GatewayError as refusal:
            outcomes.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(c,)) for c in cells]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Cell.objects.filter(proposal=p).count() == 1
    assert set(outcomes) <= {"ok", "grid_conflict"} and "ok" in outcomes
