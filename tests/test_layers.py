"""Provided layers and update rules: float64 gradient checks and an independent Adam."""

import numpy as np
import pytest

from assignment import layers, optim
from assignment.gradient_check import (check_layer_gradients, eval_numerical_gradient,
                                       eval_numerical_gradient_array, rel_error)

TOL = 1e-8


def test_affine_gradients():
    rng = np.random.default_rng(0)
    report = check_layer_gradients(layers.affine_forward, layers.affine_backward,
                                   dict(x=rng.standard_normal((5, 2, 3)), w=rng.standard_normal((6, 4)),
                                        b=rng.standard_normal(4)), tol=TOL, verbose=False)
    assert report.passed, str(report)


def test_temporal_affine_gradients_and_values():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((5, 6)), rng.standard_normal(6)
    out, _ = layers.temporal_affine_forward(x, w, b)
    np.testing.assert_allclose(out, np.einsum("ntd,dm->ntm", x, w) + b)
    report = check_layer_gradients(layers.temporal_affine_forward, layers.temporal_affine_backward,
                                   dict(x=x, w=w, b=b), tol=TOL, verbose=False)
    assert report.passed, str(report)


def test_temporal_softmax_loss_gradient_value_and_mask():
    rng = np.random.default_rng(2)
    N, T, V = 6, 5, 7
    x = rng.standard_normal((N, T, V))
    y = rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) > 0.4
    loss, dx = layers.temporal_softmax_loss(x, y, mask)
    dx_num = eval_numerical_gradient(lambda z: layers.temporal_softmax_loss(z, y, mask)[0], x,
                                     verbose=False)
    assert rel_error(dx, dx_num) < TOL
    # value: summed over unmasked steps, averaged over the batch
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    expected = -np.sum(np.log(np.take_along_axis(p, y[..., None], -1))[..., 0] * mask) / N
    assert loss == pytest.approx(expected, rel=1e-12)
    # masked steps do not matter
    x2 = x.copy()
    x2[~mask] += 100 * rng.standard_normal(((~mask).sum(), V))
    assert layers.temporal_softmax_loss(x2, y, mask)[0] == pytest.approx(loss, rel=1e-12)
    assert np.all(dx[~mask] == 0)


def test_temporal_softmax_loss_is_stable_for_huge_scores():
    x = np.array([[[1e4, 0.0, -1e4]]])
    loss, dx = layers.temporal_softmax_loss(x, np.array([[1]]), np.array([[True]]))
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss == pytest.approx(1e4)


def test_temporal_softmax_loss_verbose_prints_shapes(capsys):
    layers.temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), int), np.ones((2, 3), bool),
                                 verbose=True)
    assert "(6, 4)" in capsys.readouterr().out


def test_sigmoid_is_stable_and_correct():
    x = np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 1000.0])
    with np.errstate(over="raise"):
        s = layers.sigmoid(x)
    np.testing.assert_allclose(s[1:-1], 1 / (1 + np.exp(-x[1:-1])), rtol=1e-14)
    assert s[0] == 0.0 and s[-1] == 1.0
    df = np.ones(3)
    z = np.array([-2.0, 0.3, 4.0])
    grad = eval_numerical_gradient_array(layers.sigmoid, z.copy(), df)
    assert rel_error(grad, layers.sigmoid(z) * (1 - layers.sigmoid(z))) < TOL


def test_sgd_step():
    w, dw = np.ones(3), np.arange(3.0)
    next_w, config = optim.sgd(w.copy(), dw, {"learning_rate": 0.5})
    np.testing.assert_allclose(next_w, 1 - 0.5 * dw)
    assert optim.sgd(w.copy(), dw)[1]["learning_rate"] == 1e-2


def test_adam_matches_pytorch_over_several_steps():
    torch = pytest.importorskip("torch", reason="torch (the oracle extra) is the independent reference")
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(6)]
    tw = torch.tensor(w.copy(), requires_grad=True)
    opt = torch.optim.Adam([tw], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    config = {"learning_rate": 1e-2}
    ours = w.copy()
    for g in grads:
        ours, config = optim.adam(ours, g, config)
        tw.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(ours, tw.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert config["t"] == 6


@pytest.mark.parametrize("call, message", [
    (lambda: layers.affine_forward(np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(5)), r"w must have shape \(D, M\) = \(3, M\)"),
    (lambda: layers.affine_forward(np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(4)), r"b must have shape \(5,\)"),
    (lambda: layers.temporal_affine_forward(np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(5)), r"x must have shape \(N, T, D\)"),
    (lambda: layers.temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((3, 2), int), np.ones((2, 3), bool)), r"y must have shape \(N, T\) = \(2, 3\)"),
    (lambda: layers.temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), int), np.ones((2, 4), bool)), r"mask must have shape"),
])
def test_provided_layers_name_the_bad_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
