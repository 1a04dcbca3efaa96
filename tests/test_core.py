"""The core domain: tickets and their links, the agenda rules, the demo, translations."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone, translation
from django.utils.translation import gettext

from eventplatform import services
from eventplatform.models import Event, Participant, Room, Session

pytestmark = pytest.mark.django_db


def test_ticket_link_logs_in_and_opens_the_event(client, people):
    response = client.get(f"/t/{people['attendee'].ticket.secret}/")
    assert response.status_code == 302
    assert response["Location"] == "/e/testcamp/"
    assert int(client.session["_auth_user_id"]) == people["attendee"].user_id


@pytest.mark.parametrize("language, text", [("en", "Ticket not accepted"), ("de", "Ticket nicht akzeptiert")])
def test_forged_ticket_link_is_refused_in_the_visitors_language(client, people, language, text):
    response = client.get("/t/forged-secret/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 404
    assert text in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_expired_ticket_link_is_refused(client, people):
    ticket = people["attendee"].ticket
    ticket.valid_until = timezone.now() - timedelta(seconds=1)
    ticket.save()
    response = client.get(f"/t/{ticket.secret}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert "This ticket has expired." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_ticket_secrets_are_unguessable_and_unique(people):
    secrets = {p.ticket.secret for p in people.values()}
    assert len(secrets) == len(people)
    assert all(len(s) >= 40 for s in secrets)


def test_register_participant_twice_returns_the_same_person(event):
    first = services.register_participant(event, name="Kim", email="kim@example.org", roles={"speaker"})
    again = services.register_participant(event, name="Kim", email="kim@example.org")
    assert first.pk == again.pk
    assert first.roles == ["speaker", "attendee"]
    with pytest.raises(ValueError):
        services.register_participant(event, name="X", roles={"king"})


def test_overlapping_sessions_in_one_room_are_refused(event):
    stage = Room.objects.get(event=event, kind=Room.Kind.STAGE)
    keynote = Session.objects.get(event=event, title="Keynote")
    clash = Session(
        event=event, title="Clash", room=stage, start=keynote.start + timedelta(minutes=10), end=keynote.end
    )
    with pytest.raises(ValidationError) as refused:
        clash.full_clean()
    assert "“Stage” already has “Keynote” at that time." in str(refused.value)
    # back to back is fine; another room at the same time is fine
    Session(event=event, title="After", room=stage, start=keynote.end, end=keynote.end + timedelta(minutes=5)).full_clean()
    other = Room.objects.get(event=event, name="Breakout A")
    Session(event=event, title="Parallel", room=other, start=keynote.start, end=keynote.end).full_clean()


def test_session_ending_before_it_starts_is_refused(event):
    now = timezone.now()
    with pytest.raises(ValidationError):
        Session(event=event, title="Backwards", start=now, end=now - timedelta(minutes=1)).full_clean()


def test_agenda_change_bumps_the_cursor(event):
    before = Event.objects.get(pk=event.pk).agenda_version
    services.agenda_changed(event)
    assert Event.objects.get(pk=event.pk).agenda_version == before + 1


def test_demo_is_idempotent_and_prints_one_link_per_role(capsys):
    call_command("demo")
    first = capsys.readouterr().out
    call_command("demo")
    second = capsys.readouterr().out
    assert first == second
    event = Event.objects.get(slug="digital-day")
    assert event.is_hybrid
    assert event.rooms.filter(kind=Room.Kind.STAGE).count() == 1
    assert event.rooms.filter(kind=Room.Kind.BREAKOUT).count() == 3
    assert event.rooms.filter(kind=Room.Kind.ONSITE).count() == 2
    assert event.participants.filter(is_organizer=False, is_moderator=False, is_speaker=False, is_staff_member=False).count() == 31
    assert event.sessions.count() >= 10
    for role in ["organizer", "moderator", "speaker", "staff", "attendee"]:
        participant = Participant.objects.get(event=event, user__username=f"demo-{role}")
        assert f"/t/{participant.ticket.secret}/" in first


def test_demo_agenda_passes_the_agenda_rules(capsys):
    call_command("demo")
    for session in Session.objects.filter(event__slug="digital-day"):
        session.full_clean()


def test_admin_pages_load_for_an_organizer(client, people):
    organizer = people["organizer"].user
    organizer.is_staff = organizer.is_superuser = True
    organizer.save()
    client.force_login(organizer)
    event = people["organizer"].event
    for url in [
        "/admin/eventplatform/event/",
        f"/admin/eventplatform/event/{event.pk}/change/",
        "/admin/eventplatform/session/?q=Keynote",
        "/admin/eventplatform/participant/?is_speaker__exact=1",
        f"/admin/eventplatform/participant/{people['attendee'].pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url


def test_german_catalogue_is_complete():
    po = Path(__file__).resolve().parent.parent / "eventplatform/locale/de/LC_MESSAGES/django.po"
    text = po.read_text(encoding="utf-8")
    pairs = re.findall(r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', text, re.M)
    untranslated = [msgid for msgid, msgstr in pairs[1:] if msgstr.strip() == '""']
    assert len(pairs) > 50
    assert untranslated == []
    assert "#, fuzzy" not in text
    with translation.override("de"):
        assert gettext("This ticket has expired.") == "Dieses Ticket ist abgelaufen."
