"""Timers of breakout rounds. The database holds when a round warns and ends; these tasks only
apply it, each with a conditional update so a repeated or late delivery does nothing twice.

ETA tasks are queued only for what is due within the next minute (a Redis broker redelivers
ETA tasks that wait longer than its visibility timeout); the reconciler, run by beat every few
seconds, applies anything overdue and queues what comes due soon.
"""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from rooms import services
from rooms.models import BreakoutRound

HORIZON = timedelta(seconds=60)


def schedule_round(round_id: int, warning_at, ends_at) -> None:
    now = timezone.now()
    if warning_at is not None and warning_at - now < HORIZON:
        warn_round.apply_async((round_id,), eta=warning_at)
    if ends_at is not None and ends_at - now < HORIZON:
        close_round.apply_async((round_id,), eta=ends_at)


@shared_task(name="rooms.tasks.warn_round")
def warn_round(round_id: int) -> bool:
    return services.warn_round(round_id)


@shared_task(name="rooms.tasks.close_round")
def close_round(round_id: int) -> bool:
    # due_only: a timer moved later (extended) after this task was queued must not close early.
    return services.close_round(round_id, by="timer", due_only=True)


@shared_task(name="rooms.tasks.reconcile_rounds")
def reconcile_rounds() -> int:
    now = timezone.now()
    applied = 0
    for rnd in BreakoutRound.objects.filter(state=BreakoutRound.State.OPEN, ends_at__isnull=False):
        if rnd.warned_at is None and rnd.warning_at and rnd.warning_at <= now:
            applied += services.warn_round(rnd.pk, now=now)
        if rnd.ends_at <= now:
            applied += services.close_round(rnd.pk, by="timer", now=now, due_only=True)
        else:
            schedule_round(rnd.pk, rnd.warning_at if rnd.warned_at is None else None, rnd.ends_at)
    return applied
