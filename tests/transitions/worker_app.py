"""The Celery app the integration tests start: the real app plus two test-only agenda actions.

`celery -A tests.transitions.worker_app worker` — the actions are registered here, in the
worker process only, so they never exist outside the tests.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventplatform.test_settings")

import redis  # noqa: E402
from django.db.models import F, Value  # noqa: E402
from django.db.models.functions import Concat  # noqa: E402

from eventplatform.agenda_actions import Moment, agenda_action  # noqa: E402
from eventplatform.celery import app  # noqa: E402,F401


def redis_key(name: str, transition_id: int) -> str:
    return f"{os.environ['REDIS_PREFIX']}:test:{name}:{transition_id}"


def _append(session, text: str) -> None:
    from eventplatform.models import Session

    Session.objects.filter(pk=session.pk).update(abstract=Concat(F("abstract"), Value(text)))


@agenda_action("test.count", moment=Moment.START, session_kinds={"networking"})
def count(session, transition) -> None:
    """Leaves one mark per time it takes effect."""
    _append(session, "[applied]")


@agenda_action("test.block_on_redis", moment=Moment.START, session_kinds={"workshop"})
def block_on_redis(session, transition) -> None:
    """Writes half of its effect, then waits until the test releases it (or kills the worker)."""
    _append(session, "[first half]")
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.incr(redis_key("entered", transition.id))
    client.blpop([redis_key("release", transition.id)], timeout=60)
    _append(session, "[second half]")
