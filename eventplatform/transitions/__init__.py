"""Schedule-driven session transitions: the agenda runs the event (README: "The agenda runs the event").

planning.py (pure rules: which transitions a session has and when) · models.py (the plan and
its audit log) · services.py (replan, overrides, run one transition) · tasks.py (Celery: run,
reconcile) · actions.py (the core's own agenda actions) · handlers.py (moderator overrides).
"""
