"""Which way the imports point (DESIGN.md), and two house rules.

trials never reaches into screening: not by import (the pure rule engine, screening.rules,
excepted), not by name (`apps.get_model("screening", ...)`, `import_module("screening...")`, a
"screening.Model" reference) and not by a `screenings__` lookup. What trials needs of screening
is plugged in through trials' registries from screening/apps.py.

No view module imports another's views, and no services module imports DRF (services raise
Django's ValidationError; the API turns it into a 400).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = "screening.rules"
MODEL_REFERENCE = re.compile(r"screening\.[A-Z]\w*")


def _is_screening(module: str) -> bool:
    return (module == "screening" or module.startswith("screening.")) and module != ALLOWED


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _first_text(node: ast.Call) -> str | None:
    first = node.args[0] if node.args else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def violations(source: str) -> list[str]:
    """Every way this module reaches into screening, one line each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found += [f"{line}: import {a.name}" for a in node.names if _is_screening(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [f"{node.module}.{alias.name}" for alias in node.names]
            if node.module != "screening":
                modules = [node.module]
            found += [f"{line}: from-import {m}" for m in modules if _is_screening(m)]
        elif isinstance(node, ast.Call) and _called(node) == "get_model":
            text = _first_text(node)
            if text is not None and _is_screening(text.split(".")[0]):
                found.append(f"{line}: get_model({text!r})")
        elif isinstance(node, ast.Call) and _called(node) in ("import_module", "__import__"):
            text = _first_text(node)
            if text is not None and _is_screening(text):
                found.append(f"{line}: {_called(node)}({text!r})")
        elif isinstance(node, ast.keyword) and node.arg and "screenings__" in node.arg:
            found.append(f"{line}: lookup {node.arg}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "screenings__" in node.value:
                found.append(f"{line}: lookup {node.value!r}")
            elif MODEL_REFERENCE.fullmatch(node.value):
                found.append(f"{line}: model reference {node.value!r}")
    return found


def trials_modules() -> list[Path]:
    return sorted((ROOT / "trials").rglob("*.py"))


def test_trials_does_not_reach_into_screening():
    found = {
        str(path.relative_to(ROOT)): problems
        for path in trials_modules()
        if (problems := violations(path.read_text()))
    }
    assert found == {}
    assert len(trials_modules()) > 50  # the scan did read the app


@pytest.mark.parametrize(
    "source",
    [
        "import screening.models",
        "import screening",
        "from screening import models",
        "from screening import rules, services",
        "from screening.models import Screening",
        "from screening.eligibility import evaluator_for",
        "apps.get_model('screening', 'Screening')",
        "apps.get_model('screening.Screening')",
        "get_model('screening', 'Screening')",
        "import_module('screening.serializers')",
        "importlib.import_module('screening')",
        "__import__('screening.api')",
        "Participant.objects.filter(screenings__isnull=False)",
        "Participant.objects.annotate(c=F('screenings__failed'))",
        "Participant.objects.filter(**{'screenings__closed_at': None})",
        "models.ForeignKey('screening.Screening', on_delete=models.PROTECT)",
    ],
)
def test_each_way_of_reaching_into_screening_is_caught(source):
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        "from screening.rules import FIELD_TYPES, rule_errors",
        "from screening import rules",
        "import screening.rules",
        "content['screening']['criteria']",
        "'Render a path as screening.criteria[3].rule'",
        "Participant.Status.SCREENING",
        "from .screening import thing",
    ],
)
def test_the_rule_engine_and_the_word_screening_are_allowed(source):
    assert violations(source) == []


def _imported(source: str) -> list[str]:
    """The modules a source imports (for `from package import name`, package.name too)."""
    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return modules


def view_imports(source: str) -> list[str]:
    """The view modules a view module imports: feature packages never use each other's views."""
    ours = [m for m in _imported(source) if m.split(".")[0] in ("trials", "screening")]
    return [m for m in ours if m.endswith(".views") or ".views." in m]


def drf_imports(source: str) -> list[str]:
    """What a services module imports of DRF: services raise Django's ValidationError."""
    return [m for m in _imported(source) if m.split(".")[0] == "rest_framework"]


def app_modules(name: str) -> list[Path]:
    return sorted([*(ROOT / "trials").rglob(name), *(ROOT / "screening").rglob(name)])


def test_no_view_module_imports_another():
    found = {
        str(path.relative_to(ROOT)): problems
        for path in app_modules("views.py")
        if (problems := view_imports(path.read_text()))
    }
    assert found == {}
    assert len(app_modules("views.py")) >= 7  # every views module was read


def test_services_raise_djangos_validation_error_never_drfs():
    found = {
        str(path.relative_to(ROOT)): problems
        for path in app_modules("services.py")
        if (problems := drf_imports(path.read_text()))
    }
    assert found == {}
    assert len(app_modules("services.py")) >= 9


@pytest.mark.parametrize(
    ("check", "source"),
    [
        (view_imports, "from trials.sessions.views import visit_book"),
        (view_imports, "from trials.enrollment import views"),
        (view_imports, "import trials.safety.views"),
        (drf_imports, "from rest_framework import serializers"),
        (drf_imports, "from rest_framework.exceptions import ValidationError"),
        (drf_imports, "import rest_framework"),
    ],
)
def test_each_break_of_a_house_rule_is_caught(check, source):
    assert check(source)


@pytest.mark.parametrize(
    ("check", "source"),
    [
        (view_imports, "from django.contrib.auth import views as auth_views"),
        (view_imports, "from trials.participants.actions import participant_for_action"),
        (drf_imports, "from django.core.exceptions import ValidationError"),
    ],
)
def test_what_the_house_rules_allow_passes(check, source):
    assert check(source) == []
