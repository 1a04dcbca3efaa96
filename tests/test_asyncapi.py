import json

from eventplatform.realtime import asyncapi
from eventplatform.realtime.registry import COMMANDS, PUSHES


def test_committed_asyncapi_document_is_current():
    committed = asyncapi.DOCUMENT_PATH.read_text(encoding="utf-8")
    assert committed == asyncapi.render(), "docs/protocol/asyncapi.json is stale: run `make asyncapi`"


def test_document_covers_every_command_and_push():
    document = json.loads(asyncapi.render())
    assert document["asyncapi"] == "3.0.0"
    for type_ in COMMANDS:
        assert document["operations"][type_]["action"] == "receive"
    for type_ in PUSHES:
        assert document["operations"][f"push.{type_}"]["action"] == "send"
    # every reference resolves inside the document
    text = json.dumps(document)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/')[1:]}:
        node = document
        for key in ref.split("/"):
            node = node[key]
