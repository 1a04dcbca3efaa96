"""Auto-fill: places proposals into the grid by interest. Pure (no database), so it can be
tested with generated grids and measured on its own.

Rules, in the order they bind:
1. Pinned cells stay as they are, and their hosts count as busy in that slot.
2. A host is never in two places at once (slots that overlap in time count as one).
3. The room mode must suit the session (an online session needs an online or hybrid room).
4. If any suitable room in the event is big enough for the expected audience, the session only
   goes into a room that is big enough; otherwise into the biggest suitable room free.
5. Proposals are placed most-wanted first; each takes the slot whose best free room is largest
   (then the slot with fewest sessions so far, then the earliest), and in that slot the largest
   suitable room. So within a slot the more wanted session never has the smaller room when the
   two could swap.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FillRoom:
    id: int
    capacity: int
    mode: str


@dataclass(frozen=True)
class FillSlot:
    id: int
    start: float  # any orderable time (seconds, minutes)
    end: float


@dataclass(frozen=True)
class FillProposal:
    id: int
    interest: float
    hosts: frozenset[int]
    mode: str = "hybrid"


@dataclass
class FillResult:
    # (slot_id, room_id) → proposal_id, pinned cells included
    placement: dict[tuple[int, int], int] = field(default_factory=dict)
    unplaced: list[int] = field(default_factory=list)


ROOM_MODES_FOR = {"onsite": {"onsite", "hybrid"}, "online": {"online", "hybrid"}, "hybrid": {"hybrid"}}


def demand(proposal: FillProposal) -> int:
    """Expected audience: seats needed."""
    return int(-(-proposal.interest // 1))  # ceil without floats drifting


def fits_mode(proposal: FillProposal, room: FillRoom) -> bool:
    return room.mode in ROOM_MODES_FOR.get(proposal.mode, {"hybrid"})


def autofill(
    rooms: list[FillRoom],
    slots: list[FillSlot],
    proposals: list[FillProposal],
    pinned: dict[tuple[int, int], int],
) -> FillResult:
    """Place every proposal that is not pinned into a free cell, most-wanted first."""
    by_id = {p.id: p for p in proposals}
    slot_ids = [s.id for s in sorted(slots, key=lambda s: (s.start, s.id))]
    # Slots overlapping in time share their hosts: a host busy in one is busy in the others.
    overlapping = {
        a.id: [b.id for b in slots if a.start < b.end and b.start < a.end] for a in slots
    }
    busy: dict[int, set[int]] = {s: set() for s in slot_ids}  # slot → hosts busy there
    taken: set[tuple[int, int]] = set()
    count: dict[int, int] = {s: 0 for s in slot_ids}
    result = FillResult(placement=dict(pinned))
    for (slot_id, room_id), proposal_id in pinned.items():
        taken.add((slot_id, room_id))
        count[slot_id] = count.get(slot_id, 0) + 1
        proposal = by_id.get(proposal_id)
        if proposal is not None:
            busy.setdefault(slot_id, set()).update(proposal.hosts)

    rooms_by_size = sorted(rooms, key=lambda r: (-r.capacity, r.id))
    placed_pinned = set(pinned.values())
    order = sorted(
        (p for p in proposals if p.id not in placed_pinned), key=lambda p: (-p.interest, p.id)
    )
    for proposal in order:
        suitable = [r for r in rooms_by_size if fits_mode(proposal, r)]
        need = demand(proposal)
        if any(r.capacity >= need for r in suitable):
            suitable = [r for r in suitable if r.capacity >= need]
        best: tuple | None = None
        for slot_id in slot_ids:
            if any(proposal.hosts & busy[other] for other in overlapping[slot_id]):
                continue
            room = next((r for r in suitable if (slot_id, r.id) not in taken), None)
            if room is None:
                continue
            rank = (-room.capacity, count[slot_id])
            if best is None or rank < best[0]:
                best = (rank, slot_id, room)
        if best is None:
            result.unplaced.append(proposal.id)
            continue
        _rank, slot_id, room = best
        taken.add((slot_id, room.id))
        count[slot_id] += 1
        busy[slot_id].update(proposal.hosts)
        result.placement[(slot_id, room.id)] = proposal.id
    return result
