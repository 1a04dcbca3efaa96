"""Ticket codes: compact, signed, decodable by an independent QR decoder, refused when touched."""

import base64
import shutil
import subprocess

import pytest

from checkin import codes
from checkin.models import SigningKey


def _flip(code: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_code_is_compact_and_has_no_personal_data(guest):
    code = codes.encode(guest.ticket)
    assert len(code) == 116
    raw = base64.urlsafe_b64decode(code + "==")
    assert guest.name.encode() not in raw and guest.email.encode() not in raw
    keys = {k.kid: bytes(k.public_key) for k in SigningKey.objects.all()}
    parsed = codes.decode(code, keys)
    assert (parsed.event_id, parsed.ticket_id, parsed.serial) == (guest.event_id, guest.ticket.pk, 1)


def test_private_key_is_stored_sealed(guest):
    key = SigningKey.objects.get(event=guest.event)
    assert len(bytes(key.private_key_sealed)) > 32  # Fernet token, not the raw 32 bytes
    assert codes._private_key(key).public_key().public_bytes_raw() == bytes(key.public_key)


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (zbar-tools) is not installed")
def test_qr_decodes_with_zbar_to_exactly_the_code(guest, tmp_path):
    code = codes.encode(guest.ticket)
    image = tmp_path / "ticket.png"
    image.write_bytes(codes.qr_png(code))
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(image)], capture_output=True, text=True, check=True)
    assert decoded.stdout.strip() == code
    svg = codes.qr_svg(code)
    assert svg.startswith("<svg")


@pytest.mark.parametrize("index", [0, 5, 9, 13, 20, 40, 86])
def test_every_changed_byte_is_refused(guest, index):
    code = codes.encode(guest.ticket)
    keys = {k.kid: bytes(k.public_key) for k in SigningKey.objects.all()}
    with pytest.raises(codes.CodeError) as refused:
        codes.decode(_flip(code, index), keys)
    assert refused.value.reason in {"forged", "unknown_key", "malformed"}


@pytest.mark.parametrize("garbage", ["", "x", "a" * 500, "!!!!", "A" * 116, "ticket please"])
def test_garbage_is_malformed_not_an_error(garbage):
    with pytest.raises(codes.CodeError):
        codes.decode(garbage, {})
