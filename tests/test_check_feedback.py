"""Checks that never contradict themselves (issue 11, item 3).

* check_unit and check_layer_gradients agree on a backward pass that changes
  its upstream gradient in place: both pass it (it is right), both say so in
  one line;
* a wrong output gets a ratio hint only where a ratio means something (a
  scale shared by many entries), a wrong scalar loss only the hint of a known
  mistake: unknown mask mistakes get no hint at all;
* a sample that never feeds its word back gets its hint;
* a check cell on an unfilled stub ends in one line, no traceback of this
  package, in a real Jupyter kernel.

"Students" are small functions written here, run from their own namespace like
notebook cells, on the real public check file.
"""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from assignment import layers
from assignment.checks import check_unit
from assignment.gradient_check import check_layer_gradients
from autograder.answer_key.solution import reference

ref = reference()


@pytest.fixture(autouse=True)
def not_autograding(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def notebook(*cells, **names) -> dict:
    namespace = {"np": np, "__name__": "__notebook__", **names}
    for cell in cells:
        exec(compile(textwrap.dedent(cell), "<student cell>", "exec"), namespace)
    return namespace


RNN_STEP = """
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)

def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dnext_h *= 1 - next_h ** 2  # in place: right gradients, but the caller's array changes
    return dnext_h @ Wx.T, dnext_h @ Wh.T, x.T @ dnext_h, prev_h.T @ dnext_h, dnext_h.sum(0)
"""


def _step_inputs():
    rng = np.random.default_rng(0)
    N, D, H = 4, 5, 6
    return dict(x=rng.standard_normal((N, D)), prev_h=rng.standard_normal((N, H)),
                Wx=0.5 * rng.standard_normal((D, H)), Wh=0.5 * rng.standard_normal((H, H)),
                b=0.5 * rng.standard_normal(H))


# ------------------------------------------------------------------ in place


def test_an_in_place_backward_gets_the_same_verdict_from_both_checks(capsys):
    ns = notebook(RNN_STEP)
    check_unit("rnn_step_backward", ns["rnn_step_backward"])
    unit_out = capsys.readouterr().out
    assert "rnn_step_backward: all outputs match" in unit_out

    report = check_layer_gradients(ns["rnn_step_forward"], ns["rnn_step_backward"], _step_inputs())
    grad_out = capsys.readouterr().out
    assert report.passed, grad_out  # the gradients are right: no FAIL after "Well done"
    assert "FAIL" not in grad_out
    said = []
    for out in (unit_out, grad_out):  # both say it, in one line each, in the same words
        lines = [ln.strip() for ln in out.splitlines() if "changed its input dnext_h in place" in ln]
        assert len(lines) == 1, out
        assert "work on a copy" in lines[0]
        said += lines
    assert said[0] == said[1]


def test_the_gradient_check_gives_student_code_copies_of_everything():
    seen = {}

    def forward(x, w):
        seen.setdefault("forward", []).append(x)
        out = x * w
        x[...] = 0.0  # destroys its input after use
        return out, (x.copy(), w)

    def backward(dout, cache):
        x, w = cache
        seen.setdefault("backward", []).append(dout)
        return dout * w, None

    inputs = dict(x=np.arange(3.0) + 1, w=np.full(3, 2.0))
    original = {k: v.copy() for k, v in inputs.items()}
    report = check_layer_gradients(forward, lambda dout, cache: (backward(dout, cache)[0],),
                                   inputs, wrt=["x"], verbose=False)
    assert report.passed
    assert all(np.array_equal(inputs[k], original[k]) for k in inputs)  # caller's arrays intact
    assert all(a is not inputs["x"] for a in seen["forward"])
    assert [r for r in report.remarks if "changed its input x in place" in r]


def test_a_backward_that_is_wrong_and_in_place_fails_and_says_both(capsys):
    ns = notebook(RNN_STEP.replace("dnext_h.sum(0)", "dnext_h.sum(0) * 2"))
    report = check_layer_gradients(ns["rnn_step_forward"], ns["rnn_step_backward"],
                                   _step_inputs())
    out = capsys.readouterr().out
    assert report.failed == ["db"]
    assert out.count("changed its input dnext_h in place") == 1


# -------------------------------------------------------------- hints: ratios


def _loss_model(mask_line="", scale="", scale_gradients=True):
    """A student CaptioningRNN whose loss differs from the reference in one line."""
    class Student(ref.CaptioningRNN):
        def loss(self, features, captions):
            p = self.params
            captions_in, captions_out = captions[:, :-1], captions[:, 1:]
            mask = captions_out != self._null
            if mask_line:
                mask = eval(mask_line, {"np": np}, dict(captions_in=captions_in,
                                                          captions_out=captions_out,
                                                          mask=mask, null=self._null))
            forward, backward = ((ref.lstm_forward, ref.lstm_backward)
                                 if self.cell_type == "lstm" else (ref.rnn_forward, ref.rnn_backward))
            h0 = features @ p["W_proj"] + p["b_proj"]
            x, embed_cache = ref.word_embedding_forward(captions_in, p["W_embed"])
            h, rnn_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
            scores, vocab_cache = layers.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
            loss, dscores = layers.temporal_softmax_loss(scores, captions_out, mask)
            if scale:
                loss = loss * float(scale)
                dscores = dscores * float(scale) if scale_gradients else dscores
            grads = {}
            dh, grads["W_vocab"], grads["b_vocab"] = layers.temporal_affine_backward(dscores,
                                                                                  vocab_cache)
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, rnn_cache)
            grads["W_embed"] = ref.word_embedding_backward(dx, embed_cache)
            grads["W_proj"] = features.T @ dh0
            grads["b_proj"] = dh0.sum(axis=0)
            return loss, grads
    return Student


def _check_output(unit, obj, capsys):
    with pytest.raises(AssertionError, match=unit):
        check_unit(unit, obj)
    return capsys.readouterr().out


def _hints(out) -> dict:
    """hint text -> the outputs it is given for."""
    return {m.group(2): m.group(1).split(", ")
            for m in re.finditer(r"^  hint \(([^)]*)\): (.*)$", out, re.M)}


@pytest.mark.parametrize("mask_line", [
    "captions_out == null",                                  # inverted
    "mask & (np.arange(mask.shape[1]) > 0)",                # first step never counted
    "captions_out > 2",                                      # <END> not counted
])
def test_an_unknown_mask_mistake_gets_no_hint_rather_than_a_wrong_one(mask_line, capsys):
    out = _check_output("captioning_loss", _loss_model(mask_line), capsys)
    assert re.search(r"^  loss +WRONG", out, re.M), out
    assert _hints(out) == {}, out


def test_an_off_by_one_mask_gets_its_own_hint_and_no_scaling_hint(capsys):
    out = _check_output("captioning_loss", _loss_model("captions_in != null"), capsys)
    hints = _hints(out)
    assert any("mask = (captions_out != <NULL>)" in h and "one step off" in h for h in hints), out
    assert "scaling factor" not in out


def test_a_wrong_scalar_loss_gets_no_ratio_hint(capsys):
    # any wrong number is the right one times *something*: that says nothing
    out = _check_output("captioning_loss", _loss_model(scale="0.5", scale_gradients=False), capsys)
    assert re.search(r"^  loss +WRONG", out, re.M), out
    assert _hints(out) == {} and "scaling factor" not in out, out


def test_a_gradient_off_by_one_scale_everywhere_gets_the_ratio_hint(capsys):
    ns = notebook(RNN_STEP.replace("x.T @ dnext_h,", "2 * x.T @ dnext_h,"))
    out = _check_output("rnn_step_backward", ns["rnn_step_backward"], capsys)
    assert _hints(out) == {"dWx is the right answer times 2: a scaling factor is off (a mean "
                           "instead of a sum, or a missing factor?).": ["dWx"]}, out


def test_a_known_scalar_mistake_still_gets_its_hint(capsys):
    # summed over the minibatch instead of averaged: the known mistake's hint, for the loss too
    out = _check_output("captioning_loss", _loss_model(scale="3"), capsys)  # public case N=3
    hints = _hints(out)
    averaged = [h for h in hints if "averaged over the minibatch" in h]
    assert averaged and "loss" in hints[averaged[0]], out


# -------------------------------------------------------------- sampling


def test_a_sample_that_never_feeds_its_word_back_gets_a_hint(capsys):
    class Student(ref.CaptioningRNN):
        def sample(self, features, max_length=30):
            p, N = self.params, features.shape[0]
            captions = np.full((N, max_length), self._null, dtype=np.int32)
            h, c = features @ p["W_proj"] + p["b_proj"], np.zeros((N, self.hidden_dim))
            start = np.full(N, self._start)
            for t in range(max_length):
                x = p["W_embed"][start]  # the bug: always <START>
                if self.cell_type == "lstm":
                    h, c, _ = ref.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
                else:
                    h, _ = ref.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
                captions[:, t] = (h @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)
            return captions

    out = _check_output("captioning_sample", Student, capsys)
    assert "Feed each chosen word back in" in out, out


# -------------------------------------------------------- stubs in a kernel

SETUP = ("import numpy as np\n"
         "from assignment.checks import check_unit\n"
         "from assignment.gradient_check import check_layer_gradients\n"
         "rng = np.random.default_rng(0)\n"
         "inputs = dict(x=rng.standard_normal((2, 3)), prev_h=rng.standard_normal((2, 4)),\n"
         "              Wx=rng.standard_normal((3, 4)), Wh=rng.standard_normal((4, 4)),\n"
         "              b=rng.standard_normal(4))")
STUBS = ("def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
         "    # YOUR CODE HERE\n"
         "    raise NotImplementedError()\n\n"
         "def rnn_step_backward(dnext_h, cache):\n"
         "    # YOUR CODE HERE\n"
         "    raise NotImplementedError()")
FORWARD = ("def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
           "    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)\n"
           "    return next_h, (x, prev_h, Wx, Wh, next_h)")
CHECK_FORWARD = 'check_unit("rnn_step_forward", rnn_step_forward)'
CHECK_BACKWARD = 'check_unit("rnn_step_backward", rnn_step_backward)'
GRADIENTS = "check_layer_gradients(rnn_step_forward, rnn_step_backward, inputs)"
# (cell, the stub its one line must name; None: a cell that must run cleanly)
STUB_CELLS = [(SETUP, None), (STUBS, None), (CHECK_FORWARD, "rnn_step_forward"),
              (CHECK_BACKWARD, "rnn_step_backward"),  # on the stored cache: its own stub
              (GRADIENTS, "rnn_step_forward"), (FORWARD, None),
              (CHECK_BACKWARD, "rnn_step_backward"), (GRADIENTS, "rnn_step_backward")]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.slow
def test_a_check_cell_on_a_stub_shows_one_line_and_no_traceback(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src, _ in STUB_CELLS]
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell, (_, stub) in zip(nb.cells, STUB_CELLS):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if stub is None:
            assert errors == [], cell.source
            continue
        assert len(errors) == 1, cell.outputs
        text = "\n".join(_ANSI.sub("", line) for line in errors[0].traceback)
        assert len(text.splitlines()) == 1, text  # one line: no traceback at all
        assert f"{stub} is not implemented yet" in text, text
        assert f"in the cell with `def {stub}`" in text
        assert "Traceback" not in text and ".py" not in text
        assert [o for o in cell.outputs if o.output_type == "stream"] == []


def test_a_gradient_that_is_not_an_array_is_a_fail_line_not_a_crash(capsys):
    ns = notebook(RNN_STEP.replace("dnext_h.sum(0)", "None"))
    report = check_layer_gradients(ns["rnn_step_forward"], ns["rnn_step_backward"],
                                   _step_inputs())
    assert report.failed == ["db"]
    assert "db" in capsys.readouterr().out and report.notes["db"] == "not an array of numbers"
