"""The wire format of the event socket (see DESIGN.md, Realtime).

Client → server: {"id": 7, "type": "chat.send", "data": {...}}
Reply:           {"id": 7, "ok": true, "data": {...}} | {"id": 7, "ok": false, "error": {"code", "message"}}
Push:            {"type": "chat.message", "data": {...}}

Notification:    {"type": "rooms.signal", "data": {...}}, without an id: nothing is sent back when
                 it is accepted; a refusal comes as the push
                 {"type": "gateway.refused", "data": {"type": "rooms.signal", "error": {...}}}.
                 For what a client fires without waiting (WebRTC signals: docs/decisions/0004).
"""

import json
from typing import Any

from pydantic import BaseModel


class GatewayError(Exception):
    """A refusal the client is told about; the connection stays open."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def _dump(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    return data


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)


def encode_push(type_: str, data: Any) -> str:
    return encode({"type": type_, "data": _dump(data)})


def encode_reply(request_id: int, data: Any) -> str:
    return encode({"id": request_id, "ok": True, "data": _dump(data) if data is not None else {}})


def encode_refusal(type_: str, error: GatewayError) -> str:
    """A notification (a frame without id) was refused: say which kind, and why."""
    return encode_push("gateway.refused", {"type": type_, "error": error.as_dict()})


def encode_error(request_id: int | None, error: GatewayError) -> str:
    if request_id is None:
        return encode({"type": "error", "error": error.as_dict()})
    return encode({"id": request_id, "ok": False, "error": error.as_dict()})


class Frame(BaseModel):
    id: int | None
    type: str
    data: dict[str, Any]


def parse_frame(text: str) -> Frame:
    """Parse one client frame, or raise GatewayError saying what is wrong with it.

    The request id is recovered whenever the frame is an object with an integer id, so even
    a frame with a bad type or data gets its error as a reply the client can match.
    """
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise GatewayError("bad_json", "The message is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise GatewayError("bad_envelope", "The message must be a JSON object with id, type and data.")
    request_id = payload.get("id")
    # Without "id" the frame is a notification (no reply wanted); with one it must be usable.
    if "id" in payload and (not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0):
        raise GatewayError("bad_envelope", "The message's `id` must be an integer ≥ 0 (or left out for no reply).")
    type_ = payload.get("type")
    if not isinstance(type_, str) or not type_:
        raise GatewayError("bad_envelope", "The message needs a string `type`.", id=request_id)
    data = payload.get("data", {})
    if not isinstance(data, dict):
        raise GatewayError("bad_envelope", "`data` must be a JSON object.", id=request_id)
    unknown = set(payload) - {"id", "type", "data"}
    if unknown:
        raise GatewayError(
            "bad_envelope", f"Unknown envelope fields: {', '.join(sorted(unknown))}.", id=request_id
        )
    return Frame(id=request_id, type=type_, data=data)
