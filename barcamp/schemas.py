"""Message shapes of the barcamp socket commands and pushes."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from eventplatform.realtime.registry import Command

ModeName = Literal["onsite", "online", "hybrid"]
FormatName = Literal["discussion", "talk", "workshop", "other"]


class ProposeIn(Command):
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    cohost_ids: list[int] = Field(default_factory=list, max_length=10)
    language: str = Field(default="de", max_length=8)
    format: FormatName = "discussion"
    length: int | None = Field(default=None, description="Minutes; the event's default (45) when empty")
    mode: ModeName = "hybrid"
    needs: list[str] = Field(default_factory=list, max_length=10)
    in_plenum: bool = False


class EditIn(Command):
    proposal_id: int
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    cohost_ids: list[int] | None = Field(default=None, max_length=10)
    language: str | None = Field(default=None, max_length=8)
    format: FormatName | None = None
    length: int | None = None
    mode: ModeName | None = None
    needs: list[str] | None = Field(default=None, max_length=10)


class ProposalRef(Command):
    proposal_id: int


class VoteIn(Command):
    proposal_id: int
    choice: Literal["interested", "maybe"] | None = Field(description="None takes the vote back")


class HandsIn(Command):
    proposal_id: int
    hands: int = Field(ge=0, le=100_000)


class ConfigureIn(Command):
    session_length: int | None = None
    voting_open: bool | None = None
    grid_fixed: bool | None = None


class PlaceIn(Command):
    cell_id: int
    version: int = Field(description="The cell's version the editor saw; a newer one means a conflict")
    proposal_id: int | None
    pinned: bool = False


class StarIn(Command):
    proposal_id: int
    starred: bool


class Person(BaseModel):
    id: int
    name: str


class ProposalOut(BaseModel):
    id: int
    title: str
    description: str
    proposer: Person
    cohosts: list[Person]
    language: str
    format: str
    length: int
    mode: str
    needs: list[str]
    in_plenum: bool
    withdrawn: bool
    session_id: int | None = Field(description="The agenda session it became, once released")


class Counts(BaseModel):
    interested: int
    maybe: int
    hands: int


class VotesOut(BaseModel):
    counts: dict[str, Counts] = Field(description="Per proposal id")


class VoteOut(BaseModel):
    proposal_id: int
    choice: str | None


class StateOut(BaseModel):
    session_length: int
    voting_open: bool
    grid_fixed: bool
    releases: int


class CellOut(BaseModel):
    id: int
    slot_id: int
    room_id: int
    proposal_id: int | None
    pinned: bool
    version: int


class CellsOut(BaseModel):
    cells: list[CellOut]


class GridRoom(BaseModel):
    id: int
    room_id: int
    name: str
    capacity: int
    mode: str
    breakout_id: int | None
    streamable: bool


class GridSlot(BaseModel):
    id: int
    start: datetime
    end: datetime
    blocked: bool
    label: str


class Conflict(BaseModel):
    cell_id: int
    proposal_id: int
    code: Literal["double_booking", "host_clash", "too_small", "mode", "blocked", "too_long"]
    message: str


class GridOut(BaseModel):
    rooms: list[GridRoom]
    slots: list[GridSlot]
    cells: list[CellOut]
    conflicts: list[Conflict]


class AutofillOut(BaseModel):
    placed: int
    unplaced: list[int]
    changed: int


class Change(BaseModel):
    kind: Literal["new", "moved", "cancelled"]
    proposal_id: int
    session_id: int | None = None
    title: str
    to: Any | None = None

    model_config = {"extra": "allow"}


class ReleaseOut(BaseModel):
    number: int
    changes: list[Change]
    sessions: dict[str, int] = Field(
        default_factory=dict, description="Proposal id → agenda session id of everything published now"
    )


class StarOut(BaseModel):
    proposal_id: int
    starred: bool


class FeedOut(BaseModel):
    url: str
