"""Message shapes of the transitions: moderator overrides, the plan, transitions, notices."""

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from eventplatform.realtime.registry import Command


class SessionRef(Command):
    session_id: int = Field(gt=0)


class ExtendIn(Command):
    session_id: int = Field(gt=0)
    minutes: int = Field(ge=1, le=120, description="How many minutes later the session ends")


class SkipIn(Command):
    transition_id: int = Field(gt=0)


class MoveIn(Command):
    session_id: int = Field(gt=0)
    # ISO 8601 with an offset (JSON has no datetime type, so strings are parsed here).
    start: AwareDatetime = Field(strict=False)
    end: AwareDatetime = Field(strict=False)
    room_id: int | None = Field(default=None, gt=0)


class WarningsIn(Command):
    minutes: list[int] = Field(max_length=5, description="Minutes before the end, e.g. [5, 1]")


class TransitionOut(BaseModel):
    id: int
    session_id: int
    session_title: str
    session_kind: str
    room_id: int | None
    moment: Literal["start", "warning", "end"]
    warning_minutes: int = Field(description="Minutes before the end (warnings only; 0 otherwise)")
    due_at: datetime = Field(description="Absolute time; clients count down to it themselves")
    session_end: datetime
    state: Literal["planned", "running", "done", "failed", "skipped"]
    finished_at: datetime | None
    late_ms: int | None = Field(description="How late it took effect")
    reason: str = Field(description="Why it was skipped: session_over, skipped_by_moderator")


class PlanOut(BaseModel):
    """The "transitions" stream as a full replacement: recent and upcoming transitions."""

    cursor: int
    data: list[TransitionOut]


class SessionOut(BaseModel):
    session_id: int
    start: datetime
    end: datetime


class SkipOut(BaseModel):
    transition: TransitionOut


class WarningsOut(BaseModel):
    minutes: list[int]


class NoticeOut(BaseModel):
    kind: Literal["live", "time_left", "ended"]
    session_id: int
    session_title: str
    room_id: int | None
    transition_id: int
    ends_at: datetime
    minutes: int | None = None
