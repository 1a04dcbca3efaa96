"""Real Celery processes (worker, beat) on the test database and the real Redis broker."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import process_env

ROOT = Path(__file__).resolve().parents[2]
# Short lease and sweep so a dead worker's transition is taken over within seconds.
FAST = {"TRANSITIONS_LEASE_SECONDS": "3", "TRANSITIONS_RECONCILE_SECONDS": "1", "TRANSITIONS_RESEND_SECONDS": "2"}


@pytest.fixture
def celery_procs(transactional_db, tmp_path):
    """`celery_procs("worker")` / `celery_procs("beat")` start a real process; all are stopped after."""
    started: list[subprocess.Popen] = []

    def _start(kind: str, **env) -> subprocess.Popen:
        n = len(started)
        log_path = tmp_path / f"{kind}-{n}.log"
        if kind == "worker":
            args = ["worker", "--pool=solo", "-n", f"transitions{n}@%h", "--without-gossip", "--without-mingle",
                    "--without-heartbeat", "-l", "info"]
        else:
            args = ["beat", "-l", "info", "-s", str(tmp_path / f"beat-schedule-{n}")]
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.transitions.worker_app", *args],
            env=process_env(**FAST, **env), cwd=ROOT, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
        )
        process.log_path = log_path
        started.append(process)
        ready = "ready." if kind == "worker" else "beat: Starting"
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(log_path.read_text())
            if ready in log_path.read_text():
                return process
            time.sleep(0.1)
        raise RuntimeError(f"{kind} did not start in 40 s:\n{log_path.read_text()}")

    yield _start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
