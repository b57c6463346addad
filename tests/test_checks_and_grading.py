"""Local checks (assignment.checks.check_unit) and hidden grading (kernel record + scorer).

Real computations throughout: "students" are the reference solution, the
known mistakes of autograder/answer_key/mistakes.py, or small buggy functions written
here and run from their own namespace like notebook cells. What is checked
is what docs/grading-design.md promises:
* check_unit passes the reference on every unit, names the wrong output and
  the hint for every known mistake, turns NotImplementedError into a friendly
  line, captures stderr (Python and file descriptor 2) and warnings, and only
  prints while nbgrader autogrades;
* hidden grading (rnn_grading_kernel.grade_unit in the "kernel", here this
  process, then autograder.grading.scoring.score_unit on its record) never lets
  student code escape (exceptions, endless loops), restores the namespace,
  and never shows a hidden value (more in test_scoring.py);
* hidden inputs depend on the secret only; the committed public file is a
  fresh build.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from assignment import caches, checks
from assignment.caches import RNNStepCache
from assignment.checks import PROTOCOLS, check_unit
from assignment.formats.check_file import REFERENCES_ENV, read_check_file
from assignment.formats.grading_inputs import INPUTS_ENV
from assignment.layers import (
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
)
from assignment.units import UNITS
from autograder.answer_key.check_files import build_public_checks, build_references, load_cases
from autograder.answer_key.inputs import make_inputs
from autograder.answer_key.grading_inputs import build_grading_inputs
from autograder.answer_key.mistakes import MISTAKES
from autograder.answer_key.seeds import hidden_seed
from autograder.answer_key.solution import _setup as solution_setup
from autograder.answer_key.solution import reference, solution_cells
from autograder.grading.scoring import score_unit

# the kernel module is imported as a top-level module, as in a grading kernel
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autograder" / "kernel"))
import rnn_grading_kernel as kernel  # noqa: E402

ref = reference()
REFERENCE_FUNCTIONS = ref.functions()  # a notebook solved right

SECRET = b"test course secret"


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    return build_references(SECRET, tmp_path_factory.mktemp("refs") / "references.npz")


@pytest.fixture(scope="module")
def grading_inputs(references):
    return build_grading_inputs(references, references.with_name("grading_inputs.npz"))


_REFERENCES = {}


@pytest.fixture
def grading(references, grading_inputs, monkeypatch):
    """The sandbox's grading environment: inputs file set, no references, not autograding."""
    monkeypatch.setenv(INPUTS_ENV, str(grading_inputs))
    monkeypatch.delenv(REFERENCES_ENV, raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    _REFERENCES["path"] = references
    return references


def grade_unit(unit, obj, namespace) -> float:
    """Grade like the pipeline: record in the "kernel", score outside; print the feedback."""
    published = len(kernel.PUBLISHED)
    assert kernel.grade_unit(unit, obj, namespace) is None  # the sandbox path returns nothing
    bundles = kernel.PUBLISHED[published:]
    outputs = [{"output_type": "display_data", "data": b, "metadata": {}} for b in bundles]
    score = score_unit(unit, outputs, _REFERENCES["path"])
    print("\n".join(score.lines))
    return score.score


@pytest.fixture(autouse=True)
def not_autograding(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def notebook(*cells, **names) -> dict:
    """Run ``cells`` like notebook cells; return their namespace (the cells' globals())."""
    namespace = {"np": np, "__name__": "__notebook__", **names}
    for cell in cells:
        exec(compile(textwrap.dedent(cell), "<student cell>", "exec"), namespace)
    return namespace


CORRECT_RNN = """
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)

def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
"""


# ------------------------------------------------------------------ check_unit


@pytest.mark.parametrize("unit", list(UNITS))
def test_check_unit_passes_the_reference_on_every_unit(unit, capsys):
    check_unit(unit, getattr(ref, UNITS[unit].obj))  # finds helpers in obj's own module
    out = capsys.readouterr().out
    assert f"{unit}: all outputs match" in out and "WRONG" not in out


def _public_mistake_cases(mistake):
    return [c for c in checks.public_checks()[mistake.unit].cases if mistake.name in c.mistakes]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[f"{m.unit}-{m.name}" for m in MISTAKES])
def test_every_known_mistake_is_named_with_its_hint(mistake, grading, capsys):
    cases = _public_mistake_cases(mistake)
    if cases:  # visible on the public case: the student's own check says so
        with pytest.raises(AssertionError, match=mistake.unit):
            check_unit(mistake.unit, mistake.impl)
        out = capsys.readouterr().out
        wrong = set(re.findall(r"^  ([\w\[\]]+) +WRONG", out, re.M))
        assert wrong and wrong <= {k for c in cases for k in c.mistakes[mistake.name]}
        assert mistake.hint in out
    else:  # only some hidden shapes show it (a transposed Wx needs D == H)
        hidden = [c for c in load_cases(grading)[mistake.unit].cases if mistake.name in c.mistakes]
        assert hidden, "this mistake shows on no case at all: add a case that reveals it"
        score = grade_unit(mistake.unit, mistake.impl, dict(REFERENCE_FUNCTIONS))
        out = capsys.readouterr().out
        assert score < UNITS[mistake.unit].points
        assert f"hint (from the {hidden[0].label}): {mistake.hint}" in out


def test_wrong_shape_and_nan_are_reported_as_such(capsys):
    ns = notebook("""
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return np.tanh(x @ Wx + prev_h @ Wh + b).T, None
        def rnn_forward(x, h0, Wx, Wh, b):
            return np.full((x.shape[0], x.shape[1], h0.shape[1]), np.nan), None
    """)
    with pytest.raises(AssertionError, match="next_h wrong"):
        check_unit("rnn_step_forward", ns["rnn_step_forward"])
    assert "has shape (4, 3); expected (3, 4)" in capsys.readouterr().out
    with pytest.raises(AssertionError):
        check_unit("rnn_forward", ns["rnn_forward"])
    assert "contains NaN (first at [0, 0, 0])" in capsys.readouterr().out


def test_not_implemented_is_a_friendly_line(capsys):
    ns = notebook("""
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            raise NotImplementedError
    """)
    with pytest.raises(AssertionError, match="rnn_step_forward is not implemented yet") as err:
        check_unit("rnn_step_forward", ns["rnn_step_forward"])
    assert "in the cell with `def rnn_step_forward`" in str(err.value)
    out = capsys.readouterr().out
    assert out == ""  # the one line of the error says it all


def test_autograde_mode_prints_without_raising(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    buggy = next(m for m in MISTAKES if m.name == "transposed_dWh")
    check_unit(buggy.unit, buggy.impl)
    out = capsys.readouterr().out
    assert "Checking rnn_step_backward" in out and "dWh wrong on the public case" in out
    # the visible part of a graded cell is left to the hidden part, which runs the public case
    check_unit(buggy.unit, buggy.impl, graded=True)
    out = capsys.readouterr().out
    assert "not repeated while grading" in out and "dWh" not in out


NOISY = CORRECT_RNN + """
import os, sys, warnings
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    print("debug: python stderr", file=sys.stderr)
    os.write(2, b"debug: file descriptor 2\\n")
    warnings.warn("debug: a warning")
    return np.tanh(x @ Wx + prev_h @ Wh + b), None
"""


def test_stderr_and_warnings_of_student_code_are_captured(capfd):
    check_unit("rnn_step_forward", notebook(NOISY)["rnn_step_forward"])
    out, err = capfd.readouterr()
    assert err == ""
    assert "rnn_step_forward: all outputs match" in out
    for text in ("debug: python stderr", "debug: file descriptor 2",
                 "UserWarning: debug: a warning"):
        assert text in out


def test_a_backward_pass_that_changes_its_upstream_gradient_gets_a_note(capsys):
    ns = notebook(CORRECT_RNN, """
        def rnn_step_backward(dnext_h, cache):
            x, prev_h, Wx, Wh, next_h = cache
            dnext_h *= 1 - next_h ** 2  # in place: the caller's array changes
            return dnext_h @ Wx.T, dnext_h @ Wh.T, x.T @ dnext_h, prev_h.T @ dnext_h, dnext_h.sum(0)
    """)
    check_unit("rnn_step_backward", ns["rnn_step_backward"])
    assert "changed its input dnext_h in place" in capsys.readouterr().out


STUDENT_MODEL = """
class CaptioningRNN(ReferenceModel):  # __init__ as given; loss written by the student
    def loss(self, features, captions):
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null
        h0 = features @ p["W_proj"] + p["b_proj"]
        x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
        forward = rnn_forward if self.cell_type == "rnn" else lstm_forward
        backward = rnn_backward if self.cell_type == "rnn" else lstm_backward
        h, rnn_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)
        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, rnn_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        grads["W_proj"] = features.T @ dh0
        grads["b_proj"] = dh0.sum(axis=0)
        return loss, grads
"""


def _rnn_notebook_model(**overrides):
    """The RNN notebook: its own layers (from the reference here), no LSTM functions."""
    own = ("rnn_forward", "rnn_backward", "word_embedding_forward", "word_embedding_backward")
    names = {k: REFERENCE_FUNCTIONS[k] for k in own}
    names.update(overrides)
    return notebook(STUDENT_MODEL, ReferenceModel=ref.CaptioningRNN,
                    temporal_affine_forward=temporal_affine_forward,
                    temporal_affine_backward=temporal_affine_backward,
                    temporal_softmax_loss=temporal_softmax_loss, **names)


def test_the_lstm_model_case_is_skipped_where_lstm_layers_do_not_exist_yet(capsys):
    check_unit("captioning_loss", _rnn_notebook_model()["CaptioningRNN"])
    out = capsys.readouterr().out
    assert "skipped: the LSTM case, because lstm_forward is not defined" in out
    assert "captioning_loss: all outputs match" in out


def test_students_package_does_not_import_the_instructor_package():
    code = ("import sys, assignment.checks as c; c.public_checks(); "
            "assert not [m for m in sys.modules if m.startswith('autograder')]")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ------------------------------------------------------------------ grade_unit


def test_not_implemented_scores_zero(grading, capsys):
    ns = notebook("""
        def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
            raise NotImplementedError
    """)
    assert grade_unit("lstm_step_forward", ns["lstm_step_forward"], ns) == 0.0
    assert "lstm_step_forward is not implemented yet (on every case)" in capsys.readouterr().out


def test_a_wrong_helper_does_not_cost_the_unit_that_calls_it(grading):
    ns = notebook("""
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)  # transposed Wh
            return next_h, (x, prev_h, Wx, Wh, next_h)
        def rnn_forward(x, h0, Wx, Wh, b):
            h, prev_h = [], h0
            for t in range(x.shape[1]):
                prev_h, _ = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
                h.append(prev_h)
            return np.stack(h, axis=1), None
    """)
    buggy_step = ns["rnn_step_forward"]
    assert grade_unit("rnn_step_forward", buggy_step, ns) == 0.0
    assert grade_unit("rnn_forward", ns["rnn_forward"], ns) == 4.0
    assert ns["rnn_step_forward"] is buggy_step and "rnn_step_backward" not in ns  # restored


def test_the_captioning_loss_is_not_charged_for_a_wrong_embedding_backward(grading):
    ns = _rnn_notebook_model(word_embedding_backward=next(
        m.impl for m in MISTAKES if m.name == "repeated_words_once"))
    before = dict(ns)
    assert grade_unit("captioning_loss", ns["CaptioningRNN"], ns) == 18.0  # RNN and LSTM cases
    assert ns == before


RIGHT_RNN_BACKWARD = """
def rnn_backward(dh, cache):
    x, h0, Wx, Wh, h = cache
    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    db, dprev = np.zeros(Wh.shape[0]), np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        prev_h = h0 if t == 0 else h[:, t - 1]
        da = (dh[:, t] + dprev) * (1 - h[:, t] ** 2)
        dx[:, t], dprev = da @ Wx.T, da @ Wh.T
        dWx += x[:, t].T @ da
        dWh += prev_h.T @ da
        db += da.sum(axis=0)
    return dx, dprev, dWx, dWh, db
"""


@pytest.mark.parametrize("forward", [
    """
    def rnn_forward(x, h0, Wx, Wh, b):  # transposed Wh, inline
        h, prev_h = [], h0
        for t in range(x.shape[1]):
            prev_h = np.tanh(x[:, t] @ Wx + prev_h @ Wh.T + b)
            h.append(prev_h)
        h = np.stack(h, axis=1)
        return h, (x, h0, Wx, Wh, h)
    """,
    """
    def rnn_forward(x, h0, Wx, Wh, b):  # nothing done
        return None, None
    """,
    """
    def rnn_forward(x, h0, Wx, Wh, b):  # not even defined properly
        raise NotImplementedError
    """], ids=["transposed", "empty", "not implemented"])
def test_a_wrong_forward_pass_costs_only_its_own_points(forward, grading, capsys):
    ns = notebook(forward, RIGHT_RNN_BACKWARD)
    assert grade_unit("rnn_forward", ns["rnn_forward"], ns) == 0.0
    assert check_unit("rnn_backward", ns["rnn_backward"]) is None  # the public check agrees
    assert grade_unit("rnn_backward", ns["rnn_backward"], ns) == 10.0


def test_a_backward_pass_gets_a_fresh_grader_cache_and_never_calls_the_forward_pass(grading):
    seen = []
    ns = notebook("""
        from assignment.caches import RNNStepCache
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            raise AssertionError("the forward pass is not called to grade the backward pass")
        def rnn_step_backward(dnext_h, cache):
            seen.append((type(cache), cache.next_h.copy()))
            x, prev_h, Wx, Wh, next_h = cache
            da = dnext_h * (1 - next_h ** 2)
            next_h[...] = 0  # scribbling on the cache changes nothing for the next call
            return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
    """, seen=seen)
    assert grade_unit("rnn_step_backward", ns["rnn_step_backward"], ns) == 10.0
    assert {kind for kind, _ in seen} == {RNNStepCache}
    assert all(bool(next_h.any()) for _, next_h in seen)


def test_the_public_check_of_a_backward_pass_uses_the_stored_cache(capsys):
    ns = notebook(CORRECT_RNN, """
        def rnn_step_forward(x, prev_h, Wx, Wh, b):  # wrong: tanh missing
            next_h = x @ Wx + prev_h @ Wh + b
            return next_h, (x, prev_h, Wx, Wh, next_h)
    """)
    cache = checks.public_checks()["rnn_step_backward"].cases[0].inputs["cache"]
    assert type(cache) is RNNStepCache and cache.next_h.shape == (4, 6)
    with pytest.raises(AssertionError):
        check_unit("rnn_step_forward", ns["rnn_step_forward"])
    check_unit("rnn_step_backward", ns["rnn_step_backward"])
    assert "rnn_step_backward: all outputs match" in capsys.readouterr().out


def test_a_trivial_forward_with_a_zero_backward_earns_nothing(grading):
    ns = notebook("""
        def rnn_forward(x, h0, Wx, Wh, b):
            return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), (x, Wx, Wh, h0)
        def rnn_backward(dh, cache):
            x, Wx, Wh, h0 = cache
            return np.zeros_like(x), np.zeros_like(h0), np.zeros_like(Wx), np.zeros_like(Wh), \\
                np.zeros(Wh.shape[0])
    """)
    assert grade_unit("rnn_backward", ns["rnn_backward"], ns) == 0.0


def test_exceptions_and_exits_in_student_code_are_feedback(grading, capsys):
    ns = notebook("""
        import sys
        def word_embedding_forward(x, W):
            if x.shape[1] == 1:
                sys.exit("bye")
            return W[x], None
    """)
    before = dict(ns)
    assert grade_unit("word_embedding_forward", ns["word_embedding_forward"], ns) == 0.0
    out = capsys.readouterr().out
    assert "raised SystemExit: bye" in out and "hidden case 1 (T=1)" in out
    assert ns == before


def test_an_endless_loop_times_out_and_grading_goes_on(grading, monkeypatch, capsys):
    monkeypatch.setattr(kernel, "CASE_SECONDS", 0.2)
    monkeypatch.setattr(kernel, "UNIT_SECONDS", 1.0)
    ns = notebook("""
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            while True:
                try:
                    pass
                except Exception:  # does not catch the grader's alarm
                    pass
    """)
    start = time.monotonic()
    assert grade_unit("rnn_step_forward", ns["rnn_step_forward"], ns) == 0.0
    assert time.monotonic() - start < 5
    assert "time limit" in capsys.readouterr().out


def test_sampling_may_go_on_after_end(grading):
    class StanfordStyle(ref.CaptioningRNN):
        """Keeps writing words after <END>: only the words up to <END> are checked."""

        def sample(self, features, max_length=30):
            p, N = self.params, features.shape[0]
            h, c = features @ p["W_proj"] + p["b_proj"], np.zeros((N, self.hidden_dim))
            word, captions = np.full(N, self._start), np.zeros((N, max_length), dtype=int)
            for t in range(max_length):
                x = p["W_embed"][word]
                if self.cell_type == "rnn":
                    h, _ = ref.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
                else:
                    h, c, _ = ref.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
                captions[:, t] = word = (h @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)
            return captions

    assert grade_unit("captioning_sample", StanfordStyle, {}) == 4.0


def test_student_output_during_grading_is_captured_and_not_shown(grading, capfd):
    assert grade_unit("rnn_step_forward", notebook(NOISY)["rnn_step_forward"], {}) == 4.0
    out, err = capfd.readouterr()
    assert err == "" and "debug: file descriptor 2" not in out
    assert "wrote to stderr" in out and "UserWarning: debug: a warning" in out


LEAKY = CORRECT_RNN + """
import sys, warnings
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    print("x =", x, "Wh =", Wh)
    print(repr(dnext_h), file=sys.stderr)
    warnings.warn(f"suspicious value {float(Wx[0, 0]):.8f}")
    if x.shape[0] == 1:
        raise ValueError(f"cannot handle {x.ravel()[:3]} {float(prev_h[0, 0])!r}")
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh, 1.5 * x.T @ da, prev_h.T @ da, da.sum(axis=0) + 0.001
"""


def _significant_tokens(text, digits=4):
    for token in re.findall(r"\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?", text):
        mantissa = re.split(r"[eE]", token)[0].replace(".", "").lstrip("0")
        if len(mantissa) >= digits:
            yield float(token), len(mantissa)


def test_hidden_feedback_never_shows_a_hidden_value(grading, capsys):
    ns = notebook(LEAKY)
    assert grade_unit("rnn_step_backward", ns["rnn_step_backward"], ns) == 0.0
    out = capsys.readouterr().out
    hidden = [c for c in load_cases(grading)["rnn_step_backward"].cases if c.hidden]
    values = np.abs(np.concatenate([np.ravel(a) for c in hidden for group in
                                    (c.inputs, c.expected, caches.to_arrays(c.inputs["cache"])[1])
                                    for k, a in group.items() if k != "cache"]))
    for value, sig in _significant_tokens(out):
        resolution = 10.0 ** (math.floor(math.log10(value)) - sig + 1) if value else 0
        assert not np.any(np.abs(values - value) <= resolution), f"{value} leaked:\n{out}"
    assert "raised ValueError: cannot handle" in out and "hidden case 1 (N=1)" in out
    assert "printed and wrote to stderr while it was graded (not shown" in out


def test_namespace_is_restored_after_an_error(grading):
    ns = notebook(CORRECT_RNN, """
        def rnn_forward(x, h0, Wx, Wh, b):
            raise RuntimeError("not today")
    """)
    before = dict(ns)
    assert grade_unit("rnn_forward", ns["rnn_forward"], ns) == 0.0
    assert ns == before


def test_reading_the_references_while_graded_earns_nothing_in_the_trusted_fallback(
        grading, monkeypatch):
    # no sandbox on an instructor's own machine: the kernel notices the open
    monkeypatch.setenv(REFERENCES_ENV, str(grading))
    ns = notebook("""
        import os
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            with open(os.environ["RNN_ASSIGNMENT_REFERENCES"], "rb") as f:
                f.read(1)
            return np.tanh(x @ Wx + prev_h @ Wh + b), None
    """)
    assert kernel.grade_unit("rnn_step_forward", ns["rnn_step_forward"], ns) == 0.0


def test_grading_without_inputs_is_a_clear_set_up_error(monkeypatch):
    monkeypatch.delenv(INPUTS_ENV, raising=False)
    monkeypatch.delenv(REFERENCES_ENV, raising=False)
    with pytest.raises(kernel.GradingSetupError, match=INPUTS_ENV):
        kernel.grade_unit("rnn_forward", ref.rnn_forward, {})
    monkeypatch.setenv(INPUTS_ENV, str(checks.PUBLIC_CHECKS))
    with pytest.raises(kernel.GradingSetupError, match="not a grading-inputs file"):
        kernel.grade_unit("rnn_forward", ref.rnn_forward, {})


# ------------------------------------------------------------- seeds and files


def test_hidden_seeds_depend_on_the_secret_and_are_stable():
    assert hidden_seed(SECRET, "rnn_backward", 2) == hidden_seed(SECRET, "rnn_backward", 2)
    assert hidden_seed(SECRET, "rnn_backward", 2) != hidden_seed(b"other course", "rnn_backward", 2)
    assert hidden_seed(SECRET, "rnn_backward", 2) != hidden_seed(SECRET, "rnn_backward", 3)
    case = UNITS["rnn_backward"].cases[2]
    draw = [make_inputs("rnn_backward", case,
                        np.random.default_rng(hidden_seed(s, "rnn_backward", 2)))["x"]
            for s in (SECRET, SECRET, b"other course")]
    assert np.array_equal(draw[0], draw[1]) and not np.allclose(draw[0], draw[2])


def test_two_courses_share_the_public_cases_but_not_the_hidden_ones(references, tmp_path):
    mine = load_cases(references)["lstm_backward"].cases
    other_file = build_references(b"other course", tmp_path / "other.npz")
    other = load_cases(other_file)["lstm_backward"].cases
    assert np.array_equal(mine[0].inputs["x"], other[0].inputs["x"])
    assert all(not np.allclose(a.inputs["Wh"], b.inputs["Wh"]) for a, b in zip(mine[1:], other[1:]))


def test_the_committed_public_checks_are_a_fresh_build(tmp_path):
    committed_header, committed = read_check_file(checks.PUBLIC_CHECKS)
    fresh_header, fresh = read_check_file(build_public_checks(tmp_path / "public.npz"))
    assert committed_header == fresh_header and committed.keys() == fresh.keys()
    for name, unit in fresh.items():
        old = committed[name]
        assert (old.points, old.tolerance, old.hints) == (unit.points, unit.tolerance, unit.hints)
        assert [c.label for c in old.cases] == [c.label for c in unit.cases]
        for a, b in zip(old.cases, unit.cases):
            assert (a.dims, a.settings) == (b.dims, b.settings)
            assert a.mistakes.keys() == b.mistakes.keys()
            assert ("cache" in a.inputs) == (PROTOCOLS[name].kind == "backward")
            groups = [(a.inputs, b.inputs), (a.expected, b.expected)]
            if "cache" in a.inputs:  # a backward case: the cache of the reference forward pass
                assert type(a.inputs["cache"]) is type(b.inputs["cache"])
                groups.append((caches.to_arrays(a.inputs["cache"])[1],
                               caches.to_arrays(b.inputs["cache"])[1]))
            for x, y in groups:
                assert x.keys() == y.keys()
                for k in (k for k in x if k != "cache"):
                    assert x[k].dtype == y[k].dtype and np.allclose(x[k], y[k], rtol=1e-12, atol=0)
    assert not any(c.hidden for u in committed.values() for c in u.cases)
    assert os.path.getsize(checks.PUBLIC_CHECKS) < 400_000
    # the build is deterministic: the committed file is exactly what it writes
    assert (tmp_path / "public.npz").read_bytes() == checks.PUBLIC_CHECKS.read_bytes(), \
        "rebuild it with `python -m autograder.answer_key.check_files` and commit it"


# ------------------------------------------- the language-model notebook ('function' units)


def _language_model_notebook(edits=()) -> dict:
    """The language-model notebook's cells, solved, run alone (no captioning notebook beside it)."""
    namespace = {**solution_setup(), "__name__": "__notebook__"}
    for notebook, cell, source in solution_cells():
        if notebook == "CharRNN_Language_Model.ipynb":
            for edit in edits:
                source = edit.apply(source) if edit.cell == cell else source
            exec(compile(source, f"<{cell}>", "exec"), namespace)
    return namespace


def test_a_function_unit_gets_its_settings_as_keywords_and_a_tuple_of_named_arrays():
    seen = {}

    def clip(grads, max_norm):
        seen.update(grads=grads, max_norm=max_norm)
        return tuple(g * 0 for g in grads), np.float64(7.0)

    inputs = make_inputs("clip_by_global_norm", UNITS["clip_by_global_norm"].cases[0],
                         np.random.default_rng(0))
    run = checks.execute("clip_by_global_norm", clip, inputs, {"max_norm": 0.25})
    assert isinstance(seen["grads"], tuple) and seen["max_norm"] == 0.25
    assert [g.shape for g in seen["grads"]] == [inputs[f"grads[{i}]"].shape for i in range(3)]
    assert list(run.outputs) == ["clipped[0]", "clipped[1]", "clipped[2]", "norm"]
    assert float(run.outputs["norm"]) == 7.0 and not run.outputs["clipped[1]"].any()


def test_a_returned_tuple_of_the_wrong_length_is_named_in_the_error():
    inputs = make_inputs("clip_by_global_norm", UNITS["clip_by_global_norm"].cases[0],
                         np.random.default_rng(0))
    with pytest.raises(checks.StudentCodeError, match="clipped as a tuple of 3 arrays, one per "
                                                      "array it is given; it returned 2 of them"):
        checks.execute("clip_by_global_norm", lambda grads, max_norm: (grads[:2], 1.0),
                       inputs, {"max_norm": 1.0})


def test_the_language_model_notebook_alone_with_a_wrong_gru_step_loses_only_its_points(grading):
    """Without the captioning notebooks and with a wrong GRU step, the units that call the
    steps (any cell type) still earn everything: the replay stubs answer their calls."""
    wrong = next(m for m in MISTAKES if (m.unit, m.name) == ("gru_step_forward", "z_swapped"))
    ns = _language_model_notebook(wrong.edits)
    assert not {"rnn_step_forward", "lstm_step_forward", "lstm_step_backward"} & set(ns)
    assert grade_unit("gru_step_forward", ns["gru_step_forward"], ns) == 0.0
    for unit in ("gru_forward", "multilayer_forward", "multilayer_backward",
                 "truncated_bptt_step", "sample_chars", "clip_by_global_norm"):
        assert grade_unit(unit, ns[unit], ns) == UNITS[unit].points, unit
    assert "lstm_step_forward" not in ns  # the stubs are gone again
