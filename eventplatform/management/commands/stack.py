"""`manage.py stack`: migrate, load the demo, and run web, worker and beat until Ctrl-C.

This is what `make run` calls (inside bin/with-redis, which supplies Redis).
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the whole platform for development: daphne, Celery worker and beat, stage relay."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo event")

    def handle(self, *args, host, port, no_demo, **options):
        if "PUBLIC_URL" not in os.environ:
            settings.PUBLIC_URL = f"http://{host}:{port}"  # the links `demo` prints
        call_command("migrate", interactive=False, verbosity=0)
        python = sys.executable
        processes = {
            "web": [python, "-m", "daphne", "-b", host, "-p", str(port), "eventplatform.asgi:application"],
            "worker": [python, "-m", "celery", "-A", "eventplatform", "worker", "-l", "warning", "-c", "2"],
            "beat": [
                python, "-m", "celery", "-A", "eventplatform", "beat", "-l", "warning",
                "-s", str(settings.STATE_DIR / "celerybeat-schedule"),
            ],
            "relay": [python, str(settings.BASE_DIR / "manage.py"), "relay"],  # the stage's WHIP/WHEP relay (streams app)
        }
        running = {name: subprocess.Popen(cmd) for name, cmd in processes.items()}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            self._wait_for_web(host, port, running["web"])
            if not no_demo:
                call_command("demo")
            self.stdout.write(self.style.SUCCESS(f"Running on http://{host}:{port}/ — Ctrl-C stops everything."))
            while not stopping:
                for name, process in running.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in running.values():
                if process.poll() is None:
                    process.terminate()
            for process in running.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

    def _wait_for_web(self, host: str, port: int, process) -> None:
        url = f"http://{host}:{port}/api/health/"
        for _ in range(100):
            if process.poll() is not None:
                raise SystemExit("the web server did not start")
            try:
                urllib.request.urlopen(url, timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the web server did not answer within 20 s")
