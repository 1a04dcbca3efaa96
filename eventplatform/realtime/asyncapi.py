"""Generate the AsyncAPI 3 document of the event socket from the registered schemas.

Never edit docs/protocol/asyncapi.json by hand: `make asyncapi` writes it, and a test fails
when the committed file differs from what the code registers.
"""

import json
from pathlib import Path

from django.conf import settings
from pydantic.json_schema import models_json_schema

from eventplatform.realtime.registry import COMMANDS, PUSHES

DOCUMENT_PATH = Path(settings.BASE_DIR) / "docs" / "protocol" / "asyncapi.json"
REF = "#/components/schemas/{model}"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "description": "Stable machine-readable reason, e.g. `forbidden`, `invalid`."},
        "message": {"type": "string", "description": "A sentence for people."},
    },
    "additionalProperties": True,
}


def _ref(schemas: dict, model, mode: str) -> dict:
    return schemas[(model, mode)]


def _message_name(type_: str, suffix: str) -> str:
    return "".join(part.capitalize() for part in type_.replace("-", ".").split(".")) + suffix


def generate() -> dict:
    models = []
    for spec in COMMANDS.values():
        models.append((spec.schema, "validation"))
        if spec.reply is not None:
            models.append((spec.reply, "serialization"))
    for push in PUSHES.values():
        models.append((push.schema, "serialization"))
    refs, definitions = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    schemas = dict(sorted(definitions.get("$defs", {}).items()))
    schemas["Error"] = ERROR_SCHEMA

    messages: dict[str, dict] = {}
    operations: dict[str, dict] = {}
    channel_messages: dict[str, dict] = {}

    def add_message(name: str, message: dict) -> dict:
        messages[name] = message
        channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        return {"$ref": f"#/channels/event/messages/{name}"}

    for type_, spec in sorted(COMMANDS.items()):
        request = add_message(
            _message_name(type_, "Request"),
            {
                "name": type_,
                "summary": spec.summary,
                "payload": {
                    "type": "object",
                    "required": ["type", "data"],
                    "additionalProperties": False,
                    "properties": {
                        "id": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Echoed in the reply. Leave it out to send a notification: nothing "
                            "comes back when it is accepted, a refusal comes as `gateway.refused`.",
                        },
                        "type": {"const": type_},
                        "data": _ref(refs, spec.schema, "validation"),
                    },
                },
                "x-permission": spec.permission.name,
            },
        )
        reply_data = _ref(refs, spec.reply, "serialization") if spec.reply else {"type": "object"}
        reply = add_message(
            _message_name(type_, "Reply"),
            {
                "name": f"{type_} reply",
                "payload": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["id", "ok", "data"],
                            "properties": {"id": {"type": "integer"}, "ok": {"const": True}, "data": reply_data},
                        },
                        {
                            "type": "object",
                            "required": ["id", "ok", "error"],
                            "properties": {
                                "id": {"type": "integer"},
                                "ok": {"const": False},
                                "error": {"$ref": REF.format(model="Error")},
                            },
                        },
                    ]
                },
            },
        )
        operations[type_] = {
            "action": "receive",
            "channel": {"$ref": "#/channels/event"},
            "summary": spec.summary,
            "description": f"Allowed for: {spec.permission.description}.",
            "messages": [request],
            "reply": {"channel": {"$ref": "#/channels/event"}, "messages": [reply]},
        }

    for type_, push in sorted(PUSHES.items()):
        message = add_message(
            _message_name(type_, "Push"),
            {
                "name": type_,
                "summary": push.summary,
                "payload": {
                    "type": "object",
                    "required": ["type", "data"],
                    "properties": {"type": {"const": type_}, "data": _ref(refs, push.schema, "serialization")},
                },
                "x-group": push.group,
            },
        )
        operations[f"push.{type_}"] = {
            "action": "send",
            "channel": {"$ref": "#/channels/event"},
            "summary": push.summary,
            "messages": [message],
        }

    add_message(
        "ConnectionError",
        {
            "name": "error",
            "summary": "A frame that could not be read (not JSON, not an object, a bad id) or a refused connection "
            "(then the server closes with 4401 or 4403 right after).",
            "payload": {
                "type": "object",
                "required": ["type", "error"],
                "properties": {"type": {"const": "error"}, "error": {"$ref": REF.format(model="Error")}},
            },
        },
    )

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "eventplatform event socket",
            "version": "1",
            "description": (
                "One WebSocket per browser tab per event. Authenticate with the session of a ticket link or "
                "`?ticket=<secret>`; the Origin header must be one of the allowed hosts. Send `hello` first; "
                "its reply is the snapshot. Generated from the code: do not edit."
            ),
        },
        "channels": {
            "event": {
                "address": "/ws/events/{slug}/",
                "parameters": {"slug": {"description": "The event's short name."}},
                "messages": dict(sorted(channel_messages.items())),
            }
        },
        "operations": operations,
        "components": {"schemas": schemas, "messages": dict(sorted(messages.items()))},
    }


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
