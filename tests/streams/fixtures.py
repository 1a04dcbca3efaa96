"""A real relay process for the stage tests (WHIP/WHEP through daphne and `manage.py relay`)."""

import subprocess
import sys

import pytest

from tests.conftest import process_env


@pytest.fixture
def relay(transactional_db, tmp_path):
    """`relay(**env)` starts `manage.py relay` on the test database and Redis."""
    started = []

    def _start(**extra_env):
        log = open(tmp_path / f"relay-{len(started)}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "relay", *extra_env.pop("args", [])],
            env=process_env(**extra_env), stdout=log, stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield _start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
