"""Ticket codes a desk can check without the server.

A code is `base64url(payload ‖ Ed25519 signature)`, 87 bytes → 116 characters, which fits a
version-6 QR code at error correction level M. The payload holds no personal data:

    version u8 · key id u32 · event id u32 · ticket id u32 · serial u16 ·
    valid from u32 · valid until u32          (big-endian; times in Unix seconds, 0 = open)

The key id names the event's public key in the offline bundle; the serial grows when a ticket
is re-issued, so an old printout is refused; the window lets a desk refuse "not valid yet /
anymore" offline. The same layout is parsed by `frontend/src/features/checkin/ticketCode.ts`.
"""

import base64
import binascii
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction

from checkin.models import SigningKey, TicketState
from eventplatform.models import Event, Ticket

VERSION = 1
PAYLOAD = struct.Struct(">BIIIHII")
SIGNATURE_BYTES = 64
CODE_BYTES = PAYLOAD.size + SIGNATURE_BYTES
MAX_CODE_CHARS = 200  # anything longer is not ours; refuse before decoding


@dataclass(frozen=True)
class TicketCode:
    kid: int
    event_id: int
    ticket_id: int
    serial: int
    valid_from: int
    valid_until: int


class CodeError(Exception):
    """Why a code is not a genuine ticket code: `malformed`, `unknown_key` or `forged`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _sealer() -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"eventplatform checkin signing keys").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def event_key(event: Event) -> SigningKey:
    """The event's current signing key, created on first use."""
    key = event.signing_keys.filter(retired_at__isnull=True).order_by("-id").first()
    if key is not None:
        return key
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return SigningKey.objects.create(
                    event=event,
                    kid=secrets.randbelow(2**31 - 2) + 1,  # fits a signed 32-bit column (PostgreSQL integer)
                    public_key=raw_public,
                    private_key_sealed=_sealer().encrypt(raw_private),
                )
        except IntegrityError:  # a key id collision (1 in 2 billion): draw again
            continue
    raise RuntimeError("could not allocate a signing key id")


def _private_key(key: SigningKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_sealer().decrypt(bytes(key.private_key_sealed)))


def _unix(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def ticket_state(ticket: Ticket) -> TicketState:
    state, _created = TicketState.objects.get_or_create(ticket=ticket)
    return state


def encode(ticket: Ticket) -> str:
    """The ticket's code (deterministic: Ed25519 signatures are, so a re-send gives the same QR)."""
    key = event_key(ticket.participant.event)
    state = ticket_state(ticket)
    payload = PAYLOAD.pack(
        VERSION, key.kid, ticket.participant.event_id, ticket.pk, state.serial & 0xFFFF,
        _unix(ticket.valid_from), _unix(ticket.valid_until),
    )
    signature = _private_key(key).sign(payload)
    return base64.urlsafe_b64encode(payload + signature).rstrip(b"=").decode()


def decode(code: str, public_keys: dict[int, bytes]) -> TicketCode:
    """Parse and verify a code against the known public keys (kid → raw 32 bytes)."""
    code = code.strip()
    if not code or len(code) > MAX_CODE_CHARS:
        raise CodeError("malformed")
    try:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    except (binascii.Error, ValueError):
        raise CodeError("malformed") from None
    if len(raw) != CODE_BYTES:
        raise CodeError("malformed")
    payload, signature = raw[: PAYLOAD.size], raw[PAYLOAD.size :]
    version, kid, event_id, ticket_id, serial, valid_from, valid_until = PAYLOAD.unpack(payload)
    if version != VERSION:
        raise CodeError("malformed")
    public = public_keys.get(kid)
    if public is None:
        raise CodeError("unknown_key")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, payload)
    except InvalidSignature:
        raise CodeError("forged") from None
    return TicketCode(kid, event_id, ticket_id, serial, valid_from, valid_until)


def kid_of(code: str) -> int | None:
    """The key id a code claims, read without verifying (to pick the key to verify with)."""
    try:
        raw = base64.urlsafe_b64decode(code.strip() + "=" * (-len(code.strip()) % 4))
        return PAYLOAD.unpack(raw[: PAYLOAD.size])[1] if len(raw) == CODE_BYTES else None
    except (binascii.Error, ValueError, struct.error):
        return None


def from_unix(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


def qr_svg(code: str, scale: int = 4) -> str:
    import segno

    return segno.make_qr(code, error="m").svg_inline(scale=scale, dark="#000", light="#fff")


def qr_png(code: str, scale: int = 6) -> bytes:
    import io

    import segno

    out = io.BytesIO()
    segno.make_qr(code, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
