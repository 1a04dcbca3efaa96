"""The web process sets the garbage collector's thresholds from WEB_GC_THRESHOLDS (decision 0005)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import gc, eventplatform.asgi; print(gc.get_threshold())"


def _web_process(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "WEB_GC_THRESHOLDS"}
    environment.update(DJANGO_SETTINGS_MODULE="eventplatform.settings", DEBUG="1", **env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=120)


def test_the_web_process_makes_full_collections_rarer_by_default():
    loaded = _web_process()
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().splitlines()[-1] == "(700, 10, 100)"


def test_thresholds_come_from_the_environment():
    loaded = _web_process(WEB_GC_THRESHOLDS="500,5,50")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip().splitlines()[-1] == "(500, 5, 50)"


def test_a_bad_setting_stops_the_start_with_a_clear_message():
    loaded = _web_process(WEB_GC_THRESHOLDS="700,10")
    assert loaded.returncode != 0
    assert "WEB_GC_THRESHOLDS must be three positive integers" in loaded.stderr
