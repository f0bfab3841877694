import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trials.study.protocol import ProtocolError
from trials.study.services import protocol_load


class Command(BaseCommand):
    help = "Validate a protocol file (YAML or JSON) and load it as its trial's next version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: object, path: Path, **options: object) -> None:
        try:
            content = path.read_bytes()
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}") from error
        try:
            version, created = protocol_load(
                content=content,
                filename=path.name,
                by=None,
                actor=f"{getpass.getuser()} (manage.py load_protocol)",
            )
        except ProtocolError as error:
            raise CommandError(
                f"{path}: not loaded, {len(error.errors)} error(s):\n" + str(error)
            ) from error
        self.stdout.write(version.summary(created=created))
