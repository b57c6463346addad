"""The reference RNN and LSTM agree with PyTorch's nn.RNN / nn.LSTM, values and gradients.

PyTorch is an independent implementation of the same recurrences; on the same
weights in float64 the hidden states, and every gradient obtained by autograd
of sum(h * dh), must agree with ours to round-off. Conversions:

* torch stores weights transposed: weight_ih = Wx.T (4H, D), weight_hh = Wh.T;
* torch has two biases, bias_ih + bias_hh, where we have one b: we give torch
  b and zeros (and its gradient reaches both equally);
* torch's LSTM gate order is i, f, g, o; ours is i, f, o, g: the blocks of
  columns are permuted on the way in and on the way back.

The largest errors are printed (run pytest with -s to see them).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is the independent oracle for these tests; install the "
    "'oracle' extra (pip install -e '.[oracle]') to run them")

from autograder.answer_key.solution import reference  # noqa: E402

ref = reference()

# float64 round-off over a few hundred operations: absolute errors ~1e-15;
# relative errors up to ~1e-11 on entries that are nearly zero
ABS_TOL = 1e-10
REL_TOL = 1e-9

# (N, T, D, H)
SHAPES = [(4, 6, 5, 7), (1, 1, 3, 2), (3, 10, 8, 16)]
SHAPE_IDS = [f"N{n}-T{t}-D{d}-H{h}" for n, t, d, h in SHAPES]


def ours_to_torch_gate_order(W, H):
    """Columns i, f, o, g (ours) -> rows i, f, g, o (torch), transposed."""
    i, f, o, g = (W[..., k * H:(k + 1) * H] for k in range(4))
    return np.concatenate([i, f, g, o], axis=-1).T


def torch_to_our_gate_order(W_t, H):
    """Inverse of ours_to_torch_gate_order, for gradients."""
    W = W_t.T
    i, f, g, o = (W[..., k * H:(k + 1) * H] for k in range(4))
    return np.concatenate([i, f, o, g], axis=-1)


def assert_agrees(title, pairs):
    """Print the largest absolute and relative errors of (name, ours, torch) pairs; check them."""
    worst_abs = worst_rel = 0.0
    lines = []
    for name, ours, theirs in pairs:
        ours, theirs = np.asarray(ours), np.asarray(theirs)
        assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} vs torch {theirs.shape}"
        abs_err = float(np.max(np.abs(ours - theirs)))
        rel_err = float(np.max(np.abs(ours - theirs) / np.maximum(1e-8, np.abs(ours) + np.abs(theirs))))
        worst_abs, worst_rel = max(worst_abs, abs_err), max(worst_rel, rel_err)
        lines.append(f"  {name:<7} max abs error {abs_err:.1e}  max rel error {rel_err:.1e}")
    print(f"\n{title}: agreement with PyTorch (float64)\n" + "\n".join(lines)
          + f"\n  worst: max abs error {worst_abs:.1e}, max rel error {worst_rel:.1e}")
    assert worst_abs <= ABS_TOL, f"{title}: max abs error {worst_abs:.1e} > {ABS_TOL:.0e}"
    assert worst_rel <= REL_TOL, f"{title}: max rel error {worst_rel:.1e} > {REL_TOL:.0e}"


def inputs(seed, N, T, D, H, gates):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
            rng.standard_normal((D, gates * H)) / np.sqrt(D),
            rng.standard_normal((H, gates * H)) / np.sqrt(H),
            0.1 * rng.standard_normal(gates * H),
            rng.standard_normal((N, T, H)))


def t64(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def set_torch_weights(module, Wx_t, Wh_t, b_t, suffix=""):
    """Copy our weights (already in torch layout) into a torch module; torch's second bias is 0."""
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(t64(Wx_t))
        getattr(module, "weight_hh" + suffix).copy_(t64(Wh_t))
        getattr(module, "bias_ih" + suffix).copy_(t64(b_t))
        getattr(module, "bias_hh" + suffix).zero_()


def torch_grads(module, suffix=""):
    g = {k: getattr(module, k + suffix).grad.numpy() for k in ("weight_ih", "weight_hh",
                                                                  "bias_ih", "bias_hh")}
    # the two biases are added, so both receive the gradient of our single b
    # (torch sums them in different orders: equal up to round-off)
    np.testing.assert_allclose(g["bias_ih"], g["bias_hh"], rtol=0, atol=1e-13)
    return g


# ------------------------------------------------------------------------ sequences


@pytest.mark.parametrize("N,T,D,H", SHAPES, ids=SHAPE_IDS)
def test_rnn_forward_and_backward_agree_with_torch_rnn(N, T, D, H):
    x, h0, Wx, Wh, b, dh = inputs(0, N, T, D, H, gates=1)
    h, cache = ref.rnn_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = ref.rnn_backward(dh, cache)

    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True, dtype=torch.float64)
    set_torch_weights(rnn, Wx.T, Wh.T, b, suffix="_l0")
    x_t, h0_t = t64(x, grad=True), t64(h0, grad=True)
    h_t, _ = rnn(x_t, h0_t[None])  # torch wants h0 as (layers, N, H)
    (h_t * t64(dh)).sum().backward()
    g = torch_grads(rnn, "_l0")

    assert_agrees(f"rnn_forward/backward N={N} T={T} D={D} H={H}", [
        ("h", h, h_t.detach().numpy()), ("dx", dx, x_t.grad.numpy()),
        ("dh0", dh0, h0_t.grad.numpy()), ("dWx", dWx, g["weight_ih"].T),
        ("dWh", dWh, g["weight_hh"].T), ("db", db, g["bias_ih"])])


@pytest.mark.parametrize("N,T,D,H", SHAPES, ids=SHAPE_IDS)
def test_lstm_forward_and_backward_agree_with_torch_lstm(N, T, D, H):
    x, h0, Wx, Wh, b, dh = inputs(1, N, T, D, H, gates=4)
    h, cache = ref.lstm_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = ref.lstm_backward(dh, cache)

    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    set_torch_weights(lstm, ours_to_torch_gate_order(Wx, H), ours_to_torch_gate_order(Wh, H),
                      ours_to_torch_gate_order(b, H), suffix="_l0")
    x_t, h0_t = t64(x, grad=True), t64(h0, grad=True)
    c0_t = torch.zeros(1, N, H, dtype=torch.float64)  # our LSTM starts from c0 = 0
    h_t, _ = lstm(x_t, (h0_t[None], c0_t))
    (h_t * t64(dh)).sum().backward()
    g = torch_grads(lstm, "_l0")

    assert_agrees(f"lstm_forward/backward N={N} T={T} D={D} H={H}", [
        ("h", h, h_t.detach().numpy()), ("dx", dx, x_t.grad.numpy()),
        ("dh0", dh0, h0_t.grad.numpy()),
        ("dWx", dWx, torch_to_our_gate_order(g["weight_ih"], H)),
        ("dWh", dWh, torch_to_our_gate_order(g["weight_hh"], H)),
        ("db", db, torch_to_our_gate_order(g["bias_ih"], H))])


# ---------------------------------------------------------------------------- steps


def test_rnn_step_agrees_with_torch_rnn_cell():
    N, D, H = 5, 4, 6
    x, h, Wx, Wh, b, _ = inputs(2, N, 1, D, H, gates=1)
    x = x[:, 0]
    dnext = np.random.default_rng(3).standard_normal((N, H))
    next_h, cache = ref.rnn_step_forward(x, h, Wx, Wh, b)
    dx, dprev_h, dWx, dWh, db = ref.rnn_step_backward(dnext, cache)

    cell = torch.nn.RNNCell(D, H, nonlinearity="tanh", dtype=torch.float64)
    set_torch_weights(cell, Wx.T, Wh.T, b)
    x_t, h_t = t64(x, grad=True), t64(h, grad=True)
    next_t = cell(x_t, h_t)
    (next_t * t64(dnext)).sum().backward()
    g = torch_grads(cell)

    assert_agrees("rnn_step_forward/backward", [
        ("next_h", next_h, next_t.detach().numpy()), ("dx", dx, x_t.grad.numpy()),
        ("dprev_h", dprev_h, h_t.grad.numpy()), ("dWx", dWx, g["weight_ih"].T),
        ("dWh", dWh, g["weight_hh"].T), ("db", db, g["bias_ih"])])


def test_lstm_step_agrees_with_torch_lstm_cell():
    N, D, H = 5, 4, 6
    x, h, Wx, Wh, b, _ = inputs(4, N, 1, D, H, gates=4)
    x = x[:, 0]
    rng = np.random.default_rng(5)
    c, dnext_h, dnext_c = (rng.standard_normal((N, H)) for _ in range(3))
    next_h, next_c, cache = ref.lstm_step_forward(x, h, c, Wx, Wh, b)
    dx, dprev_h, dprev_c, dWx, dWh, db = ref.lstm_step_backward(dnext_h, dnext_c, cache)

    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    set_torch_weights(cell, ours_to_torch_gate_order(Wx, H), ours_to_torch_gate_order(Wh, H),
                      ours_to_torch_gate_order(b, H))
    x_t, h_t, c_t = t64(x, grad=True), t64(h, grad=True), t64(c, grad=True)
    next_h_t, next_c_t = cell(x_t, (h_t, c_t))
    ((next_h_t * t64(dnext_h)).sum() + (next_c_t * t64(dnext_c)).sum()).backward()
    g = torch_grads(cell)

    assert_agrees("lstm_step_forward/backward", [
        ("next_h", next_h, next_h_t.detach().numpy()),
        ("next_c", next_c, next_c_t.detach().numpy()),
        ("dx", dx, x_t.grad.numpy()), ("dprev_h", dprev_h, h_t.grad.numpy()),
        ("dprev_c", dprev_c, c_t.grad.numpy()),
        ("dWx", dWx, torch_to_our_gate_order(g["weight_ih"], H)),
        ("dWh", dWh, torch_to_our_gate_order(g["weight_hh"], H)),
        ("db", db, torch_to_our_gate_order(g["bias_ih"], H))])


def test_word_embedding_agrees_with_torch_embedding():
    V, D = 6, 3
    rng = np.random.default_rng(6)
    x = np.array([[0, 5, 5, 1], [5, 2, 0, 5]])  # repeated words must add up
    W, dout = rng.standard_normal((V, D)), rng.standard_normal((2, 4, D))
    out, cache = ref.word_embedding_forward(x, W)
    dW = ref.word_embedding_backward(dout, cache)

    W_t = t64(W, grad=True)
    out_t = torch.nn.functional.embedding(torch.tensor(x), W_t)
    (out_t * t64(dout)).sum().backward()

    assert_agrees("word_embedding_forward/backward", [
        ("out", out, out_t.detach().numpy()), ("dW", dW, W_t.grad.numpy())])
