"""Dry run: many candidates' screening data in, one verdict per line out. Nothing is saved."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from screening.eligibility import INVALID, check_eligibility
from screening.serializers import CandidateSerializer, json_kind
from trials.study.models import ProtocolVersion, Trial


class Command(BaseCommand):
    help = (
        'Evaluate a JSON list of {"id": ..., "data": {field: value}} under a trial\'s protocol and '
        "print one JSON verdict per line, in input order. Nothing is saved."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("trial_code", help="The trial's code, for example MAPP1.")
        parser.add_argument(
            "path", type=Path, help='A JSON file: a list of {"id": ..., "data": {...}} objects.'
        )
        parser.add_argument(
            "--protocol-version",
            type=int,
            metavar="N",
            help="Evaluate under version N instead of the trial's current version.",
        )

    def handle(
        self,
        *args: object,
        trial_code: str,
        path: Path,
        protocol_version: int | None,
        **options: object,
    ) -> None:
        version = protocol_version_of(trial_code, protocol_version)
        for entry in read_candidates(path):
            self.stdout.write(json.dumps(verdict_line(version, entry)))
            self.stdout.flush()


def protocol_version_of(trial_code: str, number: int | None) -> ProtocolVersion:
    """The trial's version N, or its current one; a CommandError saying what is missing."""
    trial = Trial.objects.filter(code=trial_code).first()
    if trial is None:
        known = ", ".join(Trial.objects.values_list("code", flat=True)) or "none yet"
        raise CommandError(f"No trial with code {trial_code!r} (known trials: {known}).")
    if number is None:
        version = ProtocolVersion.objects.current_for(trial)
    else:
        version = trial.protocol_versions.filter(number=number).first()
    if version is None:
        raise CommandError(no_version_message(trial, number))
    return version


def no_version_message(trial: Trial, number: int | None) -> str:
    """Why the trial has no version to evaluate under, and what it has instead."""
    if number is None:
        return f"{trial.code} has no protocol version: load one with manage.py load_protocol."
    numbers = ", ".join(
        str(n) for n in trial.protocol_versions.order_by("number").values_list("number", flat=True)
    )
    return f"{trial.code} has no protocol version {number} (it has: {numbers or 'none'})."


def read_candidates(path: Path) -> list[Any]:
    """The file's JSON list of candidates; a CommandError naming the problem otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"{path}: cannot read the file: {error.strerror}.") from error
    except UnicodeDecodeError as error:
        raise CommandError(f"{path}: not UTF-8 text (byte {error.start}).") from error
    try:
        candidates = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(
            f"{path}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}."
        ) from error
    except RecursionError as error:
        raise CommandError(f"{path}: invalid JSON: nested too deeply.") from error
    except ValueError as error:
        raise CommandError(f"{path}: invalid JSON: {error}.") from error
    if not isinstance(candidates, list):
        raise CommandError(
            f'{path}: expected a JSON list of {{"id": ..., "data": {{...}}}} objects, '
            f"got {json_kind(candidates)}."
        )
    return candidates


def verdict_line(version: ProtocolVersion, entry: object) -> dict[str, Any]:
    """One candidate's output line; errors are keyed like the API's, by "id" and "data"."""
    candidate = CandidateSerializer(data=entry)
    if not candidate.is_valid():
        given_id = entry.get("id") if isinstance(entry, dict) else None
        return {
            "id": None if "id" in candidate.errors else given_id,
            "result": INVALID,
            "errors": candidate.errors,
            "protocol_version": version.number,
        }
    verdict = check_eligibility(version, candidate.validated_data["data"])
    if verdict["result"] == INVALID:
        verdict = {**verdict, "errors": {"data": verdict["errors"]}}
    return {"id": candidate.validated_data["id"], **verdict}
