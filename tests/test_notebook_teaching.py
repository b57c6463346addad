"""Teaching that is exactly right (issue 11, item 4): what the notebooks claim is what they show.

The gradient experiments are run with their own notebook code (the cells, on
the answer key's layers) and every number the markdown and the written-answer
keys state is computed and compared. Wording and the initial forget-gate bias
are checked against the code they describe.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from assignment import backend  # noqa: E402
from autograder.answer_key.solution import reference  # noqa: E402

ref = reference()

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _cells(name) -> dict:
    return {c["id"]: "".join(c["source"]) for c in
            json.loads((NOTEBOOKS / name).read_text())["cells"]}


RNN, LSTM = _cells("RNN_Captioning.ipynb"), _cells("LSTM_Captioning.ipynb")


def _flat(text) -> str:
    """Markdown with its line breaks as spaces (claims may wrap)."""
    return re.sub(r"\s+", " ", text)


# --------------------------------------------------- RNN: how far back does the gradient reach


@pytest.fixture(scope="module")
def rnn_experiment():
    namespace = {"np": np, "plt": plt, "backend": backend, "GRADING": False,  # a student's run
                 "rnn_forward": ref.rnn_forward, "rnn_backward": ref.rnn_backward}
    exec(compile(RNN["vanishing"], "<vanishing cell>", "exec"), namespace)
    plt.close("all")
    h, _ = ref.rnn_forward(namespace["x_long"], namespace["h0"], namespace["Wx"],
                           2.0 * namespace["Q"], namespace["b"])
    namespace["saturated_h"] = h[0]
    return namespace


def test_rnn_experiment_is_geometric_where_the_units_are_linear(rnn_experiment):
    growth = rnn_experiment["growth"]
    for scale in (0.5, 1.0):
        early, late, slope = growth[scale]
        assert early == pytest.approx(scale, abs=0.01) and late == pytest.approx(scale, abs=0.01)
        assert slope > 0.99  # linear range: tanh' about 1
    text = _flat(RNN["vanishing-md"])
    assert "×0.5 and ×1.00" in text and "straight lines" in text


def test_rnn_experiment_shows_the_saturation_it_describes(rnn_experiment):
    early, late, slope = rnn_experiment["growth"][2.0]
    h = rnn_experiment["saturated_h"]
    mean_slope = (1 - h ** 2).mean(axis=1)
    first_saturated = int(np.argmax(mean_slope < 0.9)) + 1  # step (1-based) tanh' drops
    third = float((abs(h[12:]) > 0.9).mean())
    # the claims of the markdown and of Question 1's answer key, computed
    assert early == pytest.approx(2.0, abs=0.05)                 # "×2 per step" until then
    assert 8 <= first_saturated <= 12                             # "after about 10 steps"
    assert slope == pytest.approx(0.5, abs=0.07)                  # "mean tanh' ... about 0.5"
    assert 0.25 <= third <= 0.4                                   # "about a third ... |h| > 0.9"
    assert 1.05 <= late <= 1.2                                    # "about ×1.1 per step"
    for text in (_flat(RNN["vanishing-md"]), _flat(RNN["question_vanishing_gradients"])):
        assert "about 10 steps" in text and "about ×1.1 per step" in text
        assert "about 0.5" in text
    assert "about a third" in _flat(RNN["vanishing-md"])
    assert "linear range" not in _flat(RNN["question_vanishing-md"])


def test_rnn_experiment_growth_is_uneven_after_saturation(rnn_experiment):
    ns = rnn_experiment
    norms = []
    for T in ns["lengths"]:
        h, cache = ref.rnn_forward(ns["x_long"][:, :T], ns["h0"], ns["Wx"], 2.0 * ns["Q"], ns["b"])
        dh = np.zeros_like(h)
        dh[:, -1] = 1.0
        norms.append(np.linalg.norm(ref.rnn_backward(dh, cache)[1]))
    steps = np.diff(np.log(norms[3:]))
    assert (steps < 0).any() and (steps > 0).any()  # "unevenly": it also falls at times
    assert "unevenly" in _flat(RNN["vanishing-md"])


def test_rnn_experiment_prints_the_same_factors_while_grading(rnn_experiment):
    # while grading the cell runs only the lengths its printed factors use: same printed numbers
    namespace = {"np": np, "plt": plt, "backend": backend, "GRADING": True,
                 "rnn_forward": ref.rnn_forward, "rnn_backward": ref.rnn_backward}
    exec(compile(RNN["vanishing"], "<vanishing cell>", "exec"), namespace)
    plt.close("all")
    assert len(namespace["lengths"]) < len(rnn_experiment["lengths"])
    for scale, full in rnn_experiment["growth"].items():
        assert namespace["growth"][scale] == pytest.approx(full, rel=1e-12)


# ------------------------------------------------------ LSTM: Question 1's answer key


@pytest.fixture(scope="module")
def lstm_curves():
    source = LSTM["experiment"]
    namespace = {"np": np, "xp": np, "asarray": np.asarray, "to_numpy": np.asarray}
    exec(compile(source[:source.index("\n# All lengths")], "<experiment cell>", "exec"), namespace)
    norm = namespace["gradient_norm_through_time"]
    T = list(range(1, 51))
    curves = {}
    for s in (1.0, 3.0):
        curves[s, "rnn"] = norm(ref.rnn_forward, ref.rnn_backward, 1, T, s)
        for fb in (0.0, 1.0, 3.0):
            curves[s, fb] = norm(ref.lstm_forward, ref.lstm_backward, 4, T, s, fb)
    return curves


def _per_step(curve, first=1, last=50):
    return float((curve[last - 1] / curve[first - 1]) ** (1 / (last - first)))


def test_lstm_key_a_matches_the_plot_at_weight_scale_one(lstm_curves):
    key = _flat(LSTM["question_gradient_flow"])
    rnn, fb0, fb1, fb3 = (lstm_curves[1.0, k] for k in ("rnn", 0.0, 1.0, 3.0))
    # "both lose about a third per step and end near 1e-8 and 1e-9"
    assert 0.6 <= _per_step(rnn) <= 0.7 and 0.6 <= _per_step(fb0) <= 0.7
    assert 5e-9 <= rnn[-1] <= 2e-8 and 5e-10 <= fb0[-1] <= 2e-9
    assert "lose about a third per step and end near 1e-8 and 1e-9" in key
    # "b_f = 1 ... about ×0.8 per step"
    assert 0.75 <= _per_step(fb1) <= 0.85 and "about ×0.8 per step" in key
    # "b_f = 3 ... wanders between about 2 and 7 over the 50 steps, and ends higher than it starts"
    assert 1.8 <= fb3.min() and fb3.max() <= 7.5 and fb3[-1] > fb3[0]
    assert "wanders between about 2 and 7 over the 50 steps, and ends higher than it starts" in key
    assert "stays almost flat" not in key


def test_lstm_key_b_matches_the_plot_at_weight_scale_three(lstm_curves):
    key = _flat(LSTM["question_gradient_flow"])
    rnn = lstm_curves[3.0, "rnn"]
    # "from about 18 at T = 1 it jumps between about 30 and 1,300 from T = 10 on (a few hundred
    # typically), with no steady slope"
    later = rnn[9:]
    assert 16 <= rnn[0] <= 20 and 25 <= later.min() <= 40 and 1100 <= later.max() <= 1400
    assert 100 <= np.median(later) <= 500
    assert (np.diff(later) < 0).sum() >= 10 and (np.diff(later) > 0).sum() >= 10
    assert "from about 18 at $T = 1$ it jumps between about 30 and 1,300 from $T = 10$ on" in key
    # "every LSTM curve at s = 3 rise[s] by about half from T = 1 to T = 2"
    for fb in (0.0, 1.0, 3.0):
        assert 1.4 <= lstm_curves[3.0, fb][1] / lstm_curves[3.0, fb][0] <= 1.7
    assert "rise by about half from $T = 1$ to $T = 2$" in key
    # "for b_f = 0 and 1 to about 3e-5 and 1.5e-3 at T = 50, for b_f = 3 slowly and unevenly
    # (between about 0.5 and 4 from T = 30 on)"
    assert 2e-5 <= lstm_curves[3.0, 0.0][-1] <= 4.5e-5
    assert 1e-3 <= lstm_curves[3.0, 1.0][-1] <= 2e-3
    fb3 = lstm_curves[3.0, 3.0]
    assert 0.4 <= fb3[29:].min() and fb3[29:].max() <= 4.2 and (np.diff(fb3[2:]) > 0).any()
    assert "to about 3e-5 and 1.5e-3 at $T = 50$" in key
    assert "(between about 0.5 and 4 from $T = 30$ on)" in key
    assert "none of them grows" not in key
    # no LSTM curve explodes: at s = 3 every one ends far below the RNN's
    assert all(lstm_curves[3.0, fb][9:].max() < later.min() for fb in (0.0, 1.0, 3.0))


# ------------------------------------------------------------------ forget-gate bias


def _notebook_model_class():
    namespace = {"__name__": "notebook"}
    exec(compile(RNN["captioning_model_solution"], "<model cell>", "exec"), namespace)
    return namespace["CaptioningRNN"]


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_the_model_starts_with_the_forget_bias_the_key_recommends(cell_type):
    vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3}
    H = 5
    models = [cls(vocab, input_dim=6, wordvec_dim=4, hidden_dim=H, cell_type=cell_type,
                  dtype=np.float64, seed=3) for cls in (ref.CaptioningRNN, _notebook_model_class())]
    for name in models[0].params:  # the notebook's __init__ is the answer key's
        np.testing.assert_array_equal(models[0].params[name], models[1].params[name])
    b = models[0].params["b"]
    if cell_type == "lstm":  # gate order i, f, o, g
        assert (b[H:2 * H] == 1.0).all() and not b[:H].any() and not b[2 * H:].any()
        assert "forget-gate bias 1" in RNN["captioning_model_solution"]
    else:
        assert not b.any()
    assert "`CaptioningRNN` starts it at 1" in _flat(LSTM["experiment-md"])
    key = _flat(LSTM["question_gradient_flow"])
    assert "e.g. 1 (common practice, and what `CaptioningRNN` uses)" in key


# ------------------------------------------------------------------ wording


def _markdown(cells) -> str:
    return "\n".join(v for k, v in cells.items() if k.endswith("-md") or k in (
        "intro", "why-lstm", "end", "next", "import-md"))


def test_the_cell_state_gradient_is_described_with_both_of_its_paths():
    text = _flat(LSTM["lstm-backward-md"])
    assert "comes only from step" not in text
    assert "the `dnext_c` you pass to step $t$ is the `dprev_c` that comes back from step $t+1$" \
        in text and "through $h_t = o \\odot \\tanh(c_t)$" in text


def test_matrix_products_are_counted_as_the_code_counts_them():
    import inspect

    forward = inspect.getsource(ref.lstm_step_forward)
    assert "x @ Wx + prev_h @ Wh" in forward  # two products for the four gates
    text = _flat(LSTM["lstm-step-forward-md"])
    assert "one matrix product" not in text and "two matrix products" in text
    # the backward pass of a step: four products where the forward has two
    products = [inspect.getsource(f).count(" @ ")
                for f in (ref.rnn_step_forward, ref.rnn_step_backward)]
    assert products == [2, 4]
    text = _flat(RNN["rnn_backward-md"])
    assert "costs as much as" not in text
    assert "about twice as much as the forward pass (four matrix products per step instead of " \
           "two)" in text


def test_the_readme_names_what_the_checks_print():
    readme = _flat((NOTEBOOKS.parent / "autograder" / "release" / "student_bundle" / "README.md").read_text())
    assert "every line is OK" not in readme
    assert "every output is OK and every gradient PASS" in readme
    # what the checks really print
    from assignment.gradient_check import GradientReport
    report = GradientReport("t", 1e-7, errors={"dx": 1e-9, "dW": 1.0})
    assert "PASS" in str(report) and "FAIL" in str(report)


def test_the_assignment_is_named_and_set_up_is_spelled_one_way():
    repo = NOTEBOOKS.parent
    texts = {name: _flat("\n".join(cells.values())) for name, cells in
             (("RNN", RNN), ("LSTM", LSTM))}
    texts["README"] = (repo / "autograder" / "release" / "student_bundle" / "README.md").read_text()
    texts.update({str(p): p.read_text() for p in (repo / "assignment").rglob("*.py")})
    for name, text in texts.items():
        assert "standard assignment" not in text, name
        assert "classic Stanford" not in text, name
        assert not re.search(r"\bSetup\b", text), name  # "Set-up" (the noun) everywhere
    assert "CS231n" in texts["RNN"] and "CS231n" in texts["LSTM"]
    assert "## Set-up" in RNN["setup-md"]


def test_backward_formulas_are_a_hint_not_the_default_text(capsys):
    from assignment import formulas

    markdown = _markdown(RNN) + _markdown(LSTM)
    for formula in ("da @ Wx.T", "da @ Wh.T", "x.T @ da", "prev_h.T @ da", "1 - next_h**2",
                    "dc * f", "dnext_h * o"):
        assert formula not in markdown, formula
    # the check cell offers them after a wrong attempt, and they are right
    ns = {"np": np}
    exec("def rnn_step_backward(dnext_h, cache):\n"
         "    x, prev_h, Wx, Wh, next_h = cache\n"
         "    da = dnext_h\n"  # tanh' forgotten
         "    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)\n", ns)
    with pytest.raises(AssertionError):
        from assignment.checks import check_unit
        check_unit("rnn_step_backward", ns["rnn_step_backward"])
    out = capsys.readouterr().out
    assert 'assignment.formulas.show(\'rnn_step_backward\')' in out
    formulas.show("rnn_step_backward")
    shown = capsys.readouterr().out
    for formula in ("dnext_h * (1 - next_h**2)", "da @ Wx.T", "da @ Wh.T", "x.T @ da",
                    "prev_h.T @ da", "da.sum(axis=0)"):
        assert formula in shown


def test_what_sample_is_asked_to_write_after_end_is_what_is_checked(capsys):
    text = _flat(RNN["model-md"])
    assert "write `<NULL>` in the rest of that row" not in text
    assert "What comes after a row's `<END>` does not matter" in text
    assert "the rest of that row is <NULL>" not in RNN["captioning_model_solution"]

    class GoesOn(ref.CaptioningRNN):  # keeps writing words after <END>, as CS231n's does
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

    from assignment.checks import check_unit, public_checks
    check_unit("captioning_sample", GoesOn)
    assert "all outputs match" in capsys.readouterr().out
    # and the public case really has a row that ends before max_length
    case = public_checks()["captioning_sample"].cases[0]
    end = case.settings["words"].index("<END>")
    assert any(end in row[:-1].tolist() for row in case.expected["captions"])
