from django.core.management.base import BaseCommand, CommandError

from eventplatform.realtime import asyncapi


class Command(BaseCommand):
    help = "Write docs/protocol/asyncapi.json from the registered socket message schemas."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="fail if the committed document is stale")

    def handle(self, *args, check: bool, **options):
        text = asyncapi.render()
        path = asyncapi.DOCUMENT_PATH
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                raise CommandError(f"{path} is stale: run `make asyncapi` and commit it.")
            self.stdout.write("asyncapi.json is up to date")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {path}")
