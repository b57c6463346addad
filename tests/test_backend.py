"""The array backend shim: selection, clear errors, and no silent host conversion."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import strict_xp
from assignment import backend, layers, optim
from assignment.backend import to_numpy, use_backend
from assignment.solver import CaptioningSolver

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _import_backend_with(env_value, extra_path=None):
    """Import assignment.backend in a fresh interpreter with ASSIGNMENT_BACKEND set."""
    env = {k: v for k, v in os.environ.items() if k != "ASSIGNMENT_BACKEND"}
    env["ASSIGNMENT_BACKEND"] = env_value
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([extra_path, REPO])
    code = "import assignment.backend as b; print('ACTIVE', b.backend_name())"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_default_backend_is_numpy():
    assert backend.backend_name() == "numpy"
    assert backend.xp.zeros(3).__class__ is np.ndarray


def test_env_var_auto_falls_back_to_numpy_without_gpu():
    result = _import_backend_with("auto")
    assert result.returncode == 0, result.stderr
    assert "ACTIVE numpy" in result.stdout


def test_env_var_cupy_without_cupy_installed_fails_clearly():
    result = _import_backend_with("cupy")
    assert result.returncode != 0
    assert "BackendError" in result.stderr
    assert "CuPy" in result.stderr and "ASSIGNMENT_BACKEND" in result.stderr
    assert "ACTIVE" not in result.stdout  # no silent fallback


def test_env_var_cupy_that_sees_no_gpu_fails_clearly(tmp_path):
    # CuPy imports on machines without a GPU; we cannot have a GPU here, so a
    # minimal stand-in package plays "CuPy installed, no device".
    fake = tmp_path / "cupy"
    (fake / "cuda").mkdir(parents=True)
    (fake / "__init__.py").write_text("from . import cuda\n")
    (fake / "cuda" / "__init__.py").write_text("def is_available():\n    return False\n")
    result = _import_backend_with("cupy", extra_path=str(tmp_path))
    assert result.returncode != 0
    assert "sees no usable CUDA GPU" in result.stderr
    assert "ACTIVE" not in result.stdout
    result = _import_backend_with("auto", extra_path=str(tmp_path))
    assert "ACTIVE numpy" in result.stdout


def test_unknown_backend_name_is_rejected():
    with pytest.raises(backend.BackendError, match="numpy, cupy, auto"):
        backend.set_backend("tensorflow")
    assert backend.backend_name() == "numpy"


def test_use_backend_restores_previous_backend():
    with use_backend(strict_xp):
        assert backend.backend_name() == "strict_xp"
    assert backend.backend_name() == "numpy"


def test_xp_proxy_follows_set_backend():
    from assignment.backend import xp
    with use_backend(strict_xp):
        assert isinstance(xp.zeros(2), strict_xp.StrictArray)
    assert isinstance(xp.zeros(2), np.ndarray)


# ---------------------------------------------------- the strict stand-in itself
def test_strict_module_refuses_implicit_host_conversion():
    a = strict_xp.asarray(np.ones((2, 3)))
    with pytest.raises(strict_xp.HostConversionError):
        np.asarray(a)
    with pytest.raises(strict_xp.HostConversionError):
        np.tanh(a)
    with pytest.raises(strict_xp.HostConversionError):
        a + np.ones((2, 3))
    with pytest.raises(strict_xp.HostConversionError):
        np.zeros((2, 3)) + a
    assert isinstance(strict_xp.tanh(a) @ a.T, strict_xp.StrictArray)
    np.testing.assert_array_equal(to_numpy(a * 2), 2 * np.ones((2, 3)))


def test_scatter_add_accumulates_repeated_indices_on_both_backends():
    idx = np.array([0, 2, 0, 0])
    vals = np.arange(8.0).reshape(4, 2)
    expected = np.zeros((3, 2))
    np.add.at(expected, idx, vals)
    host = np.zeros((3, 2))
    backend.scatter_add(host, idx, vals)
    np.testing.assert_array_equal(host, expected)
    with use_backend(strict_xp):
        dev = strict_xp.zeros((3, 2))
        backend.scatter_add(dev, strict_xp.asarray(idx), strict_xp.asarray(vals))
    np.testing.assert_array_equal(to_numpy(dev), expected)


# ---------------------------------------------------- the training path stays on device
@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_solver_step_runs_entirely_on_the_active_backend(cell_type, tiny_data):
    from autograder.answer_key.solution import reference
    data = tiny_data
    with use_backend(strict_xp):
        model = reference().CaptioningRNN(data["word_to_idx"], input_dim=16, wordvec_dim=8,
                                        hidden_dim=10, cell_type=cell_type, seed=0)
        assert all(isinstance(p, strict_xp.StrictArray) for p in model.params.values())
        solver = CaptioningSolver(model, data, update_rule="adam", batch_size=8, num_epochs=1,
                                  max_iterations=3, validate=True, val_bleu_images=4,
                                  verbose=False, progress=False, seed=0)
        solver.train()
        # any implicit conversion would have raised HostConversionError above
        assert len(solver.loss_history) == 3 and np.isfinite(solver.loss_history).all()
        assert all(isinstance(p, strict_xp.StrictArray) for p in model.params.values())
        assert all(isinstance(c["m"], strict_xp.StrictArray) for c in solver.optim_configs.values())
        sampled = model.sample(strict_xp.asarray(data["val_features"][:3]), max_length=5)
        assert sampled.shape == (3, 5)


def test_provided_layers_and_optimizers_run_on_the_active_backend():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal((5, 6)), rng.standard_normal(6)
    y = rng.integers(0, 6, size=(4, 3))
    mask = rng.random((4, 3)) > 0.3
    host_out = layers.temporal_affine_forward(x, w, b)[0]
    host_loss, host_dx = layers.temporal_softmax_loss(host_out, y, mask)
    with use_backend(strict_xp):
        dev = [strict_xp.asarray(a) for a in (x, w, b, y, mask)]
        out, cache = layers.temporal_affine_forward(*dev[:3])
        loss, dx = layers.temporal_softmax_loss(out, dev[3], dev[4])
        dxx, dw, db = layers.temporal_affine_backward(dx, cache)
        s = layers.sigmoid(out)
        wa, _ = optim.adam(strict_xp.asarray(w), dw)
        ws, _ = optim.sgd(strict_xp.asarray(w), dw)
        for arr in (out, dx, dxx, dw, db, s, wa, ws):
            assert isinstance(arr, strict_xp.StrictArray)
    assert np.isclose(float(loss), float(host_loss))
    np.testing.assert_allclose(to_numpy(dx), host_dx)
