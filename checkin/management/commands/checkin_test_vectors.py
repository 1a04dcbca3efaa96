"""Writes the ticket-code test vectors the browser's offline check is tested against
(frontend/src/features/checkin/testVectors.json). A fixed key makes them reproducible; the
Python side checks the same file in tests/checkin/test_vectors.py, so both implementations are
held to one set of answers."""

import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management.base import BaseCommand

from checkin.codes import PAYLOAD, VERSION


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _code(private: Ed25519PrivateKey, kid, event_id, ticket_id, serial=1, valid_from=0, valid_until=0) -> str:
    payload = PAYLOAD.pack(VERSION, kid, event_id, ticket_id, serial, valid_from, valid_until)
    return _b64(payload + private.sign(payload))


class Command(BaseCommand):
    help = "Write the ticket-code test vectors for the frontend's tests."

    def handle(self, *args, **options):
        ours = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
        theirs = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
        public = ours.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        good = _code(ours, 7, 42, 1001)
        raw = bytearray(base64.urlsafe_b64decode(good + "=="))
        raw[12] ^= 0x01  # the ticket id's last byte
        vectors = {
            "event": {"id": 42, "slug": "vectorcamp", "title": "Vectorcamp", "start": "2026-01-01T08:00:00Z",
                      "end": "2030-01-01T18:00:00Z"},
            "keys": {"7": _b64(public)},
            "public_key_hex": public.hex(),
            "codes": {
                "good": good,
                "second": _code(ours, 7, 42, 1002),
                "revoked": _code(ours, 7, 42, 1003),
                "reissued_old": _code(ours, 7, 42, 1004, serial=1),
                "not_yet_valid": _code(ours, 7, 42, 1002, valid_from=4102444800),
                "expired": _code(ours, 7, 42, 1002, valid_until=1500000000),
                "changed_byte": _b64(bytes(raw)),
                "other_event": _code(theirs, 8, 43, 1001),
                "other_event_same_kid": _code(theirs, 7, 43, 1001),
                "forged_with_other_key": _code(theirs, 7, 42, 1001),
            },
        }
        target = Path(settings.BASE_DIR) / "frontend" / "src" / "features" / "checkin" / "testVectors.json"
        target.write_text(json.dumps(vectors, indent=2) + "\n")
        self.stdout.write(str(target))
