"""Reusing CS231n material: its gradient-check helpers and a CaptioningRNN written the CS231n
way (no ``seed`` argument, weights from ``np.random``) in the notebooks' training cells."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from assignment.gradient_check import (eval_numerical_gradient_blobs,
                                       eval_numerical_gradient_net, grad_check_sparse, rel_error)
from assignment import layers
from autograder.answer_key.solution import reference

ref = reference()

REPO = Path(__file__).resolve().parents[1]


class Blob:
    """A CS231n blob: values and the gradient of the loss with respect to them."""

    def __init__(self, vals, diffs=None):
        self.vals = vals
        self.diffs = np.zeros_like(vals) if diffs is None else diffs


def affine_tanh(x, w, b, out):
    """out = tanh(x w + b), written into the output blob (the CS231n blob convention)."""
    out.vals = np.tanh(x.vals @ w.vals + b.vals)


def affine_tanh_backward(x, w, b, out):
    da = out.diffs * (1 - out.vals ** 2)
    return da @ w.vals.T, x.vals.T @ da, da.sum(axis=0)


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    x, w, b = Blob(rng.standard_normal((4, 5))), Blob(rng.standard_normal((5, 3))), \
        Blob(rng.standard_normal(3))
    out = Blob(np.zeros((4, 3)), rng.standard_normal((4, 3)))
    return x, w, b, out


def test_blob_gradients_match_the_analytic_ones(blobs):
    x, w, b, out = blobs
    saved = [blob.vals.copy() for blob in (x, w, b)]
    numeric = eval_numerical_gradient_blobs(affine_tanh, (x, w, b), out)
    affine_tanh(x, w, b, out)
    for num, analytic in zip(numeric, affine_tanh_backward(x, w, b, out)):
        assert num.shape == analytic.shape
        assert rel_error(num, analytic) < 1e-8
    # the inputs are restored exactly
    assert all(np.array_equal(blob.vals, s) for blob, s in zip((x, w, b), saved))


def test_blob_gradients_see_a_wrong_backward_pass(blobs):
    x, w, b, out = blobs
    dx, dw, db = eval_numerical_gradient_blobs(affine_tanh, (x, w, b), out)
    affine_tanh(x, w, b, out)
    wrong_dw = x.vals.T @ out.diffs  # forgot tanh'
    assert rel_error(dw, wrong_dw) > 1e-2


def test_net_gradients_call_forward_without_arguments(blobs):
    x, w, b, out = blobs

    class Net:
        calls = 0

        def forward(self):
            Net.calls += 1
            affine_tanh(x, w, b, out)

    numeric = eval_numerical_gradient_net(Net(), (x, w, b), out)
    assert Net.calls == 2 * (x.vals.size + w.vals.size + b.vals.size)
    affine_tanh(x, w, b, out)
    for num, analytic in zip(numeric, affine_tanh_backward(x, w, b, out)):
        assert rel_error(num, analytic) < 1e-8


def test_a_blob_without_diffs_is_a_clear_error(blobs):
    x, w, b, out = blobs
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a blob.*vals.*diffs"):
        eval_numerical_gradient_blobs(affine_tanh, (x, w.vals, b), out)


def _quadratic(A):
    return lambda x: float(np.sum(x * (A @ x))), (A + A.T)


def test_grad_check_sparse_prints_one_line_per_check_at_random_coordinates(capsys):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6))
    x = rng.standard_normal((6, 1))
    f, M = _quadratic(A)
    saved = x.copy()
    random.seed(3)
    grad_check_sparse(f, x, M @ x, num_checks=7)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 7
    pattern = re.compile(r"numerical: (-?\d+\.\d{6}) analytic: (-?\d+\.\d{6}), "
                         r"relative error: (\d\.\d{6}e[+-]\d\d)$")
    errors = [float(pattern.match(line).group(3)) for line in lines]
    assert max(errors) < 1e-8
    assert np.array_equal(x, saved)
    # the coordinates come from Python's random module: the same seed, the same lines
    random.seed(3)
    grad_check_sparse(f, x, M @ x, num_checks=7)
    assert capsys.readouterr().out.strip().splitlines() == lines


def test_grad_check_sparse_shows_a_wrong_gradient(capsys):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal((4, 3))
    f, M = _quadratic(A)
    random.seed(0)
    grad_check_sparse(f, x, A @ x, num_checks=5)  # forgot the A.T part
    errors = [float(line.rsplit(" ", 1)[1]) for line in capsys.readouterr().out.splitlines()]
    assert max(errors) > 1e-2


# ---------------------------------------------------------------- a CS231n-style model


class CS231nCaptioningRNN:
    """A CaptioningRNN written as in the CS231n assignment: no seed argument, weights drawn
    with np.random.randn, float32 by default, the same params, loss and sample."""

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32):
        if cell_type not in {"rnn", "lstm"}:
            raise ValueError('Invalid cell_type "%s"' % cell_type)
        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.params = {}
        vocab_size = len(word_to_idx)
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>", None)
        self._end = word_to_idx.get("<END>", None)
        self.params["W_embed"] = np.random.randn(vocab_size, wordvec_dim) / 100
        self.params["W_proj"] = np.random.randn(input_dim, hidden_dim) / np.sqrt(input_dim)
        self.params["b_proj"] = np.zeros(hidden_dim)
        dim_mul = {"lstm": 4, "rnn": 1}[cell_type]
        self.params["Wx"] = np.random.randn(wordvec_dim, dim_mul * hidden_dim) / np.sqrt(wordvec_dim)
        self.params["Wh"] = np.random.randn(hidden_dim, dim_mul * hidden_dim) / np.sqrt(hidden_dim)
        self.params["b"] = np.zeros(dim_mul * hidden_dim)
        self.params["W_vocab"] = np.random.randn(hidden_dim, vocab_size) / np.sqrt(hidden_dim)
        self.params["b_vocab"] = np.zeros(vocab_size)
        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def loss(self, features, captions):
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        mask = captions_out != self._null
        p = self.params
        h0, proj_cache = layers.affine_forward(features, p["W_proj"], p["b_proj"])
        x, embed_cache = ref.word_embedding_forward(captions_in, p["W_embed"])
        forward, backward = ((ref.rnn_forward, ref.rnn_backward) if self.cell_type == "rnn"
                             else (ref.lstm_forward, ref.lstm_backward))
        h, rnn_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
        scores, vocab_cache = layers.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = layers.temporal_softmax_loss(scores, captions_out, mask)
        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = layers.temporal_affine_backward(dscores, vocab_cache)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, rnn_cache)
        grads["W_embed"] = ref.word_embedding_backward(dx, embed_cache)
        _, grads["W_proj"], grads["b_proj"] = layers.affine_backward(dh0, proj_cache)
        return loss, grads

    def sample(self, features, max_length=30):
        N = features.shape[0]
        captions = self._null * np.ones((N, max_length), dtype=np.int32)
        p = self.params
        h = features @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h)
        word = np.full(N, self._start)
        for t in range(max_length):
            x = p["W_embed"][word]
            if self.cell_type == "rnn":
                h, _ = ref.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            else:
                h, c, _ = ref.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            word = np.argmax(h @ p["W_vocab"] + p["b_vocab"], axis=1)
            captions[:, t] = word
        return captions


def _code_cells(name):
    cells = json.loads((REPO / "notebooks" / name).read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _training_and_later_cells(name):
    """The set-up cell, the data cells, every training cell and every cell after them."""
    cells = _code_cells(name)
    training = [i for i, src in enumerate(cells) if "CaptioningSolver(" in src]
    assert training, f"{name} has no training cell"
    setup = "\n".join(line for line in cells[0].splitlines() if not line.startswith("%"))
    data = [src for src in cells[:training[0]] if re.match(r"data = load_coco_data\(", src)]
    return [setup] + data + cells[training[0]:]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["RNN_Captioning.ipynb", "LSTM_Captioning.ipynb"])
def test_training_cells_run_with_a_cs231n_style_model(name, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("ASSIGNMENT_QUICK", "1")  # the notebooks' short runs
    sources = _training_and_later_cells(name)
    namespace = {}
    exec(compile(sources[0], f"{name} set-up", "exec"), namespace)
    assert namespace["GRADING"] is True
    # what the student wrote, replaced by the CS231n-style model and the reference functions
    namespace.update(CaptioningRNN=CS231nCaptioningRNN, bleu_scores=namespace.get("bleu_scores"))
    for k, src in enumerate(sources[1:], 1):
        exec(compile(src, f"{name} cell {k}", "exec"), namespace)
        plt.close("all")
    models = [v for v in namespace.values() if isinstance(v, CS231nCaptioningRNN)]
    assert models, "no training cell built a CaptioningRNN"
    solvers = [v for k, v in namespace.items() if k.endswith("solver") and hasattr(v, "loss_history")]
    assert solvers and all(len(s.loss_history) > 0 for s in solvers)
    assert all(np.isfinite(s.loss_history).all() for s in solvers)


def test_training_cells_seed_the_global_generator_and_pass_no_seed_to_the_model():
    for name in ("RNN_Captioning.ipynb", "LSTM_Captioning.ipynb"):
        for src in _code_cells(name):
            for call in re.findall(r"CaptioningRNN\((?:[^()]|\([^()]*\))*\)", src, flags=re.S):
                assert "seed" not in call, f"{name}: {call}"


def test_the_notebook_model_without_a_seed_follows_np_random_seed():
    from assignment.notebook_import import import_solution_cells

    namespace = {}
    import_solution_cells(str(REPO / "notebooks" / "RNN_Captioning.ipynb"),
                          ["rnn_step_forward", "rnn_step_backward", "rnn_forward",
                           "rnn_backward", "word_embedding_forward", "word_embedding_backward",
                           "captioning_model"], namespace)
    CaptioningRNN = namespace["CaptioningRNN"]
    vocab = {"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3}
    np.random.seed(5)
    a = CaptioningRNN(vocab, input_dim=4, wordvec_dim=3, hidden_dim=2)
    np.random.seed(5)
    b = CaptioningRNN(vocab, input_dim=4, wordvec_dim=3, hidden_dim=2)
    c = CaptioningRNN(vocab, input_dim=4, wordvec_dim=3, hidden_dim=2)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["Wx"], c.params["Wx"])
