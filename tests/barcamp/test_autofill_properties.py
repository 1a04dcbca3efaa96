"""Property-based tests of auto-fill (hypothesis): generated rooms, slots, proposals and pins."""

from hypothesis import given, settings
from hypothesis import strategies as st

from barcamp.autofill import FillProposal, FillRoom, FillSlot, autofill, demand, fits_mode

MODES = ["onsite", "online", "hybrid"]


@st.composite
def grids(draw):
    rooms = [
        FillRoom(i + 1, draw(st.integers(1, 120)), draw(st.sampled_from(MODES)))
        for i in range(draw(st.integers(1, 6)))
    ]
    slots = []
    for i in range(draw(st.integers(1, 6))):
        start = i * 60 + draw(st.sampled_from([0, 0, 0, 30]))  # sometimes overlapping the previous slot
        slots.append(FillSlot(100 + i, start, start + 45))
    proposals = [
        FillProposal(
            1000 + i,
            draw(st.integers(0, 240)) / 2,
            frozenset(draw(st.lists(st.integers(1, 10), min_size=1, max_size=3))),
            draw(st.sampled_from(MODES)),
        )
        for i in range(draw(st.integers(0, 40)))
    ]
    cells = [(s.id, r.id) for s in slots for r in rooms]
    pinned = {}
    if proposals:
        chosen = draw(st.lists(st.sampled_from(proposals), unique_by=lambda p: p.id, max_size=min(4, len(proposals))))
        free = list(cells)
        for p in chosen:
            if not free:
                break
            cell = draw(st.sampled_from(free))
            free.remove(cell)
            pinned[cell] = p.id
    return rooms, slots, proposals, pinned


def overlaps(a: FillSlot, b: FillSlot) -> bool:
    return a.start < b.end and b.start < a.end


@settings(max_examples=300, deadline=None)
@given(grids())
def test_autofill_invariants(grid):
    rooms, slots, proposals, pinned = grid
    result = autofill(rooms, slots, proposals, pinned)
    by_id = {p.id: p for p in proposals}
    room_of = {r.id: r for r in rooms}
    slot_of = {s.id: s for s in slots}
    placement = result.placement

    # Pinned sessions are unchanged.
    for cell, pid in pinned.items():
        assert placement[cell] == pid
    # No room double-booked: each cell holds one session (dict), each session sits in one cell,
    # and only in real cells.
    assert len(set(placement.values())) == len(placement)
    assert all(cell[0] in slot_of and cell[1] in room_of for cell in placement)
    # Everything is either placed or reported unplaced.
    assert set(placement.values()) | set(result.unplaced) == set(by_id)

    entries = [(slot_of[s], room_of[r], by_id[pid], (s, r) in pinned) for (s, r), pid in placement.items()]
    for slot, room, p, is_pinned in entries:
        if is_pinned:
            continue
        # The room suits the session (mode), and if any suitable room is big enough, this one is.
        assert fits_mode(p, room)
        if any(fits_mode(p, r) and r.capacity >= demand(p) for r in rooms):
            assert room.capacity >= demand(p)
        for other_slot, other_room, q, other_pinned in entries:
            if q.id == p.id:
                continue
            # No host in two places at once.
            if overlaps(slot, other_slot):
                assert not (p.hosts & q.hosts), (p, q)
            # More interest, bigger room, within one slot, whenever a swap would fit both.
            if other_slot.id == slot.id and not other_pinned and p.interest > q.interest:
                swap_fits = (
                    fits_mode(p, other_room) and fits_mode(q, room)
                    and other_room.capacity >= demand(p) and room.capacity >= demand(q)
                )
                if swap_fits:
                    assert room.capacity >= other_room.capacity, (p, room, q, other_room)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_everything_placed_when_cells_suffice_and_hosts_differ(n_rooms, n_slots, data):
    rooms = [FillRoom(i, 1000, "hybrid") for i in range(n_rooms)]
    slots = [FillSlot(i, i * 60, i * 60 + 45) for i in range(n_slots)]
    count = data.draw(st.integers(0, n_rooms * n_slots))
    proposals = [FillProposal(i, data.draw(st.integers(0, 50)), frozenset([i]), "hybrid") for i in range(count)]
    result = autofill(rooms, slots, proposals, {})
    assert result.unplaced == [] and len(result.placement) == count


def test_most_wanted_get_the_biggest_rooms_across_slots():
    rooms = [FillRoom(1, 100, "hybrid"), FillRoom(2, 30, "hybrid")]
    slots = [FillSlot(1, 0, 45), FillSlot(2, 60, 105)]
    proposals = [FillProposal(i, interest, frozenset([i])) for i, interest in enumerate([90, 80, 20, 10])]
    placement = autofill(rooms, slots, proposals, {}).placement
    in_big = {pid for (s, r), pid in placement.items() if r == 1}
    assert in_big == {0, 1}
