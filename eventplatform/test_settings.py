"""Settings for the test suite: the normal settings with test-run defaults from the environment.

Development defaults (DEBUG on, a generated key) so `pytest` needs no setup, and a Redis key
prefix of its own so a test run never sees a development server's keys on the same Redis.
"""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("REDIS_PREFIX", f"eptest{os.getpid()}")
os.environ.setdefault("EP_STATE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "state", "test"))

from eventplatform.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users

# One test database per run: a benchmark or a second run at the same time must not share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(STATE_DIR / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405

# Connections opened by the socket consumers' worker threads would otherwise outlive the test
# and keep PostgreSQL from dropping the test database at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
