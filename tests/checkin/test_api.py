"""The HTTP API: who may call what (401/403), desks and their remote sign-out, the scan flow."""

import gzip
import json

import pytest
from django.test import Client
from django.utils import timezone

from checkin import codes, services
from checkin.models import Conflict, Device, Scan
from eventplatform.models import Participant

BASE = "/api/checkin/e/testcamp"


def _client_for(participant: Participant) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(participant.user)
    client.get(f"{BASE}/me")  # sets the CSRF cookie (for staff; harmless otherwise)
    return client


def _post(client: Client, path: str, body: dict, **headers):
    token = client.cookies.get("csrftoken")
    if token:
        headers.setdefault("HTTP_X_CSRFTOKEN", token.value)
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def desk_token(event, people):
    _device, token = services.provision_device(event, name="Desk 2", by=people["staff"])
    return token


def test_no_credentials_is_401_everywhere(event, people, entrance):
    anonymous = Client()
    for path in ["/me", "/search?q=ge", "/bundle", "/counts", "/conflicts"]:
        assert anonymous.get(BASE + path).status_code == 401, path
    for path, body in [("/scan", {"list_id": entrance.pk, "code": "x"}), ("/sync", {"scans": []}),
                       ("/devices", {"name": "d"})]:
        assert _post(anonymous, BASE + path, body).status_code == 401, path
    assert anonymous.get(BASE + "/me", HTTP_AUTHORIZATION="Bearer not-a-token").status_code == 401


def test_attendee_gets_403_everywhere(event, people, entrance, guest):
    attendee = _client_for(people["attendee"])
    for path in ["/me", "/search?q=ge", "/bundle", "/counts", "/conflicts", "/devices"]:
        assert attendee.get(BASE + path).status_code == 403, path
    code = codes.encode(guest.ticket)
    for path, body in [("/scan", {"list_id": entrance.pk, "code": code}), ("/sync", {"scans": []}),
                       ("/devices", {"name": "mine"}), ("/registrations", {"name": "X"})]:
        assert _post(attendee, BASE + path, body).status_code == 403, path
    assert not Scan.objects.exists() and not Device.objects.exists()


def test_staff_session_needs_csrf(event, people, entrance, guest):
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(people["staff"].user)
    body = {"list_id": entrance.pk, "code": codes.encode(guest.ticket)}
    assert staff.post(f"{BASE}/scan", json.dumps(body), content_type="application/json").status_code == 403
    staff.get(f"{BASE}/me")
    assert _post(staff, f"{BASE}/scan", body).json()["result"] == "admitted"


def test_staff_provisions_a_desk_which_scans_and_is_signed_out_remotely(event, people, entrance, guest):
    staff = _client_for(people["staff"])
    created = _post(staff, f"{BASE}/devices", {"name": "Desk 2"})
    assert created.status_code == 201
    token, device_id = created.json()["token"], created.json()["id"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    desk = Client()
    me = desk.get(f"{BASE}/me", **auth).json()
    assert me["device"]["name"] == "Desk 2"
    code = codes.encode(guest.ticket)
    first = _post(desk, f"{BASE}/scan", {"list_id": entrance.pk, "code": code, "retry_id": "r-1"}, **auth).json()
    assert first["result"] == "admitted" and first["name"] == "Gerda Gast"
    again = _post(desk, f"{BASE}/scan", {"list_id": entrance.pk, "code": code, "retry_id": "r-1"}, **auth).json()
    assert again["replayed"] and again["scan_id"] == first["scan_id"]
    second = _post(desk, f"{BASE}/scan", {"list_id": entrance.pk, "code": code, "retry_id": "r-2"}, **auth).json()
    assert second["result"] == "already_in" and second["previous"]["device"] == "Desk 2"
    assert Scan.objects.count() == 2
    assert Scan.objects.filter(device_id=device_id).count() == 2
    search = desk.get(f"{BASE}/search?q=gerda", **auth).json()
    assert search[0]["ticket_id"] == guest.ticket.pk
    by_id = _post(desk, f"{BASE}/scan", {"list_id": entrance.pk, "ticket_id": guest.ticket.pk, "direction": "exit"},
                  **auth).json()
    assert by_id["result"] == "admitted" and by_id["direction"] == "exit"
    counts = desk.get(f"{BASE}/counts", **auth).json()
    assert counts["on_site"] == 0 and "online" in counts
    # A desk cannot provision desks or revoke them; staff can, and the token dies at once.
    assert _post(desk, f"{BASE}/devices", {"name": "evil"}, **auth).status_code == 401
    assert _post(staff, f"{BASE}/devices/{device_id}/revoke", {}).status_code == 200
    assert desk.get(f"{BASE}/me", **auth).status_code == 401
    assert _post(desk, f"{BASE}/scan", {"list_id": entrance.pk, "code": code}, **auth).status_code == 401


def test_desk_of_another_event_is_401(event, people, other_event, entrance):
    organizer = Participant.objects.create(event=other_event, user=people["staff"].user, name="S",
                                           is_staff_member=True)
    _device, token = services.provision_device(other_event, name="Elsewhere", by=organizer)
    assert Client().get(f"{BASE}/bundle", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_bad_input_is_a_clear_400_or_422_and_writes_nothing(event, desk_token, entrance):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {desk_token}"}
    client = Client()
    assert _post(client, f"{BASE}/scan", {"list_id": entrance.pk}, **auth).json()["code"] == "code_missing"
    assert _post(client, f"{BASE}/scan", {"list_id": entrance.pk, "code": "x" * 201}, **auth).status_code == 422
    assert _post(client, f"{BASE}/scan", {"list_id": entrance.pk, "code": "x", "extra": 1}, **auth).status_code == 422
    assert _post(client, f"{BASE}/scan", {"list_id": 424242, "code": "x"}, **auth).status_code == 404
    assert _post(client, f"{BASE}/scan", {"list_id": entrance.pk, "code": "x", "direction": "up"},
                 **auth).status_code == 422
    assert _post(client, f"{BASE}/sync", {"scans": [{"retry_id": "a"}] * 501}, **auth).status_code == 422
    assert not Scan.objects.exists()


def test_bundle_and_sync_over_http(event, desk_token, entrance, guest):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {desk_token}"}
    client = Client()
    response = client.get(f"{BASE}/bundle", **auth)
    assert response["Content-Encoding"] == "gzip"
    bundle = json.loads(gzip.decompress(response.content))
    assert guest.ticket.pk in [t[0] for t in bundle["tickets"]]
    code = codes.encode(guest.ticket)
    services.scan(event, entrance, code)  # another desk, online
    synced = _post(client, f"{BASE}/sync", {"scans": [
        {"retry_id": "q1", "list_id": entrance.pk, "code": code, "direction": "entry",
         "scanned_at": timezone.now().isoformat(), "admitted": True}]}, **auth).json()
    assert synced["results"][0]["retry_id"] == "q1"
    assert Scan.objects.filter(retry_id="q1", offline=True).exists()
    assert synced["results"][0]["conflict"] is True
    assert Conflict.objects.count() == 1 and len(synced["conflicts"]) == 1


def test_organizer_registers_and_attendee_cannot(event, people, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    organizer = _client_for(people["organizer"])
    created = _post(organizer, f"{BASE}/registrations", {"name": "Neu", "email": "neu@example.org",
                                                          "attendance": "onsite"})
    assert created.status_code == 201
    assert _post(organizer, f"{BASE}/registrations", {"name": "Bad", "email": "nope"}).status_code == 400
    signup = Client()
    assert _post(signup, f"{BASE}/signup", {"name": "S", "email": "s@example.org"}).status_code == 403
    put = organizer.put(f"{BASE}/registration-settings", json.dumps({"signup_open": True}),
                        content_type="application/json", HTTP_X_CSRFTOKEN=organizer.cookies["csrftoken"].value)
    assert put.status_code == 200
    assert _post(signup, f"{BASE}/signup", {"name": "S", "email": "s@example.org"}).status_code == 202
    staff = _client_for(people["staff"])
    assert _post(staff, f"{BASE}/registrations", {"name": "X"}).status_code == 403


def test_printable_ticket_and_desk_pwa_files(event, guest):
    client = Client()
    page = client.get(f"/checkin/ticket/{guest.ticket.secret}/")
    assert page.status_code == 200 and b"<svg" in page.content and b"@media print" in page.content
    assert client.get("/checkin/ticket/nope/").status_code == 404
    manifest = client.get("/checkin/e/testcamp/manifest.webmanifest").json()
    assert manifest["scope"] == "/e/testcamp/staff"
    worker = client.get("/checkin/desk-sw.js")
    assert worker["Service-Worker-Allowed"] == "/e/"
