"""Build the check files: the references file (every case, secret) and the public checks.

For every unit of ``assignment.units.UNITS`` and every case of it: the inputs
(``inputs.make_inputs``, from the case's seed, ``seeds``), the expected
outputs (the answer key, ``solution.reference()``, in float64) and the
outputs of the known mistakes that differ from them (``mistakes``, shown as
hints). The file layout is ``assignment.checks``'s.

    build_public_checks()           -> assignment/public_checks.npz (committed; a test
                                       proves it is what this build gives)
    build_references(secret, path)  -> every case with its expected outputs, for the
                                       scorer (never released, never in a sandbox)
    python -m autograder.answer_key.check_files   rebuilds the public file
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assignment import checks
from assignment.formats.check_file import CheckCase, UnitChecks, read_check_file, write_check_file
from assignment.units import NOTEBOOKS, UNITS, Case

from .inputs import case_settings, make_inputs
from .mistakes import mistakes_for
from .seeds import hidden_seed, public_seed, secret_fingerprint
from .solution import reference

__all__ = ["build_references", "build_public_checks", "load_cases"]


def _label(case: Case, hidden_number: int) -> str:
    if not case.hidden:
        return "public case" + (f" ({case.cell_type.upper()} cell)" if case.cell_type else "")
    return f"hidden case {hidden_number} ({case.note})"


def _build_case(name, case: Case, seed: int, label: str) -> CheckCase:
    unit = UNITS[name]
    inputs = make_inputs(name, case, np.random.default_rng(seed))
    settings = case_settings(case)
    right = checks.execute(name, reference()[unit.obj], inputs, settings)
    expected = {k: np.asarray(v, dtype=np.int32 if k == "captions" else np.float64)
                for k, v in right.outputs.items()}
    stored = CheckCase(label, case.hidden, dict(case.dims), settings, inputs, expected, {})
    end = settings.get("words", []).index("<END>") if "words" in settings else None
    for mistake in mistakes_for(name):
        try:
            wrong = checks.execute(name, mistake.impl, inputs, settings).outputs
        except checks.StudentCodeError:
            continue  # e.g. a transposed Wx when D != H: a shape error, not a hint
        differs = {k: np.asarray(v) for k, v in wrong.items()
                   if not checks.compare(k, np.asarray(v), expected[k], unit.tolerance,
                                         end_token=end).ok}
        if differs:
            stored.mistakes[mistake.name] = differs
    return stored


def _build(secret, include_hidden) -> dict:
    units = {}
    for name, unit in UNITS.items():
        cases, hidden_number = [], 0
        for index, case in enumerate(unit.cases):
            if case.hidden and not include_hidden:
                continue
            hidden_number += case.hidden
            seed = hidden_seed(secret, name, index) if case.hidden else public_seed(name, index)
            cases.append(_build_case(name, case, seed, _label(case, hidden_number)))
        units[name] = UnitChecks(name, unit.notebook, unit.obj, dict(unit.outputs),
                                 unit.tolerance, {m.name: m.hint for m in mistakes_for(name)},
                                 cases)
    return units


def build_references(secret: bytes, path) -> Path:
    """Write every unit's public and hidden cases, with expected outputs, to ``path``.

    The file holds the hidden inputs and answers: keep it with the course
    secret, never in the release or a grading sandbox. ``autograder.grading.scoring``
    reads it (outside the student's kernel).
    """
    header = {"kind": "references", "secret_fingerprint": secret_fingerprint(secret),
              "total_points": {nb: sum(u.points for u in UNITS.values() if u.notebook == nb)
                               for nb in NOTEBOOKS}}
    return write_check_file(path, header, _build(secret, include_hidden=True))


def build_public_checks(path=checks.PUBLIC_CHECKS) -> Path:
    """Write only the public cases (fixed seeds) to ``assignment/public_checks.npz``."""
    return write_check_file(path, {"kind": "public"}, _build(None, include_hidden=False))


def load_cases(path) -> dict:
    """Read a file written by build_references or build_public_checks: {unit: UnitChecks}."""
    return read_check_file(path)[1]


if __name__ == "__main__":
    print(f"wrote {build_public_checks()}")
