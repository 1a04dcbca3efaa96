"""Shapes of the check-in HTTP API."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanIn(Strict):
    list_id: int
    code: str | None = Field(default=None, max_length=200)
    ticket_id: int | None = None
    direction: Literal["entry", "exit"] = "entry"
    retry_id: str | None = Field(default=None, min_length=1, max_length=64)


class QueuedScan(Strict):
    retry_id: str = Field(min_length=1, max_length=64)
    list_id: int
    code: str = Field(default="", max_length=200)
    ticket_id: int | None = None  # checked in by search while offline: no code was scanned
    direction: Literal["entry", "exit"] = "entry"
    scanned_at: datetime
    admitted: bool


class SyncIn(Strict):
    scans: list[QueuedScan] = Field(max_length=500)


class DeviceIn(Strict):
    name: str = Field(min_length=1, max_length=100)


class RegistrationIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(default="", max_length=254)
    attendance: Literal["onsite", "online"] = "onsite"
    send_mail: bool = True


class SignupIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=254)
    attendance: Literal["onsite", "online"] = "online"


class RegistrationSettingsIn(Strict):
    signup_open: bool
    onsite_capacity: int | None = Field(default=None, ge=0)


class ResolveIn(Strict):
    note: str = Field(default="", max_length=200)
