"""Shapes of the breakout rooms' socket messages (the AsyncAPI document is generated from these)."""

from typing import Literal

from django.conf import settings
from pydantic import BaseModel, Field, field_validator, model_validator

from eventplatform.realtime.registry import Command

Id = Field(ge=1, le=2**53)


class RoomOut(BaseModel):
    id: int
    name: str
    topic: str
    capacity: int | None
    is_open: bool
    onsite_room_id: int | None
    session_id: int | None
    count: int | None = None


class RoundOut(BaseModel):
    id: int
    mode: str
    state: str
    session_id: int | None
    opened_at: str | None
    ends_at: str | None
    warning_at: str | None
    returning: bool


class AssignmentOut(BaseModel):
    room: RoomOut | None
    source: str | None
    mesh_limit: int


class IceServer(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceOut(BaseModel):
    ice_servers: list[IceServer]
    expires: int | None


class StateOut(BaseModel):
    round: RoundOut | None
    rooms: list[RoomOut]
    assignment: AssignmentOut
    ice: IceOut


class RoomsOut(BaseModel):
    rooms: list[RoomOut]


class MemberOut(BaseModel):
    id: int
    name: str
    source: str
    moderator: bool
    pre: bool


class RoomWithMembers(RoomOut):
    members: list[MemberOut]


class OverviewOut(BaseModel):
    round: RoundOut | None
    rooms: list[RoomWithMembers]


class MediaState(Command):
    audio: bool = False
    video: bool = False
    screen: bool = False
    speaking: bool = False


class PeerState(BaseModel):
    audio: bool = False
    video: bool = False
    screen: bool = False
    speaking: bool = False
    name: str = ""
    moderator: bool = False


class PeerOut(BaseModel):
    participant_id: int
    state: PeerState


class CallJoinOut(BaseModel):
    room_id: int
    peers: list[PeerOut]
    video_cap: int | None


class PeerEvent(BaseModel):
    room_id: int
    participant_id: int
    state: PeerState | None = None


class RoomClosed(BaseModel):
    room_id: int


class Warning_(BaseModel):
    round_id: int
    ends_at: str | None


class BroadcastOut(BaseModel):
    from_: str = Field(alias="from")
    text: str
    sent_at: str


class HelpOut(BaseModel):
    room_id: int
    room_name: str
    participant_id: int
    name: str
    message: str
    at: str


class Count(BaseModel):
    count: int


# --- commands -------------------------------------------------------------------------------
class CreateIn(Command):
    name: str = Field(min_length=1, max_length=100)
    topic: str = Field(default="", max_length=200)
    capacity: int | None = Field(default=None, ge=1, le=1000)
    onsite_room_id: int | None = None
    session_id: int | None = None


class OpenIn(Command):
    mode: Literal["manual", "automatic", "self_select"] = "manual"
    duration_s: int | None = Field(default=None, ge=10, le=24 * 3600)
    room_ids: list[int] | None = Field(default=None, max_length=500)
    session_id: int | None = None
    assign_online: bool = True  # automatic: spread everyone online now
    together: list[list[int]] = Field(default_factory=list, max_length=500)
    apart: list[list[int]] = Field(default_factory=list, max_length=500)


class AssignIn(Command):
    participant_ids: list[int] | None = Field(default=None, max_length=10000)  # None: everyone online
    together: list[list[int]] = Field(default_factory=list, max_length=500)
    apart: list[list[int]] = Field(default_factory=list, max_length=500)


class MoveIn(Command):
    room_id: int
    participant_ids: list[int] = Field(default_factory=list, max_length=10000)
    everyone: bool = False

    @model_validator(mode="after")
    def _someone(self):
        if not self.everyone and not self.participant_ids:
            raise ValueError("give participant_ids or everyone")
        return self


class PreAssignIn(Command):
    participant_id: int
    room_id: int | None


class ChooseIn(Command):
    room_id: int


class VisitIn(Command):
    room_id: int | None


class CloseIn(Command):
    room_id: int | None = None  # None: all rooms, the round ends


class ReturnIn(Command):
    countdown_s: int = Field(default=30, ge=0, le=600)


class TimerIn(Command):
    seconds: int | None = Field(ge=10, le=24 * 3600)


class BroadcastIn(Command):
    text: str = Field(min_length=1, max_length=1000)


class HelpIn(Command):
    message: str = Field(default="", max_length=500)


class Description(Command):
    type: Literal["offer", "answer", "rollback"]
    sdp: str = ""

    @field_validator("sdp")
    @classmethod
    def _sdp(cls, value: str) -> str:
        limit = settings.ROOMS["MAX_SDP_BYTES"]
        if len(value.encode()) > limit:
            raise ValueError(f"SDP larger than {limit} bytes")
        if value and not value.startswith("v=0"):
            raise ValueError("not an SDP (must start with v=0)")
        if "\x00" in value:
            raise ValueError("SDP contains NUL")
        return value


class Candidate(Command):
    candidate: str
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=255)
    usernameFragment: str | None = Field(default=None, max_length=256)

    @field_validator("candidate")
    @classmethod
    def _candidate(cls, value: str) -> str:
        limit = settings.ROOMS["MAX_CANDIDATE_BYTES"]
        if len(value.encode()) > limit:
            raise ValueError(f"candidate larger than {limit} bytes")
        # Empty: end of candidates. Else the grammar of RFC 8839 starts with "candidate:".
        if value and not value.startswith("candidate:"):
            raise ValueError("not an ICE candidate (must start with candidate:)")
        if any(c in value for c in "\r\n\x00"):
            raise ValueError("candidate contains line breaks")
        return value


class SignalIn(Command):
    to: int
    description: Description | None = None
    candidate: Candidate | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.description is None) == (self.candidate is None):
            raise ValueError("send exactly one of description or candidate")
        return self


class SignalOut(BaseModel):
    room_id: int
    from_: int = Field(alias="from")
    description: dict | None = None
    candidate: dict | None = None
