"""Message shapes of the core: the snapshot, presence, the agenda."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from eventplatform.realtime.registry import Command


class HelloIn(Command):
    """Sent first on every (re)connect; `resume` holds the last cursor seen per stream."""

    resume: dict[str, int] = Field(default_factory=dict, max_length=50)


class EventOut(BaseModel):
    id: int
    slug: str
    title: str
    timezone: str
    start: datetime
    end: datetime
    venue: str
    online: bool
    languages: list[str]


class MeOut(BaseModel):
    participant_id: int
    name: str
    roles: list[str]
    attendance: Literal["online", "onsite"]


class PresentPerson(BaseModel):
    id: int
    name: str
    roles: list[str]
    attendance: str
    room_id: int | None = None


class PresenceOut(BaseModel):
    count: int = Field(description="People online now, each counted once however many tabs they have open")
    participants: list[PresentPerson]
    truncated: bool = Field(description="True when more people are online than listed")


class StreamState(BaseModel):
    mode: Literal["full", "delta", "unchanged"]
    cursor: int
    data: Any | None = None


class Snapshot(BaseModel):
    server_time: datetime
    event: EventOut
    me: MeOut
    streams: dict[str, StreamState]
    presence: PresenceOut


class RoomOut(BaseModel):
    id: int
    name: str
    kind: Literal["stage", "breakout", "onsite"]
    capacity: int | None


class SpeakerOut(BaseModel):
    id: int
    name: str


class SessionOut(BaseModel):
    id: int
    title: str
    abstract: str
    kind: Literal["talk", "workshop", "barcamp", "break", "networking"]
    start: datetime
    end: datetime
    room_id: int | None
    speakers: list[SpeakerOut]


class AgendaOut(BaseModel):
    rooms: list[RoomOut]
    sessions: list[SessionOut]


class AgendaUpdate(BaseModel):
    cursor: int
    data: AgendaOut


class Pong(BaseModel):
    server_time: datetime


class Resync(BaseModel):
    """The server may have missed events for you: send `hello` again with your cursors."""


class RefusedError(BaseModel):
    model_config = ConfigDict(extra="allow")  # a refusal may add details, e.g. retry_after

    code: str
    message: str


class Refused(BaseModel):
    """A notification (a frame sent without id) was refused."""

    type: str
    error: RefusedError


class PresenceListIn(Command):
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=200, ge=1, le=1000)


class PresenceListOut(BaseModel):
    count: int
    participants: list[PresentPerson]
