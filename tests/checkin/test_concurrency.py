"""Two desks scanning one ticket at the same instant: exactly one admission.

Real threads, each with its own database connection, released together by a barrier. On
PostgreSQL SELECT … FOR UPDATE serializes them; SQLite has no row locks (it locks the whole
file), so the test only runs on PostgreSQL — CI runs the suite there.
"""

import threading

import pytest
from django.db import connection, connections

from checkin import codes, services
from checkin.models import Scan

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite cannot express row locks (SELECT … FOR UPDATE); CI runs this on PostgreSQL",
)

DESKS = 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_simultaneous_scans_admit_exactly_once(event, entrance, guest, round_):
    code = codes.encode(guest.ticket)
    barrier = threading.Barrier(DESKS)
    results: list[str] = []
    errors: list[BaseException] = []

    def desk(n: int) -> None:
        try:
            barrier.wait()
            results.append(services.scan(event, entrance, code, retry_id=f"round{round_}-desk{n}").result)
        except BaseException as error:  # surfaced below; a thread must not swallow it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=desk, args=(n,)) for n in range(DESKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(results) == ["admitted"] + ["already_in"] * (DESKS - 1)
    assert Scan.objects.filter(result="admitted").count() == 1
    assert Scan.objects.count() == DESKS


@pytest.mark.django_db(transaction=True)
def test_same_retry_id_at_the_same_instant_makes_one_row(event, entrance, guest):
    code = codes.encode(guest.ticket)
    barrier = threading.Barrier(4)
    results: list[int] = []

    def desk() -> None:
        try:
            barrier.wait()
            results.append(services.scan(event, entrance, code, retry_id="one-and-the-same").scan.pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=desk) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 4 and len(set(results)) == 1
    assert Scan.objects.count() == 1
