"""The wire formats (assignment/formats): each written and read by one module, its constants once.

* every format's name, MIME type and environment variable is spelt out in
  its own module only, in the whole product (the kernel, the scorer and the
  grader import it);
* the grading inputs round-trip: what the writer stores is what the kernel's
  reader gives back (inputs, caches, settings), and the same cases give the
  same bytes;
* the record round-trips: what the kernel records (arrays, a missing output,
  a value that is no array, one too large to copy) is what the scorer reads,
  and a record of another course, unit or run layout is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from assignment import caches
from assignment.checks import PROTOCOLS, Captured, CaseRun, Execution, StudentCodeError, TooLarge
from assignment.formats import check_file, grading_inputs, record
from assignment.formats.check_file import read_check_file
from assignment.formats.grading_inputs import GradingInputsWriter, read_grading_inputs
from assignment.formats.record import (BadRecord, Placeholder, build_record, read_record,
                                       record_bundle, records_in)

REPO = Path(__file__).resolve().parents[1]
PUBLIC = REPO / "assignment" / "public_checks.npz"

CONSTANTS = {
    check_file: ("FILE_FORMAT", "REFERENCES_ENV"),
    grading_inputs: ("INPUTS_FORMAT", "INPUTS_ENV"),
    record: ("RECORD_MIME", "RECORD_FORMAT"),
}


@pytest.mark.parametrize("module", CONSTANTS, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_each_format_constant_is_written_out_in_its_own_module_only(module):
    product = [path for top in ("assignment", "autograder")
               for path in sorted((REPO / top).rglob("*.py"))]
    for name in CONSTANTS[module]:
        value = getattr(module, name)
        quoted = re.compile(r"""["']""" + re.escape(value) + r"""["']""")
        holders = [p.relative_to(REPO).as_posix() for p in product if quoted.search(p.read_text())]
        assert holders == [Path(module.__file__).relative_to(REPO).as_posix()], (name, holders)


def _public_units():
    return read_check_file(PUBLIC)[1]


def test_grading_inputs_give_back_what_was_written_and_the_same_bytes_twice(tmp_path):
    units = _public_units()
    chosen = ("rnn_step_backward", "captioning_loss")   # a cache; settings and integer captions
    paths = []
    for attempt in range(2):
        writer = GradingInputsWriter("fingerprint")
        for name in chosen:
            writer.add_unit(name, ())
            for case in units[name].cases:
                writer.add_case(name, case, [])
        paths.append(writer.write(tmp_path / f"inputs{attempt}.npz"))
    assert paths[0].read_bytes() == paths[1].read_bytes()

    read = read_grading_inputs(paths[0])
    assert read.fingerprint == "fingerprint" and set(read.units) == set(chosen)
    for name in chosen:
        assert read.uses(name) == []
        for case, back in zip(units[name].cases, read.cases(name)):
            assert back.settings == case.settings and back.calls == []
            assert set(back.inputs) == set(case.inputs)
            for key, value in case.inputs.items():
                if key == "cache":
                    assert type(back.inputs[key]) is type(value)
                    assert caches.to_arrays(back.inputs[key])[0] == caches.to_arrays(value)[0]
                    for a, b in zip(back.inputs[key], value):
                        assert np.array_equal(a, b)
                else:
                    assert back.inputs[key].dtype == value.dtype
                    assert np.array_equal(back.inputs[key], value)


def test_a_check_file_is_not_taken_for_grading_inputs():
    with pytest.raises(grading_inputs.GradingInputsError, match="not a grading-inputs file"):
        read_grading_inputs(PUBLIC)


def _recorded(unit, outputs):
    """A record of one run whose every case gave ``outputs``, as the kernel publishes it."""
    n = len(_public_units()[unit].cases)
    runs = [(False, [(CaseRun(Execution(dict(outputs)), captured=Captured()), False)] * n)]
    return build_record(unit, runs, "fp"), n


def test_a_record_gives_the_scorer_what_the_kernel_ran_into():
    outputs = {"dx": np.arange(6.0).reshape(2, 3), "dprev_h": None, "dWx": "a string",
               "dWh": TooLarge((5000, 5000), "float64", 25_000_000),
               "db": np.array(["a"], dtype=object)}
    rec, n = _recorded("rnn_step_backward", outputs)
    bundle = record_bundle("rnn_step_backward", rec)
    (found,) = records_in([{"output_type": "display_data", "data": bundle}])
    (run,) = read_record(found, "rnn_step_backward", PROTOCOLS["rnn_step_backward"], n, "fp",
                         with_stubs=False)
    case = run[0]
    assert np.array_equal(case.execution.outputs["dx"], outputs["dx"])
    assert case.execution.outputs["dprev_h"] is None
    placeholders = {k: v.type_name for k, v in case.placeholders.items()}
    assert placeholders == {"dWx": ("type", "str"), "dWh": ("too_large", (5000, 5000)),
                            "db": ("dtype", "object")}
    assert all(isinstance(v, Placeholder) for v in case.placeholders.values())


def test_a_failure_is_recorded_with_its_numbers_masked():
    n = len(_public_units()["rnn_forward"].cases)
    failure = StudentCodeError("rnn_forward raised ValueError: 0.12345 is bad", timed_out=True)
    rec = build_record("rnn_forward", [(False, [(CaseRun(failure=failure), False)] * n)], "fp")
    (run,) = read_record(rec, "rnn_forward", PROTOCOLS["rnn_forward"], n, "fp", with_stubs=False)
    assert run[0].execution is None and run[0].failure.timed_out
    assert run[0].failure.message == "rnn_forward raised ValueError: <number> is bad"


@pytest.mark.parametrize("change, reason", [
    (dict(unit="rnn_forward"), "another unit"),
    (dict(secret_fingerprint="other"), "another course"),
    (dict(version=record.RECORD_VERSION + 1), "not a record"),
], ids=["unit", "course", "version"])
def test_a_record_of_another_unit_course_or_version_is_refused(change, reason):
    rec, n = _recorded("rnn_step_backward", {"dx": np.zeros(3)})
    with pytest.raises(BadRecord, match=reason):
        read_record(dict(rec, **change), "rnn_step_backward", PROTOCOLS["rnn_step_backward"], n,
                    "fp", with_stubs=False)


def test_a_record_without_the_replay_run_is_refused_for_a_unit_with_helpers():
    rec, n = _recorded("rnn_step_backward", {"dx": np.zeros(3)})
    with pytest.raises(BadRecord, match="runs expected"):
        read_record(rec, "rnn_step_backward", PROTOCOLS["rnn_step_backward"], n, "fp",
                    with_stubs=True)
