"""The scan rules: one row per scan, green/yellow/red, lists, entry/exit, re-issue, annul, sync."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from checkin import codes, selectors, services
from checkin.models import CheckinList, Conflict, RegistrationSettings, Scan
from eventplatform.models import Participant


def test_first_scan_admits_second_is_already_in_with_where_and_when(event, entrance, guest):
    code = codes.encode(guest.ticket)
    first = services.scan(event, entrance, code)
    assert (first.result, first.name) == ("admitted", "Gerda Gast")
    second = services.scan(event, entrance, code)
    assert second.result == "already_in"
    assert second.previous["list"] == "Main entrance"
    assert second.previous["scanned_at"] == first.scan.scanned_at.isoformat()
    assert Scan.objects.count() == 2


def test_refusals_are_rows_with_reasons(event, entrance, guest, other_event):
    code = codes.encode(guest.ticket)
    outsider = services.register(other_event, name="Otto", email="o@example.org", attendance="onsite",
                                 by=Participant.objects.create(event=other_event, user=guest.user, name="x",
                                                               is_organizer=True), send_mail=False)
    cases = {
        "forged": code[:-3] + ("AAA" if code[-3:] != "AAA" else "BBB"),
        "malformed": "hello",
        "wrong_event": codes.encode(outsider.ticket),
    }
    for reason, bad in cases.items():
        outcome = services.scan(event, entrance, bad)
        assert (outcome.result, outcome.reason) == ("refused", reason), reason
    assert Scan.objects.filter(result="refused").count() == 3
    assert services.scan(event, entrance, code).result == "admitted"  # the genuine one still works


def test_revoked_reissued_and_time_window(event, entrance, guest):
    old = codes.encode(guest.ticket)
    new = services.reissue_ticket(guest.ticket)
    assert services.scan(event, entrance, old).reason == "ticket_reissued"
    assert services.scan(event, entrance, new).result == "admitted"
    services.revoke_ticket(guest.ticket)
    assert services.scan(event, entrance, new, direction="exit").reason == "revoked"

    later = services.register(event, name="Late", email="l@example.org", attendance="onsite",
                              by=Participant.objects.get(event=event, is_organizer=True), send_mail=False)
    later.ticket.valid_from = timezone.now() + timedelta(hours=1)
    later.ticket.save()
    assert services.scan(event, entrance, codes.encode(later.ticket)).reason == "not_yet_valid"
    later.ticket.valid_from, later.ticket.valid_until = None, timezone.now() - timedelta(minutes=1)
    later.ticket.save()
    assert services.scan(event, entrance, codes.encode(later.ticket)).reason == "expired"


def test_list_rules(event, guest):
    code = codes.encode(guest.ticket)
    online_only = CheckinList.objects.create(event=event, name="Online", attendance="online")
    assert services.scan(event, online_only, code).reason == "wrong_attendance"
    closed = CheckinList.objects.create(event=event, name="Closed", attendance="any",
                                        closes_at=timezone.now() - timedelta(minutes=5))
    assert services.scan(event, closed, code).reason == "list_closed"
    once = CheckinList.objects.create(event=event, name="Workshop", attendance="any", allow_reentry=False)
    assert services.scan(event, once, code).result == "admitted"
    assert services.scan(event, once, code, direction="exit").result == "admitted"
    assert services.scan(event, once, code).reason == "no_reentry"
    no_exit = CheckinList.objects.create(event=event, name="Hall", attendance="any", allow_exit=False)
    assert services.scan(event, no_exit, code, direction="exit").reason == "exit_not_allowed"


def test_reentry_after_exit_and_counts(event, entrance, guest):
    code = codes.encode(guest.ticket)
    services.scan(event, entrance, code)
    assert selectors.counts(event)["on_site"] == 1
    services.scan(event, entrance, code, direction="exit")
    assert selectors.counts(event)["on_site"] == 0
    assert services.scan(event, entrance, code).result == "admitted"
    assert selectors.counts(event)["lists"] == [{"id": entrance.pk, "name": "Main entrance", "inside": 1}]


def test_retry_id_makes_one_row(event, entrance, guest):
    code = codes.encode(guest.ticket)
    first = services.scan(event, entrance, code, retry_id="desk1-0001")
    again = services.scan(event, entrance, code, retry_id="desk1-0001")
    assert first.result == again.result == "admitted"
    assert again.replayed and again.scan.pk == first.scan.pk
    assert Scan.objects.count() == 1


def test_annul_within_window_only(event, entrance, guest, settings):
    code = codes.encode(guest.ticket)
    admitted = services.scan(event, entrance, code).scan
    services.annul(admitted, device=None, staff=None)
    assert selectors.counts(event)["on_site"] == 0
    assert services.scan(event, entrance, code).result == "admitted"  # annulled entry does not count
    with pytest.raises(services.CheckinError) as twice:
        services.annul(admitted, device=None, staff=None)
    assert twice.value.code == "not_annullable"
    old = services.scan(event, entrance, code, direction="exit").scan
    Scan.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(minutes=10))
    old.refresh_from_db()
    with pytest.raises(services.CheckinError) as late:
        services.annul(old, device=None, staff=None)
    assert late.value.code == "annul_too_late"


def test_offline_double_admission_becomes_a_conflict(event, entrance, guest):
    code = codes.encode(guest.ticket)
    now = timezone.now()
    online = services.scan(event, entrance, code)
    assert online.result == "admitted"
    results = services.sync(event, None, None, [
        {"retry_id": "off-1", "list_id": entrance.pk, "code": code, "direction": "entry",
         "scanned_at": now - timedelta(seconds=5), "admitted": True},
        {"retry_id": "off-2", "list_id": 999999, "code": code, "direction": "entry",
         "scanned_at": now, "admitted": True},
    ])
    assert results[0]["conflict"] is True and results[0]["result"] == "admitted"
    assert results[1]["error"] == "unknown_list"
    conflict = Conflict.objects.get()
    assert conflict.first_scan_id == online.scan.pk
    assert selectors.conflicts(event)[0]["name"] == "Gerda Gast"
    again = services.sync(event, None, None, [
        {"retry_id": "off-1", "list_id": entrance.pk, "code": code, "direction": "entry",
         "scanned_at": now - timedelta(seconds=5), "admitted": True}])
    assert again[0]["replayed"] is True and Conflict.objects.count() == 1


def test_registration_mail_has_qr_link_and_ics(event, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    organizer = Participant.objects.create(event=event, user=_user("mail-orga"), name="O", is_organizer=True)
    participant = services.register(event, name="Mia Mail", email="Mia@Example.org", attendance="onsite", by=organizer)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["mia@example.org"]
    assert f"/t/{participant.ticket.secret}/" in message.body
    names = [part.get_filename() for part in message.message().walk() if part.get_filename()]
    assert "ticket.png" in names and "testcamp.ics" in names
    ics = services.ticket_ics(participant)
    assert "BEGIN:VEVENT" in ics and "DTSTART:" in ics


def test_free_signup_closed_open_capacity_and_no_duplicates(event, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with pytest.raises(services.CheckinError) as closed:
        services.register(event, name="A", email="a@example.org", attendance="online")
    assert closed.value.code == "signup_closed"
    RegistrationSettings.objects.create(event=event, signup_open=True, onsite_capacity=1)
    first = services.register(event, name="A", email="a@example.org", attendance="onsite")
    assert services.register(event, name="A again", email="A@example.org", attendance="onsite").pk == first.pk
    with pytest.raises(services.CheckinError) as full:
        services.register(event, name="B", email="b@example.org", attendance="onsite")
    assert full.value.code == "onsite_full"
    assert services.register(event, name="B", email="b@example.org", attendance="online").attendance == "online"


def test_bundle_is_small_and_complete(event, entrance, guest):
    import gzip
    import json

    services.scan(event, entrance, codes.encode(guest.ticket))
    services.revoke_ticket(Participant.objects.get(event=event, is_organizer=True).ticket)
    bundle = json.loads(gzip.decompress(selectors.offline_bundle_gzip(event)))
    assert [t[0] for t in bundle["tickets"]] == [guest.ticket.pk]
    assert bundle["tickets"][0][2:] == ["Gerda Gast", "gerda@example.org", 1]
    assert len(bundle["revoked"]) == 1
    assert bundle["inside"] == {str(entrance.pk): [guest.ticket.pk]}
    assert len(bundle["keys"]) == 1


def _user(name):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create(username=name)


def test_default_list_is_one_list_whatever_the_language(event):
    from django.utils import translation

    from checkin import services as checkin_services

    with translation.override("en"):
        first = checkin_services.default_list(event)
    with translation.override("de"):
        again = checkin_services.default_list(event)
    assert first.pk == again.pk
    assert first.name == "Haupteingang"  # the event's first language is German
