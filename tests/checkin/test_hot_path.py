"""The scan's hot path (checkin/statements.py): few statements, and answers exactly as before.

The statements are written by hand for speed; these tests pin what they must keep: the yellow
answer still names the admitting desk and list, a repeated retry id still returns the first
answer, a revoked desk is refused at its next request, values come back as the ORM gives them
(aware datetimes, booleans) on SQLite and PostgreSQL alike.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from ninja.errors import HttpError

from checkin import api, codes, services, statements
from checkin.models import CheckinList, Scan, TicketState


@pytest.fixture
def desks(event, people):
    north, north_token = services.provision_device(event, name="North", by=people["staff"])
    south, south_token = services.provision_device(event, name="South", by=people["staff"])
    return {"north": north, "south": south, "north_token": north_token, "south_token": south_token}


def test_already_in_names_the_admitting_desk_and_list(event, entrance, guest, desks):
    code = codes.encode(guest.ticket)
    first = services.scan(event, entrance, code, device=desks["north"], retry_id="n-1")
    assert first.result == "admitted"
    described = {"scanned_at": first.scan.scanned_at.isoformat(), "list": "Main entrance", "device": "North",
                 "direction": "entry", "offline": False}
    elsewhere = services.scan(event, entrance, code, device=desks["south"], retry_id="s-1")
    assert (elsewhere.result, elsewhere.previous) == ("already_in", described)
    here = services.scan(event, entrance, code, device=desks["north"], retry_id="n-2")
    assert (here.result, here.previous) == ("already_in", described)
    by_staff = services.scan(event, entrance, code, retry_id="x-1")
    assert by_staff.previous == described
    # Another list knows nothing of it; its own yellow answer names that list.
    hall = CheckinList.objects.create(event=event, name="Hall", attendance="any")
    assert services.scan(event, hall, code, device=desks["south"]).result == "admitted"
    hall_again = services.scan(event, hall, code, device=desks["north"])
    assert (hall_again.previous["list"], hall_again.previous["device"]) == ("Hall", "South")
    # A replayed yellow answer describes the same admission.
    replay = services.scan(event, entrance, code, device=desks["south"], retry_id="s-1")
    assert replay.replayed and replay.scan.pk == elsewhere.scan.pk and replay.previous == described


def test_a_repeated_retry_id_returns_the_first_answer_even_when_now_it_would_differ(event, entrance, guest, desks):
    code = codes.encode(guest.ticket)
    first = services.scan(event, entrance, code, device=desks["north"], retry_id="r-1")
    services.scan(event, entrance, code, device=desks["north"], direction="exit", retry_id="r-2")
    rows = Scan.objects.count()
    again = services.scan(event, entrance, code, device=desks["north"], retry_id="r-1")
    assert (again.result, again.replayed, again.scan.pk) == ("admitted", True, first.scan.pk)
    forged = code[:-3] + ("AAA" if code[-3:] != "AAA" else "BBB")
    refused = services.scan(event, entrance, forged, retry_id="r-3")
    assert services.scan(event, entrance, code, retry_id="r-3").as_dict() == {**refused.as_dict(), "replayed": True}
    assert Scan.objects.count() == rows + 1
    with pytest.raises(services.CheckinError) as reused:
        from eventplatform.models import Event

        other = Event.objects.create(slug="elsewhere", title="E", start=event.start, end=event.end)
        services.scan(other, CheckinList.objects.create(event=other, name="Door"), code, retry_id="r-1")
    assert reused.value.code == "retry_id_reused"


def test_a_fresh_scan_makes_three_statements_and_no_retry_lookup(event, people, entrance, guest, desks):
    later = services.register(event, name="Lena Later", email="lena@example.org", attendance="onsite",
                              by=people["organizer"], send_mail=False)
    services.scan(event, entrance, codes.encode(guest.ticket), device=desks["north"], retry_id="warm")  # key cache
    code = codes.encode(later.ticket)
    with CaptureQueriesContext(connection) as admitted:
        assert services.scan(event, entrance, code, device=desks["north"], retry_id="a-1").result == "admitted"
    statements_run = _data_statements(admitted)
    assert len(statements_run) == 3, statements_run  # the locked ticket, its last admission, the new row
    assert not any("retry_id" in sql and sql.lstrip().upper().startswith("SELECT") for sql in statements_run)
    with CaptureQueriesContext(connection) as same_desk:
        assert services.scan(event, entrance, code, device=desks["north"], retry_id="a-2").result == "already_in"
    assert len(_data_statements(same_desk)) == 3


def _data_statements(captured: CaptureQueriesContext) -> list[str]:
    """What ran, without transaction control (SQLite logs BEGIN and COMMIT, PostgreSQL does not)."""
    control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")
    return [q["sql"] for q in captured.captured_queries if not q["sql"].upper().startswith(control)]


def test_a_scan_request_reads_desk_and_list_in_one_statement(event, entrance, desks, other_event):
    factory = RequestFactory()

    def request(token):
        return factory.post("/", HTTP_AUTHORIZATION=f"Bearer {token}")

    api.desk(request(desks["north_token"]), "testcamp", list_id=entrance.pk)  # writes last_seen once
    with CaptureQueriesContext(connection) as read:
        who = api.desk(request(desks["north_token"]), "testcamp", list_id=entrance.pk)
    assert len(read.captured_queries) == 1
    assert (who.device.name, who.event.pk, who.event.slug) == ("North", event.pk, "testcamp")
    assert who.checkin_list == entrance
    assert who.event.title == "Testcamp"  # not read by the statement: loads itself when asked
    foreign = CheckinList.objects.create(event=other_event, name="Other door")
    for list_id in (foreign.pk, 424242, 2**70):
        with pytest.raises(HttpError) as unknown:
            api.desk(request(desks["north_token"]), "testcamp", list_id=list_id)
        assert unknown.value.status_code == 404
    with pytest.raises(HttpError) as wrong_event:
        api.desk(request(desks["north_token"]), "othercamp", list_id=entrance.pk)
    assert wrong_event.value.status_code == 401
    services.revoke_device(desks["north"], by=desks["north"].created_by)
    with pytest.raises(HttpError) as revoked:
        api.desk(request(desks["north_token"]), "testcamp", list_id=entrance.pk)
    assert revoked.value.status_code == 401


def test_rows_read_by_hand_are_what_the_orm_reads(event, entrance, guest):
    ticket = guest.ticket
    ticket.valid_until = timezone.now() + timedelta(hours=2)
    ticket.save()
    from django.db import transaction

    with transaction.atomic():
        state = statements.locked_ticket(ticket.pk, event.pk)
    assert state.serial == 1 and state.ticket.pk == ticket.pk
    assert state.ticket.valid_until == ticket.valid_until and timezone.is_aware(state.ticket.valid_until)
    assert state.ticket.participant.is_removed is False and state.ticket.participant.name == "Gerda Gast"
    assert state.ticket.secret == ticket.secret  # deferred: loaded on access
    assert statements.locked_ticket(ticket.pk, event.pk + 1) is None
    scanned = services.scan(event, entrance, codes.encode(ticket), retry_id="rows-1").scan
    last = statements.last_counting(entrance.pk, ticket.pk)
    stored = Scan.objects.get(pk=scanned.pk)
    assert (last.pk, last.scanned_at, last.offline, last.direction) == (
        stored.pk, stored.scanned_at, False, "entry")
    assert stored.received_at is not None and stored.retry_id == "rows-1" and stored.event_id == event.pk
    assert statements.last_counting(entrance.pk, ticket.pk, before_id=scanned.pk) is None


def test_a_ticket_from_before_check_in_gets_its_state_on_first_scan(event, entrance, guest):
    code = codes.encode(guest.ticket)
    TicketState.objects.filter(ticket=guest.ticket).delete()
    assert services.scan(event, entrance, code).result == "admitted"
    assert TicketState.objects.filter(ticket=guest.ticket).exists()
