"""Celery tasks: run one transition (sent with an ETA), and the reconciler (beat, every few s)."""

from celery import shared_task
from django.conf import settings

from eventplatform.transitions import services


# Hung actions must not hold a transition forever: past the time limit the worker child is
# killed, its transaction rolls back, and the lease expiry hands the transition to a new attempt.
@shared_task(
    name="transitions.run", ignore_result=True, acks_late=False, time_limit=settings.TRANSITIONS["TASK_TIME_LIMIT"]
)
def run_transition_task(transition_id: int) -> str:
    outcome = services.run_transition(transition_id)
    if outcome == "early":
        # The ETA timer fired early, or the transition moved later: wait for its due time
        # (a moved transition is also sent again by the dispatcher; a duplicate is harmless).
        from eventplatform.transitions.models import Transition

        due_at = Transition.objects.filter(pk=transition_id).values_list("due_at", flat=True).first()
        if due_at is not None:
            run_transition_task.apply_async(args=[transition_id], eta=due_at)
    return outcome


@shared_task(name="transitions.reconcile", ignore_result=True)
def reconcile_task() -> dict:
    return services.reconcile()



@shared_task(name="transitions.publish_plan", ignore_result=True)
def publish_plan_task(event_id: int) -> None:
    """One plan push for all transitions of an event that took effect in the last moment."""
    services.publish_plan_now(event_id)
