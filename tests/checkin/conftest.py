from datetime import timedelta

import pytest
from django.utils import timezone

from checkin import services
from checkin.models import CheckinList
from eventplatform.models import Event


@pytest.fixture
def entrance(event) -> CheckinList:
    return CheckinList.objects.create(event=event, name="Main entrance", attendance=CheckinList.Attendance.ONSITE)


@pytest.fixture
def guest(event):
    """An on-site participant registered through check-in (ticket code and state exist)."""
    return services.register(event, name="Gerda Gast", email="gerda@example.org", attendance="onsite",
                             by=_organizer(event), send_mail=False)


def _organizer(event):
    from eventplatform import services as core

    return core.register_participant(event, name="Orga", username="ck-orga", roles={"organizer"})


@pytest.fixture
def other_event(transactional_db) -> Event:
    now = timezone.now()
    return Event.objects.create(slug="othercamp", title="Othercamp", start=now - timedelta(hours=1),
                                end=now + timedelta(hours=5))
