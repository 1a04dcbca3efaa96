"""Exports read by their real consumers: icalendar, the frab XSD (lxml), the c3voc JSON schema."""

import json
from pathlib import Path

import pytest
from django.test import Client
from icalendar import Calendar

from barcamp import services
from barcamp.models import Cell

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
needs_schemas = pytest.mark.skipif(
    not (SCHEMAS / "frab-schedule.xsd").exists(),
    reason=f"published schedule schemas not found at {SCHEMAS} (checkout without ../shared/schemas)",
)


@pytest.fixture
def published(camp, people):
    """Two barcamp sessions released into the agenda, one starred by attendee2."""
    org = people["organizer"]
    one = services.propose(people["attendee"], title="Offene Daten & <XML>", description="Wer teilt was?",
                           cohost_ids=[people["speaker"].pk], language="de")
    two = services.propose(people["attendee2"], title="Remote first", language="en", mode="online")
    first = Cell.objects.get(slot=camp["slots"][0], room__room__name="Breakout A")
    second = Cell.objects.get(slot=camp["slots"][2], room__room__name="Breakout B")
    services.place(org, first.pk, first.version, one.pk)
    services.place(org, second.pk, second.version, two.pk)
    services.release(org)
    services.star(people["attendee2"], one.pk, True)
    event = camp["event"]
    event.is_public = True
    event.save(update_fields=["is_public"])
    return {"one": one, "two": two}


def get(url, status=200, client=None):
    response = (client or Client()).get(url)
    assert response.status_code == status, (url, response.status_code)
    return response


def test_event_ical_parses_and_lists_every_session(published):
    body = get("/barcamp/testcamp/schedule.ics").content
    calendar = Calendar.from_ical(body)
    events = calendar.walk("VEVENT")
    titles = {str(e["SUMMARY"]) for e in events}
    assert {"Welcome", "Keynote", "Wrap-up", "Offene Daten & <XML>", "Remote first"} <= titles
    entry = next(e for e in events if str(e["SUMMARY"]) == "Remote first")
    assert str(entry["LOCATION"]) == "Breakout B"
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_personal_ical_behind_a_private_link(published, people):
    feed = services.calendar_feed(people["attendee2"])
    body = get(f"/barcamp/testcamp/my/{feed.token}.ics").content
    titles = sorted(str(e["SUMMARY"]) for e in Calendar.from_ical(body).walk("VEVENT"))
    assert titles == ["Offene Daten & <XML>", "Remote first"]  # starred one + the one they host
    get("/barcamp/testcamp/my/not-a-token.ics", status=404)
    get(f"/barcamp/othercamp/my/{feed.token}.ics", status=404)


def test_uids_stay_the_same_across_releases(published, camp, people):
    before = {str(e["SUMMARY"]): str(e["UID"]) for e in Calendar.from_ical(get("/barcamp/testcamp/schedule.ics").content).walk("VEVENT")}
    cell = Cell.objects.get(slot=camp["slots"][2], room__room__name="Breakout A")
    services.place(people["organizer"], cell.pk, cell.version, published["one"].pk)
    services.release(people["organizer"])
    after = {str(e["SUMMARY"]): (str(e["UID"]), e["DTSTART"].dt) for e in Calendar.from_ical(get("/barcamp/testcamp/schedule.ics").content).walk("VEVENT")}
    assert after["Offene Daten & <XML>"][0] == before["Offene Daten & <XML>"]
    assert after["Offene Daten & <XML>"][1] == camp["slots"][2].start


@needs_schemas
def test_schedule_xml_validates_against_the_frab_xsd(published):
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "frab-schedule.xsd")))
    document = etree.fromstring(get("/barcamp/testcamp/schedule.xml").content)
    assert schema.validate(document), schema.error_log
    titles = document.xpath("//event/title/text()")
    assert "Offene Daten & <XML>" in titles
    persons = document.xpath("//event[title='Offene Daten & <XML>']/persons/person/text()")
    assert sorted(persons) == ["Attendee", "Speaker"]


@needs_schemas
def test_schedule_xml_of_an_empty_event_still_validates(event):
    from lxml import etree

    event.is_public = True
    event.save()
    from eventplatform.models import Session

    Session.objects.filter(event=event).delete()
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "frab-schedule.xsd")))
    assert schema.validate(etree.fromstring(get("/barcamp/testcamp/schedule.xml").content)), schema.error_log


@needs_schemas
def test_schedule_json_validates_against_the_c3voc_schema(published):
    import jsonschema

    schema = json.loads((SCHEMAS / "c3voc-schedule.schema.json").read_text())
    document = get("/barcamp/testcamp/schedule.json").json()
    jsonschema.Draft6Validator(schema).validate(document)
    rooms = {name for day in document["schedule"]["conference"]["days"] for name in day["rooms"]}
    assert {"Stage", "Breakout A", "Breakout B"} <= rooms
    entries = [e for day in document["schedule"]["conference"]["days"] for r in day["rooms"].values() for e in r]
    remote = next(e for e in entries if e["title"] == "Remote first")
    assert remote["language"] == "en" and remote["duration"] == "00:45" and remote["track"] == "Barcamp"


def test_private_events_are_not_exported_to_strangers(camp, people):
    for url in ("schedule/", "schedule.ics", "schedule.xml", "schedule.json"):
        get(f"/barcamp/testcamp/{url}", status=404)
    client = Client()
    client.force_login(people["attendee"].user)
    get("/barcamp/testcamp/schedule.json", client=client)


def test_public_schedule_page_in_german_and_english(published):
    german = get("/barcamp/testcamp/schedule/", client=Client(headers={"accept-language": "de"})).content.decode()
    english = get("/barcamp/testcamp/schedule/", client=Client(headers={"accept-language": "en"})).content.decode()
    assert "Remote first" in english and "Breakout B" in english
    assert "Offene Daten &amp; &lt;XML&gt;" in english  # escaped, not markup
    assert '<html lang="en"' in english and '<html lang="de"' in german
    assert 'scope="col"' in english and "<caption>" in english


def test_organizer_calendar_page_and_feed(published, people):
    username = people["organizer"].user.username
    page = get(f"/barcamp/calendar/{username}/").content.decode()
    assert "Testcamp" in page
    calendar = Calendar.from_ical(get(f"/barcamp/calendar/{username}.ics").content)
    assert [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")] == ["Testcamp"]
    get(f"/barcamp/calendar/{people['attendee'].user.username}/", status=404)  # organizes nothing
    get("/barcamp/calendar/nobody.ics", status=404)
