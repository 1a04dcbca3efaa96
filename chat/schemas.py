"""Shapes of chat and Q&A socket messages (the AsyncAPI document is generated from these)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from eventplatform.realtime.registry import Command

ClientKey = Field(min_length=1, max_length=64, description="Chosen by the client per message; a resend with the same key is stored once.")
# The real length limits are settings (CHAT[...]) checked by the services with a clear error;
# this bound only keeps absurd input out of the validator.
Text = Field(max_length=20_000)


class AuthorOut(BaseModel):
    id: int
    name: str
    roles: list[str]


class MessageOut(BaseModel):
    id: int
    seq: int
    channel_id: int
    author: AuthorOut
    text: str
    reply_to: int | None
    mentions: list[int]
    created: datetime
    edited_at: datetime | None
    deleted: bool


class SendIn(Command):
    channel_id: int
    text: str = Text
    client_key: str = ClientKey
    reply_to: int | None = None


class SendOut(BaseModel):
    message: MessageOut
    duplicate: bool = Field(description="True if this client key was already stored: nothing new was sent.")


class EditIn(Command):
    message_id: int
    text: str = Text


class MessageRef(Command):
    message_id: int


class HistoryIn(Command):
    channel_id: int
    before_id: int | None = None
    limit: int = Field(default=50, ge=1, le=200)


class HistoryOut(BaseModel):
    channel_id: int
    messages: list[MessageOut]


class ChannelRef(Command):
    channel_id: int


class RoomRef(Command):
    room_id: int


class ChannelOut(BaseModel):
    id: int
    kind: str
    room_id: int | None
    name: str
    slow_mode_seconds: int


class ReactIn(Command):
    channel_id: int
    kind: Literal["applause", "laugh", "heart", "wow", "thumbsup", "question"]


class ReactionsOut(BaseModel):
    channel_id: int
    room_id: int | None
    counts: dict[str, int]


class SlowModeIn(Command):
    channel_id: int
    seconds: int = Field(ge=0, le=3600)


class MuteIn(Command):
    participant_id: int
    minutes: int = Field(ge=1, le=24 * 60)
    reason: str = Field(default="", max_length=300)


class ParticipantRef(Command):
    participant_id: int


class RemoveIn(Command):
    participant_id: int
    reason: str = Field(default="", max_length=300)


class MuteOut(BaseModel):
    participant_id: int
    until: datetime | None


class RemoveOut(BaseModel):
    participant_id: int
    removed: bool


class ModerationOut(BaseModel):
    id: int
    action: str
    actor_id: int | None
    target_id: int | None
    details: dict
    created: datetime


class LogIn(Command):
    limit: int = Field(default=100, ge=1, le=500)


class LogOut(BaseModel):
    entries: list[ModerationOut]


class QuestionOut(BaseModel):
    id: int
    session_id: int
    text: str
    author: AuthorOut | None = Field(description="None for an anonymous question (except for moderators).")
    is_anonymous: bool
    state: Literal["pending", "visible", "answered", "hidden"]
    on_screen: bool
    votes: int
    created: datetime


class QuestionRemoved(BaseModel):
    id: int
    session_id: int


class AskIn(Command):
    session_id: int
    text: str = Text
    anonymous: bool = False
    client_key: str = ClientKey


class AskOut(BaseModel):
    question: QuestionOut
    duplicate: bool


class QuestionRef(Command):
    question_id: int


class VoteOut(BaseModel):
    question_id: int
    session_id: int
    votes: int
    voted: bool


class VotesOut(BaseModel):
    counts: dict[str, int] = Field(description="question id → votes; coalesced, a few per second at most")


class ModerateIn(Command):
    question_id: int
    action: Literal["approve", "hide", "answered", "reopen", "on_screen", "off_screen"]


class QAOut(BaseModel):
    session_id: int
    is_open: bool
    mode: Literal["open", "premoderated"]


class ConfigureQAIn(Command):
    session_id: int
    is_open: bool | None = None
    mode: Literal["open", "premoderated"] | None = None


class PollOptionOut(BaseModel):
    id: int
    text: str
    votes: int | None


class PollOut(BaseModel):
    id: int
    channel_id: int
    question: str
    kind: Literal["single", "multiple"]
    state: Literal["draft", "open", "closed"]
    results: Literal["live", "after_close"]
    options: list[PollOptionOut]
    ballots: int | None


class PollCreateIn(Command):
    channel_id: int
    question: str = Field(max_length=300)
    options: list[str] = Field(min_length=2, max_length=12)
    kind: Literal["single", "multiple"] = "single"
    results: Literal["live", "after_close"] = "live"


class PollStateIn(Command):
    poll_id: int
    state: Literal["open", "closed"]


class PollVoteIn(Command):
    poll_id: int
    option_ids: list[int] = Field(min_length=1, max_length=12)


class PollVoteOut(BaseModel):
    poll_id: int
    options: list[int]
    poll: PollOut


class PollCountsOut(BaseModel):
    poll_id: int
    channel_id: int
    counts: dict[str, int]
    ballots: int


class MutedOut(BaseModel):
    until: datetime | None


class WatchOut(BaseModel):
    channel: ChannelOut
