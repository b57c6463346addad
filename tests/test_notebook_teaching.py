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
from autograder import reference as ref  # noqa: E402

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
    namespace = {"np": np, "plt": plt, "backend": backend,
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
