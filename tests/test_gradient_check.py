"""The gradient-check tools: numerical gradients, rel_error and the one-call reports."""

import numpy as np
import pytest

from assignment import layers
from assignment.gradient_check import (check_layer_gradients, check_loss_gradients,
                                       eval_numerical_gradient, eval_numerical_gradient_array,
                                       rel_error)


def test_rel_error_is_the_max_elementwise_relative_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="different shapes"):
        rel_error(np.zeros(3), np.zeros(4))


def test_numerical_gradient_of_a_known_function_and_x_restored():
    rng = np.random.default_rng(0)
    x = 1 + rng.random((3, 4))  # away from 0, where a relative error means little
    x0 = x.copy()
    grad = eval_numerical_gradient(lambda z: np.sum(z ** 3), x, verbose=False)
    assert rel_error(grad, 3 * x0 ** 2) < 1e-8
    np.testing.assert_array_equal(x, x0)


def test_numerical_gradient_verbose_prints_each_coordinate(capsys):
    eval_numerical_gradient(lambda z: np.sum(z ** 2), np.ones(2), verbose=True)
    assert capsys.readouterr().out.count("(") == 2


def test_numerical_gradient_array_of_a_linear_map():
    rng = np.random.default_rng(1)
    x, w, df = rng.standard_normal((2, 3)), rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    grad = eval_numerical_gradient_array(lambda z: z @ w, x, df)
    assert rel_error(grad, df @ w.T) < 1e-9


def test_numerical_gradient_rejects_integer_arrays():
    with pytest.raises(TypeError, match="floating-point"):
        eval_numerical_gradient(lambda z: z.sum(), np.arange(3), verbose=False)


def test_layer_report_passes_a_correct_backward(capsys):
    rng = np.random.default_rng(2)
    report = check_layer_gradients(layers.affine_forward, layers.affine_backward,
                                   dict(x=rng.standard_normal((4, 5)), w=rng.standard_normal((5, 3)),
                                        b=rng.standard_normal(3)), tol=1e-8)
    out = capsys.readouterr().out
    assert report.passed and set(report.errors) == {"dx", "dw", "db"}
    assert out.count("PASS") == 3 and "all gradients match" in out and "tolerance 1e-08" in out


def test_layer_report_names_the_wrong_gradient():
    def backward_with_sum_missing(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx, dw, dout[0]  # forgot to sum db over the batch

    rng = np.random.default_rng(3)
    report = check_layer_gradients(layers.affine_forward, backward_with_sum_missing,
                                   dict(x=rng.standard_normal((4, 5)), w=rng.standard_normal((5, 3)),
                                        b=rng.standard_normal(3)), verbose=False)
    assert not report.passed and report.failed == ["db"]
    assert "FAIL" in str(report) and "gradients that do not match: db" in str(report)


def test_layer_report_flags_a_gradient_of_the_wrong_shape():
    def backward_transposed(dout, cache):
        dx, dw, db = layers.affine_backward(dout, cache)
        return dx, dw.T, db

    rng = np.random.default_rng(4)
    report = check_layer_gradients(layers.affine_forward, backward_transposed,
                                   dict(x=rng.standard_normal((4, 5)), w=rng.standard_normal((5, 3)),
                                        b=rng.standard_normal(3)), verbose=False)
    assert report.failed == ["dw"] and "expected (5, 3)" in str(report)


def test_layer_report_complains_about_the_number_of_gradients():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="returned 2 gradients but 3 were expected"):
        check_layer_gradients(layers.affine_forward, lambda d, c: layers.affine_backward(d, c)[:2],
                              dict(x=rng.standard_normal((2, 2)), w=rng.standard_normal((2, 2)),
                                   b=rng.standard_normal(2)), verbose=False)


def _quadratic_problem(rng):
    A = rng.standard_normal((4, 4))
    params = {"u": 1 + rng.random(4), "v": 0.3 * (1 + rng.random((2, 4)))}

    def loss_fn():
        u, v = params["u"], params["v"]
        loss = u @ A @ u + np.sum(np.tanh(v @ u))
        t = 1 - np.tanh(v @ u) ** 2
        return loss, {"u": (A + A.T) @ u + v.T @ t, "v": np.outer(t, u)}
    return params, loss_fn


@pytest.mark.parametrize("directional", [False, True])
def test_loss_report_passes_correct_gradients_and_restores_params(directional):
    params, loss_fn = _quadratic_problem(np.random.default_rng(6))
    saved = {k: v.copy() for k, v in params.items()}
    report = check_loss_gradients(loss_fn, params, directional=directional, verbose=False)
    assert report.passed, str(report)
    for k in params:
        np.testing.assert_array_equal(params[k], saved[k])


@pytest.mark.parametrize("directional", [False, True])
def test_loss_report_catches_a_wrong_gradient(directional):
    params, loss_fn = _quadratic_problem(np.random.default_rng(7))
    _, grads = loss_fn()
    grads["v"] = 2 * grads["v"]
    report = check_loss_gradients(loss_fn, params, grads=grads, directional=directional,
                                  verbose=False)
    assert not report.passed
    if not directional:
        assert report.failed == ["v"]


def test_loss_report_requires_float64_host_params():
    with pytest.raises(TypeError, match="float64"):
        check_loss_gradients(lambda: (0.0, {"w": np.zeros(2)}), {"w": np.zeros(2, np.float32)})
