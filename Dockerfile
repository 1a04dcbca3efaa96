# syntax=docker/dockerfile:1
# One image for every eventplatform process (web, worker, beat, migrate); docker-compose.yml
# picks the command. Build: `docker compose build` (or `docker build -t eventplatform .`).

# The uv that wrote uv.lock; an older uv may refuse a newer lock format.
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# --- frontend: Vite + Vue, built to frontend/dist ------------------------------------------
FROM node:20-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- the Python application ----------------------------------------------------------------
FROM python:3.11-slim AS app

COPY --from=uv /uv /uvx /usr/local/bin/

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PATH="/app/.venv/bin:${PATH}" \
    DJANGO_SETTINGS_MODULE=eventplatform.settings \
    EP_STATE_DIR=/app/state

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev

COPY . .
COPY --from=frontend /src/frontend/dist frontend/dist

# With DEBUG off the settings refuse to load without SECRET_KEY and ALLOWED_HOSTS. These
# dummy values exist for this one RUN only and never reach the image's environment.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/state \
    && chown app:app /app/state

# Code and static files stay owned by root (read-only for the app); only state/ is writable
# (SQLite and the dev secret key live there when DATABASE_URL/SECRET_KEY are not given).
USER app

EXPOSE 8000
# --proxy-headers: the client address comes from X-Forwarded-For set by the reverse proxy;
# the web containers are reachable only through it.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "eventplatform.asgi:application"]
