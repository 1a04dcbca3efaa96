"""Settings for eventplatform, read from the environment with embedded development defaults.

Development needs no configuration: the database is a SQLite file and the secret key is
generated once, both in the gitignored state folder. With DEBUG off (production) nothing
insecure is assumed: SECRET_KEY and ALLOWED_HOSTS must be given.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("EP_STATE_DIR", BASE_DIR / "state"))
STATE_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DEBUG = env_bool("DEBUG", False)

# The cyclic garbage collector's thresholds for the web processes (asgi.py; Python's default is
# 700, 10, 10). A full pass stops the event loop for as long as it walks every object created
# since start: 35–70 ms with 200 sockets on the 2-core machine. With 10, one came every few
# thousand promoted objects, e.g. right after a wave of joins, in the middle of the signalling
# burst that follows a move into breakout rooms; 100 makes them ten times rarer
# (docs/decisions/0005-garbage-collector-thresholds.md).
GC_THRESHOLDS = tuple(int(x) for x in env_list("WEB_GC_THRESHOLDS", ["700", "10", "100"]))
if len(GC_THRESHOLDS) != 3 or min(GC_THRESHOLDS) < 1:
    raise ImproperlyConfigured("WEB_GC_THRESHOLDS must be three positive integers, e.g. 700,10,100.")


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'`)."
        )
    # Development: one key per checkout, kept so sessions and ticket links survive restarts.
    key_file = STATE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
# Origins a browser may open the WebSocket and post forms from, e.g. https://events.example.org
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Public base URL for links printed by `manage.py demo` and sent in e-mails.
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "eventplatform.apps.CoreConfig",
    "rooms",
    "streams",
    "chat",
    "checkin",
    "barcamp",
]

# Django's middlewares as subclasses that run on daphne's event loop instead of hopping to a
# thread for each method (eventplatform/http_middleware.py, docs/decisions/0003).
MIDDLEWARE = [
    "eventplatform.http_middleware.SecurityMiddleware",
    "eventplatform.middleware.StaticFilesMiddleware",  # WhiteNoise, async-capable
    "eventplatform.http_middleware.SessionMiddleware",
    "eventplatform.http_middleware.LocaleMiddleware",
    "eventplatform.http_middleware.CommonMiddleware",
    "eventplatform.http_middleware.CsrfViewMiddleware",
    "eventplatform.http_middleware.AuthenticationMiddleware",
    "eventplatform.http_middleware.MessageMiddleware",
    "eventplatform.http_middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "eventplatform.urls"
ASGI_APPLICATION = "eventplatform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{STATE_DIR / 'db.sqlite3'}")
# Keep connections open between requests and socket messages (a join storm must not pay a
# new connection per join); health checks drop the ones the server closed.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 600), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets daphne, the worker and beat read while one of them writes.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory: integration tests start daphne and Celery processes that must
    # see the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(STATE_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, channels, celery -------------------------------------------------------------
# Unset: `make run` starts a private redis-server on this unix socket (bin/with-redis).
REDIS_URL = os.environ.get("REDIS_URL", f"unix://{STATE_DIR / 'redis.sock'}")
# Prefix for every key and pub/sub channel we own, so test runs and deployments sharing one
# Redis do not see each other.
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "ep")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # socket_timeout None: an idle consumer blocks on BLPOP longer than redis-py's
            # default read timeout would allow (see DESIGN.md, known pitfalls).
            "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            "prefix": f"{REDIS_PREFIX}:asgi",
            "capacity": 1000,
        },
    }
}

def _kombu_url(redis_url: str) -> str:
    # Kombu names a Redis unix socket redis+socket:// where redis-py says unix://.
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", _kombu_url(REDIS_URL))
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
CELERY_TIMEZONE = "UTC"

# --- realtime gateway ----------------------------------------------------------------------
REALTIME = {
    # Largest accepted client frame in bytes; larger frames get a `too_large` error reply.
    "MAX_FRAME_BYTES": env_int("WS_MAX_FRAME_BYTES", 64 * 1024),
    # Per connection: at most RATE_LIMIT messages per RATE_WINDOW seconds.
    "RATE_LIMIT": env_int("WS_RATE_LIMIT", 40),
    "RATE_WINDOW": env_int("WS_RATE_WINDOW", 10),
    # Per person, over all their tabs on every web process (counted in Redis): more tabs or a
    # reconnect to another process do not reset it.
    "RATE_LIMIT_PERSON": env_int("WS_RATE_LIMIT_PERSON", 100),
    # A process refreshes its connections' presence this often; an entry not refreshed for
    # PRESENCE_TTL seconds (its process died) no longer counts.
    "PRESENCE_REFRESH": env_int("WS_PRESENCE_REFRESH", 10),
    "PRESENCE_TTL": env_int("WS_PRESENCE_TTL", 30),
    # Presence updates to clients are coalesced to at most one per this many milliseconds.
    "PRESENCE_COALESCE_MS": env_int("WS_PRESENCE_COALESCE_MS", 500),
    # The snapshot and every presence update list at most this many online participants (the
    # count is always exact; moderators page through everyone with `presence.list`). Every
    # socket gets these updates, so a long list costs every join (docs/benchmarks.md).
    "PRESENCE_LIST_LIMIT": env_int("WS_PRESENCE_LIST_LIMIT", 20),
    # Pushes to a group with at least FANOUT_BATCH_FROM sockets in a process are written in
    # batches of FANOUT_BATCH_MS: everything for a socket in one write. A stage of thousands
    # pays the kernel per write, not per push (docs/benchmarks.md). Smaller groups (signalling,
    # a breakout room) go out at once. 0 turns batching off.
    "FANOUT_BATCH_MS": env_int("WS_FANOUT_BATCH_MS", 150),
    "FANOUT_BATCH_FROM": env_int("WS_FANOUT_BATCH_FROM", 200),
    # A socket whose client stopped reading is closed once this many bytes wait unsent for it
    # (it reconnects and resumes from the database); the server's memory stays bounded.
    "MAX_BUFFERED_BYTES": env_int("WS_MAX_BUFFERED_BYTES", 4 * 1024 * 1024),
}

# --- auth, sessions, security ------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "admin:login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 14 * 24 * 3600
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    # Behind a TLS-terminating proxy (docker-compose's Caddy); set SECURE_SSL_REDIRECT=0 to
    # run plain HTTP on a trusted network.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "eventplatform" / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Berlin"
USE_TZ = True

# --- static files ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [("app", FRONTEND_DIST)] if FRONTEND_DIST.exists() else []
# Vite names built assets with a content hash: browsers may keep them forever.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^.+/app/assets/.+-[0-9A-Za-z_-]{8}\.\w+$"
if DEBUG:
    STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise expects it; development serves from the finders
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "eventplatform@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- transitions ---
# Schedule-driven session transitions (eventplatform/transitions, README: "The agenda runs the event").
TRANSITIONS = {
    # A claimed transition whose worker has not finished it after this long is handed back.
    "LEASE_SECONDS": env_int("TRANSITIONS_LEASE_SECONDS", 30),
    # The reconciler (beat) runs this often: frees expired claims, sends what is due.
    "RECONCILE_SECONDS": float(os.environ.get("TRANSITIONS_RECONCILE_SECONDS", "2")),
    # ETA tasks are sent only this far ahead (far below the broker's visibility timeout).
    "HORIZON_SECONDS": env_int("TRANSITIONS_HORIZON_SECONDS", 60),
    # An overdue transition whose task was sent this long ago is sent again (lost task).
    # Long enough that a backlog in the queue is not mistaken for lost tasks and sent again.
    "RESEND_SECONDS": env_int("TRANSITIONS_RESEND_SECONDS", 15),
    # Transitions taking effect together make one plan push per event per this many ms.
    "PLAN_COALESCE_MS": env_int("TRANSITIONS_PLAN_COALESCE_MS", 250),
    "MAX_ATTEMPTS": env_int("TRANSITIONS_MAX_ATTEMPTS", 3),
    "TASK_TIME_LIMIT": env_int("TRANSITIONS_TASK_TIME_LIMIT", 120),
}
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "transitions.reconcile": {
        "task": "transitions.reconcile",
        "schedule": TRANSITIONS["RECONCILE_SECONDS"],
        "options": {"expires": TRANSITIONS["RECONCILE_SECONDS"]},
    },
}

# --- chat ---
CHAT = {
    # Longest chat message and question, in characters.
    "MESSAGE_MAX_LENGTH": env_int("CHAT_MESSAGE_MAX_LENGTH", 1000),
    "QUESTION_MAX_LENGTH": env_int("CHAT_QUESTION_MAX_LENGTH", 500),
    # An author may edit or delete their message for this many seconds after sending.
    "EDIT_WINDOW": env_int("CHAT_EDIT_WINDOW", 300),
    # Per person, beyond the gateway's generic limit: at most SEND_LIMIT messages and
    # questions per SEND_WINDOW seconds.
    "SEND_LIMIT": env_int("CHAT_SEND_LIMIT", 5),
    "SEND_WINDOW": env_int("CHAT_SEND_WINDOW", 10),
    # Reactions go out once per this many ms per stage; vote and poll counts at most this often.
    "REACTION_FLUSH_MS": env_int("CHAT_REACTION_FLUSH_MS", 1000),
    "COUNT_FLUSH_MS": env_int("CHAT_COUNT_FLUSH_MS", 1000),
    # The chat stream sends a delta of at most this many changes, else a fresh page.
    "RESUME_MAX": env_int("CHAT_RESUME_MAX", 500),
    "PAGE_SIZE": env_int("CHAT_PAGE_SIZE", 50),
}

# --- rooms ---
# Breakout rooms: a browser-to-browser mesh up to ROOMS_MESH_LIMIT people (4; at most 6, and
# then video is capped at 360p). STUN/TURN for the browsers: TURN_URLS is a comma list
# ("turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349"); credentials are
# signed per person with TURN_SECRET (coturn `use-auth-secret`) and expire after
# TURN_CREDENTIAL_TTL seconds.
ROOMS = {
    "MESH_LIMIT": max(2, min(6, env_int("ROOMS_MESH_LIMIT", 4))),
    "STUN_URLS": [u.strip() for u in os.environ.get("STUN_URLS", "").split(",") if u.strip()],
    "TURN_URLS": [u.strip() for u in os.environ.get("TURN_URLS", "").split(",") if u.strip()],
    "TURN_SECRET": os.environ.get("TURN_SECRET", ""),
    "TURN_CREDENTIAL_TTL": env_int("TURN_CREDENTIAL_TTL", 6 * 3600),
    # Largest SDP / ICE candidate a client may relay (a real offer with simulcast is ~10 KB).
    "MAX_SDP_BYTES": env_int("ROOMS_MAX_SDP_BYTES", 32 * 1024),
    "MAX_CANDIDATE_BYTES": 1024,
    # Warning before a round's end, in seconds.
    "WARNING_SECONDS": env_int("ROOMS_WARNING_SECONDS", 60),
}
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    # Catches a timer whose ETA task was lost (worker died, broker restarted).
    "rooms-reconcile-rounds": {"task": "rooms.tasks.reconcile_rounds", "schedule": 5.0},
}

# --- streams ---
# ICE servers for the stage relay's peer connections, as JSON
# (e.g. '[{"urls": "stun:turn.example.org:3478"}]'). Empty: host candidates only — right when
# the relay has a public address; never unset, or aiortc would ask a public STUN server.
import json  # noqa: E402  (this block is appended last)

STREAMS_ICE_SERVERS = json.loads(os.environ.get("STREAMS_ICE_SERVERS", "[]"))
STREAMS_RELAY_MAX_VIEWERS = env_int("STREAMS_RELAY_MAX_VIEWERS", 150)

# --- barcamp ---
# Live vote counts go out at most once per this many milliseconds per event (2 per second).
BARCAMP_VOTE_COALESCE_MS = env_int("BARCAMP_VOTE_COALESCE_MS", 500)
