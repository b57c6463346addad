"""The answer key built from the notebooks, its overrides, the known mistakes and the input draws."""

from __future__ import annotations

import traceback

import numpy as np
import pytest

from assignment import checks
from assignment.units import UNITS, Captions, Normal, Uniform, WordIndices
from autograder.answer_key import solution
from autograder.answer_key.check_files import build_references, load_cases
from autograder.answer_key.inputs import case_settings, make_inputs
from autograder.answer_key.mistakes import MISTAKES
from autograder.answer_key.replay import EVERY_SAMPLING_STEP, record_calls
from autograder.answer_key.solution import Edit, build, reference

ref = reference()


@pytest.fixture(scope="module")
def every_case(tmp_path_factory):
    """Every case of every unit, public and hidden (a throwaway secret)."""
    path = tmp_path_factory.mktemp("answer_key") / "references.npz"
    return load_cases(build_references(b"test_answer_key secret", path))


def _sources():
    return {cell: source for _, cell, source in solution.solution_cells()}


# ------------------------------------------------------------------ the answer key


def test_the_answer_key_defines_every_object_the_units_grade():
    assert {unit.obj for unit in UNITS.values()} <= set(ref.names)
    assert set(ref.functions()) == set(ref.names)


def test_every_build_is_a_namespace_of_its_own():
    a, b = build(), build()
    assert a.rnn_forward is not b.rnn_forward
    assert a.rnn_forward.__globals__ is not b.rnn_forward.__globals__
    assert reference() is reference()


def test_a_traceback_names_the_notebook_cell_and_shows_its_line():
    with pytest.raises(ValueError) as info:
        ref.rnn_step_forward(np.ones((2, 3)), np.ones((2, 4)), np.ones((5, 4)), np.ones((4, 4)),
                             np.ones(4))
    frames = traceback.extract_tb(info.value.__traceback__)
    cell = next(f for f in frames if "RNN_Captioning.ipynb, cell rnn_step_forward_solution" in
                f.filename)
    assert "x @ Wx" in cell.line


def test_an_edit_must_match_its_cell_exactly_once():
    with pytest.raises(ValueError, match="occurs 0 times"):
        build((Edit("rnn_forward", "no such snippet", ""),))
    with pytest.raises(ValueError, match=r"occurs (?!1 )\d+ times"):
        build((Edit("rnn_backward", "dW", "dV"),))
    with pytest.raises(ValueError, match="no solution cell named lstm_sequence"):
        build((Edit("lstm_sequence", "a", "b"),))


def test_an_edited_step_is_what_the_sequence_function_of_the_same_build_calls():
    no_tanh = build((Edit("rnn_step_forward", "xp.tanh(x @ Wx + prev_h @ Wh + b)",
                          "x @ Wx + prev_h @ Wh + b"),))
    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 5)), rng.standard_normal(5)
    h, _ = no_tanh.rnn_forward(x, h0, Wx, Wh, b)
    assert np.allclose(h[:, 0], x[:, 0] @ Wx + h0 @ Wh + b)
    assert np.allclose(ref.rnn_forward(x, h0, Wx, Wh, b)[0][:, 0],
                       np.tanh(x[:, 0] @ Wx + h0 @ Wh + b))  # the answer key is untouched


def test_a_replaced_name_is_seen_by_its_callers_in_that_build_only():
    seen = []

    def spy(original):
        def step(*args):
            seen.append(args[0].shape)
            return original(*args)
        return step

    spied = build(replace={"rnn_step_forward": spy})
    x = np.zeros((2, 3, 4))
    spied.rnn_forward(x, np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5))
    assert seen == [(2, 4)] * 3
    ref.rnn_forward(x, np.zeros((2, 5)), np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5))
    assert len(seen) == 3
    with pytest.raises(ValueError, match="cannot replace 'np'"):
        build(replace={"np": spy})


# ------------------------------------------------------------------ known mistakes


@pytest.mark.parametrize("mistake", MISTAKES, ids=[f"{m.unit}-{m.name}" for m in MISTAKES])
def test_every_known_mistake_edit_applies_once_and_changes_an_output(mistake, every_case):
    sources = _sources()
    for edit in mistake.edits:
        assert sources[edit.cell].count(edit.old) == 1, (edit.cell, edit.old)
    assert mistake.impl is not ref[UNITS[mistake.unit].obj]
    changed = [c for c in every_case[mistake.unit].cases if mistake.name in c.mistakes]
    assert changed, f"{mistake.unit}/{mistake.name} changes no output on any case"
    public = [c for c in changed if not c.hidden]
    if not public:  # only a shape error on the public case, e.g. a transposed Wx with D != H
        case = every_case[mistake.unit].cases[0]
        with pytest.raises(checks.StudentCodeError):
            checks.execute(mistake.unit, mistake.impl, case.inputs, case.settings)


def test_mistake_names_are_unique_within_each_unit_and_every_hint_is_a_sentence():
    names = [(m.unit, m.name) for m in MISTAKES]
    assert len(names) == len(set(names))
    assert all(m.hint.endswith(".") and len(m.hint) > 30 for m in MISTAKES)


# ------------------------------------------------------------------ input draws


def _declared_shape(spec, case):
    sizes = dict(case.dims)
    cell_type = case.cell_type or dict(case.settings).get("cell_type")
    sizes["G"] = {"lstm": 4, "gru": 3}.get(cell_type, 1) * sizes.get("H", 0)
    shape = []
    for entry in spec.shape:
        if entry in ("T+1", "L-1"):
            shape.append(sizes[entry[0]] + int(entry[1:]))
        elif entry.isdigit():
            shape.append(int(entry))
        elif entry[0].isdigit():  # '4H': four times H
            shape.append(int(entry[:-1]) * sizes[entry[-1]])
        else:
            shape.append(sizes[entry])
    return tuple(shape)


@pytest.mark.parametrize("name", list(UNITS))
def test_every_case_is_drawn_as_its_unit_declares(name):
    unit = UNITS[name]
    for index, case in enumerate(unit.cases):
        inputs = make_inputs(name, case, np.random.default_rng(index))
        declared = {**unit.inputs, **unit.upstream}
        assert set(inputs) == set(declared) | ({"cache"} if unit.kind == "backward" else set())
        for key, spec in declared.items():
            assert inputs[key].shape == _declared_shape(spec, case), (key, case)
            kind = "i" if isinstance(spec, (WordIndices, Captions)) else "f"
            assert inputs[key].dtype.kind == kind and inputs[key].dtype.itemsize in (4, 8)
            if isinstance(spec, WordIndices):
                assert 0 <= inputs[key].min() and inputs[key].max() < case.dims["V"]
            if isinstance(spec, Uniform):
                assert 0 <= inputs[key].min() and inputs[key].max() < 1
            if isinstance(spec, Normal) and inputs[key].size > 1:
                assert np.isfinite(inputs[key]).all() and inputs[key].std() > 0
        if unit.kind == "backward":
            cache = ref[unit.forward](*(inputs[k] for k in unit.inputs), **dict(case.settings))[-1]
            assert type(inputs["cache"]) is type(cache)
        if case.cell_type:
            words = case_settings(case)["words"]
            assert len(words) == case.dims["V"] and words[:3] == ["<NULL>", "<START>", "<END>"]


def test_the_same_seed_draws_the_same_inputs():
    case = UNITS["lstm_backward"].cases[2]
    a = make_inputs("lstm_backward", case, np.random.default_rng(7))
    b = make_inputs("lstm_backward", case, np.random.default_rng(7))
    assert all(np.array_equal(a[k], b[k]) for k in a if k != "cache")


# ------------------------------------------------------------------ replay recording


def _sample_case():
    unit = UNITS["captioning_sample"]
    case = next(c for c in unit.cases if c.max_length == 20)
    return case, make_inputs("captioning_sample", case, np.random.default_rng(3))


def test_the_recorder_runs_every_sampling_step_and_the_answer_key_stops_early():
    case, inputs = _sample_case()
    settings = case_settings(case)
    calls = record_calls("captioning_sample", inputs, settings, lambda fn, args, result: fn)
    step = "lstm_step_forward" if case.cell_type == "lstm" else "rnn_step_forward"
    assert calls.count(step) == case.max_length
    seen = []
    counting = build(replace={step: lambda f: lambda *a: seen.append(1) or f(*a)})
    captions = checks.execute("captioning_sample", counting.CaptioningRNN, inputs,
                              settings).outputs["captions"]
    end = settings["words"].index("<END>")
    if (captions == end).any(axis=1).all():  # every caption ended before max_length
        assert len(seen) < case.max_length
    assert EVERY_SAMPLING_STEP.old in _sources()["captioning_model"]


def test_recorded_calls_come_in_the_order_they_return_with_nested_calls():
    unit = UNITS["rnn_forward"]
    case = unit.cases[0]
    inputs = make_inputs("rnn_forward", case, np.random.default_rng(0))
    calls = record_calls("rnn_forward", inputs, {}, lambda fn, args, result: (fn, args[0].shape))
    assert calls == [("rnn_step_forward", (case.dims["N"], case.dims["D"]))] * case.dims["T"]
