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

import base64
import binascii
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assignment import checks
from assignment.checks import PROTOCOLS, Captured, CaseRun, Execution, StudentCodeError
from assignment.units import UNITS


__all__ = ["RECORD_MIME", "OutputScore", "UnitScore", "score_unit", "ScoringSetupError"]

RECORD_MIME = "application/vnd.rnn-assignment.record+json"
RECORD_FORMAT = "rnn-assignment-record"
RECORD_VERSION = 2  # as rnn_grading_kernel.RECORD_VERSION
MAX_RECORD_CHARS = 48 * 2 ** 20      # base64 text of one record
MAX_ARRAY_BYTES = 16 * 2 ** 20       # one array in a record
MAX_OUTPUT_ELEMENTS = 20_000         # as in the kernel: a right output has a few hundred


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
            header, units = checks.read_check_file(path)
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


# ------------------------------------------------------------- reading a record


class _BadRecord(Exception):
    """The record cannot be used (malformed, forged, another course)."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value, limit=300) -> str:
    """Untrusted text for the feedback: a string, no control characters, numbers masked."""
    if not isinstance(value, str):
        raise _BadRecord("text expected")
    return checks.mask_numbers(_CONTROL.sub("", value))[:limit]


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise _BadRecord("true or false expected")
    return value


def _arrays(blob) -> dict:
    """The arrays of a record: an uncompressed zip of .npy files, read without pickles."""
    if not isinstance(blob, str) or len(blob) > MAX_RECORD_CHARS:
        raise _BadRecord("arrays missing or too large")
    try:
        raw = base64.b64decode(blob.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _BadRecord("arrays are not base64") from None
    arrays = {}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            for info in zf.infolist():
                if info.file_size > MAX_ARRAY_BYTES or not info.filename.endswith(".npy"):
                    raise _BadRecord("an array is too large")
                with zf.open(info) as f:
                    a = np.lib.format.read_array(f, allow_pickle=False)
                if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf" \
                        or a.dtype.byteorder not in "=|" + ("<" if np.little_endian else ">"):
                    raise _BadRecord("an array is not plain numbers")
                arrays[info.filename[:-4]] = a
    except _BadRecord:
        raise
    except Exception:  # a broken zip, a pickle, a bad header: all the same to us
        raise _BadRecord("arrays cannot be read") from None
    return arrays


class _Placeholder:
    """Stands for an output that was not an array: ``compare`` names its type."""

    def __init__(self, type_name):
        self.type_name = type_name


def _value(entry, arrays):
    """One recorded value: an array, None (not returned) or a placeholder with its message."""
    if not isinstance(entry, dict):
        raise _BadRecord("value expected")
    if "array" in entry:
        a = arrays.get(entry["array"]) if isinstance(entry["array"], str) else None
        if a is None:
            raise _BadRecord("unknown array")
        if a.size > MAX_OUTPUT_ELEMENTS:
            return _Placeholder(("too_large", tuple(a.shape)))
        return a
    if entry.get("missing") is True:
        return None
    if "too_large" in entry or "dtype" in entry:
        shape = entry.get("shape")
        if not isinstance(shape, list) or len(shape) > 32 or \
                not all(isinstance(n, int) and 0 <= n < 2 ** 62 for n in shape):
            raise _BadRecord("bad shape")
        if "too_large" in entry:
            return _Placeholder(("too_large", tuple(shape)))
        return _Placeholder(("dtype", _text(entry["dtype"], 40)))
    if "type" in entry:
        return _Placeholder(("type", re.sub(r"[^\w.]", "", _text(entry["type"], 40))))
    raise _BadRecord("unknown value")


def _values(entries, names, arrays) -> dict:
    if not isinstance(entries, dict):
        raise _BadRecord("values expected")
    return {k: _value(entries[k], arrays) for k in names if k in entries}


def _names(value, allowed) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadRecord("names expected")
    return [v for v in value if v in allowed]


def _case_run(unit, entry, arrays) -> CaseRun:
    """A CaseRun from one untrusted case entry."""
    p = PROTOCOLS[unit]
    if not isinstance(entry, dict):
        raise _BadRecord("case expected")
    captured = Captured(stdout="yes" if _flag(entry.get("printed", False)) else "",
                        stderr="yes" if _flag(entry.get("stderr", False)) else "")
    warnings = entry.get("warnings", [])
    if not isinstance(warnings, list):
        raise _BadRecord("warnings expected")
    captured.warnings = [_text(w, 200) for w in warnings[:5]]
    if _flag(entry.get("opened_instructor_file", False)):
        return CaseRun(failure=StudentCodeError("your code opened an instructor file while it "
                                                "was graded: no credit"), captured=captured)
    failure = entry.get("failure")
    if failure is not None:
        if not isinstance(failure, dict):
            raise _BadRecord("failure expected")
        return CaseRun(failure=StudentCodeError(
            _text(failure.get("message")), not_implemented=_flag(failure.get("not_implemented")),
            timed_out=_flag(failure.get("timed_out"))), captured=captured)
    outputs = _values(entry.get("outputs"), p.outputs, arrays)
    placeholders = {k: v for k, v in outputs.items() if isinstance(v, _Placeholder)}
    outputs = {k: (None if k in placeholders else v) for k, v in outputs.items()}
    # in-place changes only add notes (and a hint to a wrong output)
    execution = Execution(outputs, _names(entry.get("changed", []), p.inputs),
                          _names(entry.get("changed_upstream", []), p.upstream))
    run = CaseRun(execution, captured=captured)
    run.placeholders = placeholders
    return run


def _parse(unit, record, unit_checks, fingerprint) -> list:
    """[run: [CaseRun per case]] from one record, or _BadRecord."""
    if isinstance(record, str):
        if len(record) > MAX_RECORD_CHARS:
            raise _BadRecord("too large")
        try:
            record = json.loads(record)
        except ValueError:
            raise _BadRecord("not JSON") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT \
            or record.get("version") != RECORD_VERSION:
        raise _BadRecord("not a record")
    if record.get("unit") != unit:
        raise _BadRecord("another unit")
    if record.get("secret_fingerprint") != fingerprint:
        raise _BadRecord("recorded on the inputs of another course")
    runs = record.get("runs")
    # the kernel's runs: [stubs] or [stubs, own functions] for a unit with helpers, [own]
    # otherwise; anything else could offer a second guess at the answers
    stubs = [r.get("stubs") if isinstance(r, dict) else None for r in runs] \
        if isinstance(runs, list) else None
    if stubs not in (([True], [True, False]) if UNITS[unit].uses else ([False],)):
        raise _BadRecord("runs expected")
    arrays = _arrays(record.get("arrays"))
    parsed = []
    for run in runs:
        cases = run.get("cases") if isinstance(run, dict) else None
        if not isinstance(cases, list) or len(cases) != len(unit_checks.cases):
            raise _BadRecord("one entry per case expected")
        parsed.append([_case_run(unit, e, arrays) for e in cases])
    return parsed


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
            value = _CONTROL.sub("", checks.mask_numbers(value))[:200] \
                if isinstance(value, str) else ""
            return f"the test cell raised {name}" + (f": {value}" if value else "")
    return "no result was recorded (was the cell run to the end?)"


def _records(cell_outputs):
    if not isinstance(cell_outputs, (list, tuple)):
        return
    for output in cell_outputs:
        if isinstance(output, dict) and output.get("output_type") in ("display_data",
                                                                      "execute_result"):
            data = output.get("data")
            if isinstance(data, dict) and RECORD_MIME in data:
                yield data[RECORD_MIME]


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
    for record in _records(cell_outputs):
        try:
            runs = _parse(unit, record, unit_checks, header.get("secret_fingerprint"))
            break
        except _BadRecord:
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
