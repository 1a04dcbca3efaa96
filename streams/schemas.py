"""Shapes of the stage's socket messages (the AsyncAPI document is generated from these)."""

from pydantic import BaseModel

from eventplatform.realtime.registry import Command


class SessionRef(BaseModel):
    id: int
    title: str
    start: str
    end: str


class StageOut(BaseModel):
    room_id: int
    room_name: str
    version: int
    kind: str  # slate | relay | hls | youtube | vimeo | whep
    url: str
    fallback_url: str
    session: SessionRef | None
    next: SessionRef | None
    live: bool


class StagesOut(BaseModel):
    stages: list[StageOut]


class SourceSetIn(Command):
    room_id: int
    session_id: int | None = None
    kind: str
    url: str = ""
    fallback_url: str = ""


class KeyIssueIn(Command):
    room_id: int
    label: str = ""


class KeyOut(BaseModel):
    id: int
    room_id: int
    label: str
    prefix: str
    created_by: str
    created_at: str
    revoked: bool


class KeyIssued(BaseModel):
    key: KeyOut
    secret: str
    whip_url: str


class KeysOut(BaseModel):
    keys: list[KeyOut]


class KeyRevokeIn(Command):
    key_id: int


class StageRef(Command):
    room_id: int


class HealthOut(BaseModel):
    room_id: int
    live: bool
    viewers: int
    bitrate_kbps: float
    fps: float
    codec: str


class ViewersOut(BaseModel):
    room_id: int
    viewers: int
