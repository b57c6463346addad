"""Score one unit from what the student's kernel recorded: ``score_unit(unit, cell_outputs, references)``.

Instructor-only; runs outside any sandbox (the grading coordinator, or the
trusted fallback of ``rnn_grading_kernel``). The student's kernel only ran
the code and published a record (autograder/kernel/rnn_grading_kernel.py,
docs/grading-design.md); here the record is checked and judged against the
references file (``answer_key.check_files.build_references``) with the same judge as the
students' own check (``assignment.checks.judge_case``).

Rules:
* an output earns its points only if it is right on every case;
* a backward unit was run on the grader's caches (made by the reference
  forward pass on the case's hidden inputs), so its gradients are judged
  against the reference alone: a wrong forward pass costs only its own unit;
* a unit that uses other student functions was run twice, with replay stubs
  of the reference and with the student's own functions: right either way is
  right (one mistake is charged once); a unit without helpers has one run;
* a loss that equals the loss of a known mistake keeps the gradients that
  equal that same mistake's gradients (``checks.judge_case``; the mistakes'
  outputs are in the references file only);
* the only thing believed from a record is the student's outputs on the
  hidden inputs, each judged against values the sandbox never holds; every
  other field (failures, in-place changes, printing, warnings, an instructor
  file opened) can only take points away or add feedback text;
* the record is untrusted input: the first valid record of the unit in the
  cell's outputs counts; anything malformed (bad JSON or base64, pickles,
  wrong shapes or dtypes, NaN, huge arrays, extra keys) is never unpickled,
  never crashes the scorer and never earns more than the points of what it
  shows right; no valid record earns 0 with a clear reason;
* the feedback never shows a hidden input or value: only which output, which
  case (by its shape), the relative error and the hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assignment import checks
from assignment.checks import PROTOCOLS
from assignment.formats.check_file import read_check_file
from assignment.formats.record import BadRecord, clean_text, read_record, records_in
from assignment.units import UNITS

__all__ = ["OutputScore", "UnitScore", "score_unit", "ScoringSetupError"]


class ScoringSetupError(RuntimeError):
    """The references file is missing or does not fit (instructor-side problem)."""


@dataclass
class OutputScore:
    """The points of one graded output."""

    name: str
    earned: float
    points: float
    message: str   # "right on all N cases", or what is wrong and the hint (no hidden values)


@dataclass
class UnitScore:
    """The score of one graded test cell."""

    unit: str
    notebook: str
    grade_id: str            # f"test_{unit}"
    score: float
    total: float
    lines: list = field(default_factory=list)     # the feedback shown to the student
    outputs: list = field(default_factory=list)   # [OutputScore] in UNITS order


# ------------------------------------------------------------------ references

_loaded = {}


def _references(path) -> tuple[dict, dict]:
    """(header, {unit: UnitChecks}) of the references file, read once per version of it."""
    path = Path(path)
    if not path.is_file():
        raise ScoringSetupError(f"references file not found: {path}. Build it with "
                                "`rnn-assignment release` (answer_key.check_files.build_references).")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _loaded:
        try:
            header, units = read_check_file(path)
        except Exception as err:
            raise ScoringSetupError(f"{path} cannot be read: {err}") from None
        if header.get("kind") != "references":
            raise ScoringSetupError(f"{path} holds only the public cases; scoring needs the "
                                    "references file (answer_key.check_files.build_references).")
        for name, unit in UNITS.items():
            if name not in units or units[name].points != dict(unit.outputs):
                raise ScoringSetupError(f"{path} is out of date (unit {name} differs from "
                                        "assignment/units.py): rebuild it.")
        _loaded.clear()
        _loaded[key] = (header, units)
    return _loaded[key]


# --------------------------------------------------------------------- judging


def _placeholder_verdict(name, placeholder, expected):
    kind, detail = placeholder.type_name
    if kind == "too_large":
        return checks.Verdict(name, False, f"has shape {detail}; expected {expected.shape} "
                                           "(too large to record)")
    if kind == "dtype":
        return checks.Verdict(name, False, f"has dtype {detail}, not numbers")
    return checks.Verdict(name, False, f"is a {detail or 'value'}, not an array of numbers")


def _judge(unit_checks, case, run):
    with np.errstate(all="ignore"):  # forged values may overflow; the verdict says so
        result = checks.judge_case(unit_checks, case, run, hidden=True)
    for name, placeholder in getattr(run, "placeholders", {}).items():
        result.verdicts[name] = _placeholder_verdict(name, placeholder, case.expected[name])
    return result


def _merge(first, second):
    """Per output: right with the replay stubs or with the student's own functions."""
    if second is None:
        return first
    shown = second if sum(v.ok for v in second.verdicts.values()) > \
        sum(v.ok for v in first.verdicts.values()) else first
    merged = checks.CaseResult(first.case, dict(shown.verdicts), shown.failure,
                               list(shown.notes), shown.captured)
    for result in (first, second):
        for name, verdict in result.verdicts.items():
            if verdict.ok:
                merged.verdicts[name] = verdict
    if merged.ok:
        merged.failure = None
    return merged


def _points(x) -> str:
    return f"{x:g}"


def _feedback(unit_checks, results) -> tuple[float, list, list]:
    """The score, the feedback table (no hidden values) and the OutputScores."""
    unit = unit_checks.unit
    n_hidden = sum(r.case.hidden for r in results)
    n_public = len(results) - n_hidden
    lines = [f"Hidden tests of {unit} ({_points(unit_checks.total)} points): "
             f"{'the public case' if n_public == 1 else f'{n_public} public cases'} and "
             f"{n_hidden} hidden cases with other shapes."]
    width = max([len(k) for k in unit_checks.points] + [len("output")])
    lines.append(f"  {'output':<{width}}  points  result")
    score, outputs = 0.0, []
    one_reason = all(r.failure is not None and not any(v.ok for v in r.verdicts.values())
                     for r in results) and len({r.failure.message for r in results}) == 1
    if one_reason:  # not implemented, the same exception on every case: one line
        message = f"{results[0].failure.message} (on every case)"
        lines.append(f"  {'all':<{width}}  0 / {_points(unit_checks.total):<2} {message}")
        outputs = [OutputScore(k, 0.0, float(v), message) for k, v in unit_checks.points.items()]
    else:
        for name, points in unit_checks.points.items():
            wrong = [r for r in results if not r.verdicts[name].ok]
            earned = 0.0 if wrong else float(points)
            score += earned
            head = f"  {name:<{width}}  {_points(earned):>2} / {_points(points):<2}"
            if not wrong:
                message = f"right on all {len(results)} cases"
                lines.append(f"{head} {message}")
                outputs.append(OutputScore(name, earned, float(points), message))
                continue
            verdict = wrong[0].verdicts[name]
            message = f"wrong on the {wrong[0].case.label}: {verdict.problem}"
            lines.append(f"{head} {message}")
            hinted = next((r for r in wrong if r.verdicts[name].hint), None)
            if hinted is not None:  # the first case with a hint (a shape error has none)
                where = "" if hinted is wrong[0] else f" (from the {hinted.case.label})"
                hint = f"hint{where}: {hinted.verdicts[name].hint}"
                lines.append(f"  {'':<{width}}           {hint}")
                message += f"; {hint}"
            if len(wrong) > 1:
                lines.append(f"  {'':<{width}}           (wrong on {len(wrong)} of the "
                             f"{len(results)} cases)")
            outputs.append(OutputScore(name, earned, float(points), message))
    notes = {}  # note -> the cases it was made on
    for r in results:
        for note in r.notes + r.captured.summary():
            notes.setdefault(checks.mask_numbers(note), []).append(r.case.label)
    for text, labels in list(notes.items())[:10]:
        more = f" and {len(labels) - 1} more case(s)" if len(labels) > 1 else ""
        lines.append(f"  note ({labels[0]}{more}): {text}")
    lines.append(f"{unit}: {_points(score)} / {_points(unit_checks.total)} points")
    return score, lines, outputs


def _not_run(unit, unit_checks, reason) -> UnitScore:
    points = unit_checks.points
    return UnitScore(unit, UNITS[unit].notebook, f"test_{unit}", 0.0, unit_checks.total,
                     [f"Hidden tests of {unit} ({_points(unit_checks.total)} points): not "
                      f"graded, because {reason}.",
                      f"{unit}: 0 / {_points(unit_checks.total)} points"],
                     [OutputScore(k, 0.0, float(v), reason) for k, v in points.items()])


def _reason_from_outputs(cell_outputs) -> str:
    for output in cell_outputs if isinstance(cell_outputs, (list, tuple)) else ():
        if isinstance(output, dict) and output.get("output_type") == "error":
            name = output.get("ename")
            value = output.get("evalue")
            name = re.sub(r"[^\w.]", "", name)[:60] if isinstance(name, str) else "an error"
            value = clean_text(value, 200) if isinstance(value, str) else ""
            return f"the test cell raised {name}" + (f": {value}" if value else "")
    return "no result was recorded (was the cell run to the end?)"


def score_unit(unit: str, cell_outputs: list, references_path, *,
               not_run_reason: str | None = None) -> UnitScore:
    """Score the graded test cell of ``unit`` from its executed outputs (nbformat dicts).

    Inputs:
        unit: a name from assignment.units.UNITS, e.g. "rnn_step_backward"
        cell_outputs: the executed test cell's ``outputs`` list
        references_path: the references file (answer_key.check_files.build_references)
        not_run_reason: why the cell has no result, when the caller knows
            (kernel died, cell deleted); used when no valid record is found
    Returns:
        a UnitScore; 0 <= score <= total always, whatever the outputs hold.
    Raises ScoringSetupError only when the references are missing or out of
    date, or the unit is unknown; never because of what the outputs hold.
    """
    if unit not in UNITS:
        raise ScoringSetupError(f"Unknown unit {unit!r}; the units are {', '.join(UNITS)}.")
    header, units = _references(references_path)
    unit_checks = units[unit]
    runs = None
    for record in records_in(cell_outputs):
        try:
            runs = read_record(record, unit, PROTOCOLS[unit], len(unit_checks.cases),
                               header.get("secret_fingerprint"), with_stubs=bool(UNITS[unit].uses))
            break
        except BadRecord:
            continue
        except Exception:  # anything else odd in a forged record: the same
            continue
    if runs is None:
        return _not_run(unit, unit_checks, not_run_reason or _reason_from_outputs(cell_outputs))
    try:
        judged = [[_judge(unit_checks, case, run) for case, run in zip(unit_checks.cases, r)]
                  for r in runs]
    except Exception as err:  # a value the judge cannot handle: no points, say so
        return _not_run(unit, unit_checks, "its recorded results could not be judged "
                        f"({type(err).__name__}); please tell the course staff")
    second = judged[1] if len(judged) > 1 else [None] * len(judged[0])
    results = [_merge(a, b) for a, b in zip(judged[0], second)]
    score, lines, outputs = _feedback(unit_checks, results)
    score = float(min(max(score, 0.0), unit_checks.total))
    return UnitScore(unit, UNITS[unit].notebook, f"test_{unit}", score, unit_checks.total,
                     lines, outputs)
