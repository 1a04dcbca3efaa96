"""The vectors the browser's offline check is tested with are what the server decides too."""

import base64
import json
from pathlib import Path

import pytest

from checkin import codes

VECTORS = json.loads((Path(__file__).parents[2] / "frontend/src/features/checkin/testVectors.json").read_text())
KEYS = {int(kid): base64.urlsafe_b64decode(k + "==") for kid, k in VECTORS["keys"].items()}


def test_genuine_vectors_verify():
    parsed = codes.decode(VECTORS["codes"]["good"], KEYS)
    assert (parsed.kid, parsed.event_id, parsed.ticket_id) == (7, 42, 1001)


@pytest.mark.parametrize("name,reason", [
    ("changed_byte", "forged"), ("other_event", "unknown_key"),
    ("other_event_same_kid", "forged"), ("forged_with_other_key", "forged"),
])
def test_bad_vectors_are_refused(name, reason):
    with pytest.raises(codes.CodeError) as refused:
        codes.decode(VECTORS["codes"][name], KEYS)
    assert refused.value.reason == reason
