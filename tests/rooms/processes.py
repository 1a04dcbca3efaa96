"""A real Celery worker on the test database, for the rooms' timer tests (unit and browser)."""

import subprocess
import sys
import time

import pytest

from tests.conftest import process_env


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "eventplatform", "worker", "--pool", "solo",
         "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=process_env(ROOMS_WARNING_SECONDS="2"),
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "ready" not in log.read_text():
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.2)
    yield process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
