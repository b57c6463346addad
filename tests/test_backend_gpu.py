"""The CuPy backend for real, on an NVIDIA GPU: every layer, a solver step, the captioning model.

Skipped on machines without CuPy and a GPU (CI, laptops); with ``REQUIRE_GPU=1``
(set by ``scripts/gpu_check.sh``, which runs it on a GPU machine) a missing GPU
is an error instead. Every test computes the same thing on NumPy and on
CuPy in float64 and requires the GPU results (1) to be CuPy arrays, so
nothing fell back to the host, and (2) to agree with NumPy to float64
round-off: cuBLAS sums in another order than OpenBLAS, nothing more.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from assignment import backend, layers, optim
from assignment.backend import to_numpy, use_backend
from assignment.solver import CaptioningSolver
from autograder.answer_key.solution import reference

try:
    backend._load_cupy()
    HAVE_GPU, WHY_NOT = True, ""
except backend.BackendError as err:
    HAVE_GPU, WHY_NOT = False, str(err)

# scripts/gpu_check.sh sets REQUIRE_GPU=1: there a missing GPU is an error, not a skip
if os.environ.get("REQUIRE_GPU") == "1" and not HAVE_GPU:
    raise RuntimeError(f"REQUIRE_GPU=1 but the CuPy backend cannot be used: {WHY_NOT}")

pytestmark = pytest.mark.skipif(not HAVE_GPU, reason="needs CuPy and an NVIDIA GPU "
                                                      "(scripts/gpu_check.sh runs these)")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# float64 on both sides: only the order of summation differs (cuBLAS vs OpenBLAS)
RTOL, ATOL = 1e-10, 1e-12


def run_on_both(func, host_inputs):
    """func(*inputs) on NumPy and on CuPy; returns (numpy outputs, cupy outputs) as tuples."""
    def as_tuple(out):
        return tuple(out) if isinstance(out, tuple) else (out,)
    with use_backend("numpy"):  # copies: an update rule may change its inputs in place
        expected = as_tuple(func(*[a.copy() if isinstance(a, np.ndarray) else a
                                   for a in host_inputs]))
    with use_backend("cupy") as cupy:
        device_inputs = [backend.asarray(a) if isinstance(a, np.ndarray) else a
                         for a in host_inputs]
        got = as_tuple(func(*device_inputs))
        cupy.cuda.Device().synchronize()
    return expected, got, cupy


def assert_same_on_gpu(expected, got, cupy, skip_types=()):
    """Every array of ``got`` is a CuPy array equal to the NumPy one up to round-off."""
    assert len(expected) == len(got)
    for k, (e, g) in enumerate(zip(expected, got)):
        if isinstance(e, skip_types):  # caches: checked through the backward pass that uses them
            continue
        assert isinstance(g, cupy.ndarray), f"output {k} is a {type(g).__name__}, not on the GPU"
        assert g.dtype == e.dtype, f"output {k}: dtype {g.dtype} on the GPU, {e.dtype} on NumPy"
        np.testing.assert_allclose(to_numpy(g), e, rtol=RTOL, atol=ATOL,
                                   err_msg=f"output {k} differs between CuPy and NumPy")


def _rng(seed):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ the backend itself


def test_env_var_cupy_selects_cupy_in_a_fresh_interpreter():
    env = dict(os.environ, ASSIGNMENT_BACKEND="cupy")
    code = "import assignment.backend as b; print('ACTIVE', b.backend_name(), b.xp.zeros(2).device)"
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ACTIVE cupy" in result.stdout


def test_scatter_add_accumulates_repeated_indices_on_the_gpu():
    idx = np.array([0, 2, 0, 0])
    vals = np.arange(8.0).reshape(4, 2)
    expected = np.zeros((3, 2))
    np.add.at(expected, idx, vals)
    with use_backend("cupy") as cupy:
        dev = cupy.zeros((3, 2))
        backend.scatter_add(dev, cupy.asarray(idx), cupy.asarray(vals))
    np.testing.assert_array_equal(to_numpy(dev), expected)


# ------------------------------------------------------------------ provided layers


def test_provided_layers_agree_with_numpy_on_the_gpu():
    rng = _rng(0)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal((5, 6)), rng.standard_normal(6)
    x2, w2 = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 7))
    y = rng.integers(0, 6, size=(4, 3))
    mask = rng.random((4, 3)) > 0.3
    dout3, dout2 = rng.standard_normal((4, 3, 6)), rng.standard_normal((4, 7))

    def provided(x, w, b, x2, w2, b2, y, mask, dout3, dout2):
        out, cache = layers.temporal_affine_forward(x, w, b)
        dx, dw, db = layers.temporal_affine_backward(dout3, cache)
        loss, dscores = layers.temporal_softmax_loss(out, y, mask)
        aout, acache = layers.affine_forward(x2, w2, b2)
        adx, adw, adb = layers.affine_backward(dout2, acache)
        return out, dx, dw, db, loss, dscores, aout, adx, adw, adb, layers.sigmoid(50 * out)

    expected, got, cupy = run_on_both(provided, [x, w, b, x2, w2, rng.standard_normal(7), y, mask,
                                                 dout3, dout2])
    assert_same_on_gpu(expected, got, cupy)


@pytest.mark.parametrize("rule", ["sgd", "adam"])
def test_update_rules_agree_with_numpy_on_the_gpu(rule):
    rng = _rng(1)
    w, dw = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))

    def three_steps(w, dw):
        config = {"learning_rate": 1e-2}
        for _ in range(3):
            w, config = getattr(optim, rule)(w, dw, config)
        return (w,) + tuple(v for v in config.values() if not isinstance(v, (int, float)))

    expected, got, cupy = run_on_both(three_steps, [w, dw])
    assert_same_on_gpu(expected, got, cupy)


# ------------------------------------------------------------------ reference layers

N, T, D, H, V, W = 4, 5, 6, 7, 11, 8


def test_rnn_layers_agree_with_numpy_on_the_gpu():
    rng = _rng(2)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), rng.standard_normal(H)
    dh, dnext = rng.standard_normal((N, T, H)), rng.standard_normal((N, H))

    def rnn(x, h0, Wx, Wh, b, dh, dnext):
        next_h, step_cache = reference().rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
        step_grads = reference().rnn_step_backward(dnext, step_cache)
        h, cache = reference().rnn_forward(x, h0, Wx, Wh, b)
        return (next_h,) + step_grads + (h,) + reference().rnn_backward(dh, cache)

    expected, got, cupy = run_on_both(rnn, [x, h0, Wx, Wh, b, dh, dnext])
    assert_same_on_gpu(expected, got, cupy)


def test_lstm_layers_agree_with_numpy_on_the_gpu():
    rng = _rng(3)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    Wx, Wh = rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H))
    b = rng.standard_normal(4 * H)
    dh, dnext_h, dnext_c = (rng.standard_normal(s) for s in ((N, T, H), (N, H), (N, H)))

    def lstm(x, h0, c0, Wx, Wh, b, dh, dnext_h, dnext_c):
        next_h, next_c, step_cache = reference().lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
        step_grads = reference().lstm_step_backward(dnext_h, dnext_c, step_cache)
        h, cache = reference().lstm_forward(x, h0, Wx, Wh, b)
        return (next_h, next_c) + step_grads + (h,) + reference().lstm_backward(dh, cache)

    expected, got, cupy = run_on_both(lstm, [x, h0, c0, Wx, Wh, b, dh, dnext_h, dnext_c])
    assert_same_on_gpu(expected, got, cupy)


def test_word_embedding_agrees_with_numpy_on_the_gpu():
    rng = _rng(4)
    words = rng.integers(0, V, size=(N, T))
    words[0, :3] = 2  # a repeated word: its gradients must add up
    Wemb, dout = rng.standard_normal((V, W)), rng.standard_normal((N, T, W))

    def embedding(words, Wemb, dout):
        out, cache = reference().word_embedding_forward(words, Wemb)
        return out, reference().word_embedding_backward(dout, cache)

    expected, got, cupy = run_on_both(embedding, [words, Wemb, dout])
    assert_same_on_gpu(expected, got, cupy)


# ------------------------------------------------------------------ captioning model, solver


def _vocab():
    words = ["<NULL>", "<START>", "<END>"] + [f"w{i}" for i in range(V - 3)]
    return {w: i for i, w in enumerate(words)}


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_captioning_loss_gradients_and_sampling_agree_with_numpy_on_the_gpu(cell_type):
    rng = _rng(5)
    features = rng.standard_normal((N, D))
    captions = rng.integers(0, V, size=(N, T + 1))
    captions[:, 0] = 1

    def model_outputs():
        model = reference().CaptioningRNN(_vocab(), input_dim=D, wordvec_dim=W, hidden_dim=H,
                                        cell_type=cell_type, dtype=np.float64, seed=0)
        loss, grads = model.loss(features, captions)
        return model, loss, grads, model.sample(features, max_length=6)

    with use_backend("numpy"):
        _, loss_np, grads_np, sample_np = model_outputs()
    with use_backend("cupy") as cupy:
        model, loss_gpu, grads_gpu, sample_gpu = model_outputs()
        assert all(isinstance(p, cupy.ndarray) for p in model.params.values())
    assert float(loss_gpu) == pytest.approx(float(loss_np), rel=RTOL)
    assert sorted(grads_gpu) == sorted(grads_np)
    for name, g in grads_gpu.items():
        assert isinstance(g, cupy.ndarray), f"d{name} is not on the GPU"
        np.testing.assert_allclose(to_numpy(g), grads_np[name], rtol=RTOL, atol=ATOL,
                                   err_msg=f"d{name} differs between CuPy and NumPy")
    assert isinstance(sample_gpu, np.ndarray)  # sample() hands captions back on the host
    np.testing.assert_array_equal(sample_gpu, sample_np)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_solver_steps_on_the_gpu_match_numpy_and_stay_on_the_device(cell_type, tiny_data):
    def train():
        model = reference().CaptioningRNN(tiny_data["word_to_idx"], input_dim=16, wordvec_dim=8,
                                        hidden_dim=10, cell_type=cell_type, dtype=np.float64,
                                        seed=0)
        solver = CaptioningSolver(model, tiny_data, update_rule="adam", batch_size=8,
                                  num_epochs=1, max_iterations=4, verbose=False, progress=False,
                                  seed=0)
        solver.train()
        return model, solver

    with use_backend("numpy"):
        model_np, solver_np = train()
    with use_backend("cupy") as cupy:
        model_gpu, solver_gpu = train()
        assert all(isinstance(p, cupy.ndarray) for p in model_gpu.params.values())
        assert all(isinstance(c["m"], cupy.ndarray) for c in solver_gpu.optim_configs.values())
    np.testing.assert_allclose(solver_gpu.loss_history, solver_np.loss_history, rtol=1e-9)
    for name, p in model_gpu.params.items():
        np.testing.assert_allclose(to_numpy(p), model_np.params[name], rtol=1e-8, atol=1e-10,
                                   err_msg=f"{name} after 4 Adam steps differs")


def test_float32_training_iteration_runs_on_the_gpu(tiny_data):
    with use_backend("cupy") as cupy:
        model = reference().CaptioningRNN(tiny_data["word_to_idx"], input_dim=16, wordvec_dim=8,
                                        hidden_dim=10, cell_type="lstm", seed=0)
        solver = CaptioningSolver(model, tiny_data, update_rule="adam", batch_size=8,
                                  num_epochs=1, max_iterations=2, verbose=False, progress=False,
                                  seed=0)
        solver.train()
        assert all(p.dtype == np.float32 and isinstance(p, cupy.ndarray)
                   for p in model.params.values())
    assert np.isfinite(solver.loss_history).all()
