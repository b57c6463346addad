"""The language model's GRU and multilayer stacks agree with PyTorch, values and gradients.

PyTorch's nn.GRU, nn.RNN and nn.LSTM (float64) on the same weights must give
the same hidden states, last states and, by autograd of
sum(h * dh) + sum(hT * dhT) + sum(cT * dcT), the same gradients as the
notebook's solution. Conversions: torch stores weights transposed; it has two
biases where we have one (we give it b and zeros: for the GRU this is exactly
our convention, r * (h Wh_n) with no bias inside the bracket); its LSTM gate
order is i, f, g, o where ours is i, f, o, g.
"""

from __future__ import annotations

import numpy as np
import pytest

from assignment.char_lm import GATES
from charlm_solutions import load

torch = pytest.importorskip(
    "torch", reason="PyTorch is the independent oracle for these tests; install the "
    "'oracle' extra (pip install -e '.[oracle]') to run them")

ATOL = 1e-10


def _to_torch(W, cell_type, H):
    """Our (in, G*H) weight block -> torch's (G*H, in), in torch's gate order."""
    if cell_type == "lstm":
        i, f, o, g = (W[..., k * H:(k + 1) * H] for k in range(4))
        W = np.concatenate([i, f, g, o], axis=-1)
    return torch.tensor(np.ascontiguousarray(W.T))


def _from_torch(grad, cell_type, H):
    """torch's (G*H, in) gradient -> ours (in, G*H)."""
    W = grad.numpy().T
    if cell_type == "lstm":
        i, f, g, o = (W[..., k * H:(k + 1) * H] for k in range(4))
        W = np.concatenate([i, f, o, g], axis=-1)
    return W


def _torch_stack(cell_type, D, H, L, Wx0, Wxs, Whs, bs):
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell_type](
        D, H, num_layers=L, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for l in range(L):
            getattr(module, f"weight_ih_l{l}").copy_(_to_torch(Wx0 if l == 0 else Wxs[l - 1], cell_type, H))
            getattr(module, f"weight_hh_l{l}").copy_(_to_torch(Whs[l], cell_type, H))
            getattr(module, f"bias_ih_l{l}").copy_(_to_torch(bs[l][None], cell_type, H)[:, 0])
            getattr(module, f"bias_hh_l{l}").zero_()
    return module


@pytest.mark.parametrize("cell_type", sorted(GATES))
@pytest.mark.parametrize("L", [1, 2, 3])
def test_multilayer_stack_matches_torch(cell_type, L):
    ns = load()
    rng = np.random.default_rng(L)
    N, T, D, H, G = 3, 5, 4, 6, GATES[cell_type]
    x, h0, c0 = rng.standard_normal((N, T, D)), rng.standard_normal((L, N, H)), rng.standard_normal((L, N, H))
    Wx0 = 0.5 * rng.standard_normal((D, G * H))
    Wxs, Whs = 0.5 * rng.standard_normal((L - 1, H, G * H)), 0.5 * rng.standard_normal((L, H, G * H))
    bs = 0.5 * rng.standard_normal((L, G * H))
    h, hT, cT, cache = ns["multilayer_forward"](x, h0, c0, Wx0, Wxs, Whs, bs, cell_type)

    module = _torch_stack(cell_type, D, H, L, Wx0, Wxs, Whs, bs)
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0, requires_grad=True)
    tc0 = torch.tensor(c0, requires_grad=True)
    if cell_type == "lstm":
        th, (thT, tcT) = module(tx, (th0, tc0))
    else:
        th, thT = module(tx, th0)
        tcT = tc0 * 1.0  # the RNN and the GRU pass the cell state through
    np.testing.assert_allclose(h, th.detach().numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(hT, thT.detach().numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(cT, tcT.detach().numpy(), atol=ATOL, rtol=0)

    dh, dhT, dcT = rng.standard_normal(h.shape), rng.standard_normal(hT.shape), rng.standard_normal(cT.shape)
    ((th * torch.tensor(dh)).sum() + (thT * torch.tensor(dhT)).sum() + (tcT * torch.tensor(dcT)).sum()).backward()
    dx, dh0, dc0, dWx0, dWxs, dWhs, dbs = ns["multilayer_backward"](dh, dhT, dcT, cache)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(dh0, th0.grad.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(dc0, tc0.grad.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(dWx0, _from_torch(module.weight_ih_l0.grad, cell_type, H), atol=ATOL, rtol=0)
    for l in range(L):
        if l:
            np.testing.assert_allclose(dWxs[l - 1], _from_torch(getattr(module, f"weight_ih_l{l}").grad, cell_type, H),
                                       atol=ATOL, rtol=0)
        np.testing.assert_allclose(dWhs[l], _from_torch(getattr(module, f"weight_hh_l{l}").grad, cell_type, H),
                                   atol=ATOL, rtol=0)
        np.testing.assert_allclose(dbs[l], _from_torch(getattr(module, f"bias_ih_l{l}").grad[:, None], cell_type, H)[0],
                                   atol=ATOL, rtol=0)


@pytest.mark.parametrize("N, T, D, H", [(4, 6, 5, 7), (1, 1, 3, 2)])
def test_gru_sequence_matches_torch_gru(N, T, D, H):
    ns = load()
    rng = np.random.default_rng(T)
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, 3 * H)), rng.standard_normal((H, 3 * H)), rng.standard_normal(3 * H)
    h, cache = ns["gru_forward"](x, h0, Wx, Wh, b)
    module = _torch_stack("gru", D, H, 1, Wx, None, Wh[None], b[None])
    tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    th, _ = module(tx, th0)
    np.testing.assert_allclose(h, th.detach().numpy(), atol=ATOL, rtol=0)
    dh = rng.standard_normal(h.shape)
    (th * torch.tensor(dh)).sum().backward()
    dx, dh0, dWx, dWh, db = ns["gru_backward"](dh, cache)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(dh0, th0.grad.numpy()[0], atol=ATOL, rtol=0)
    np.testing.assert_allclose(dWx, module.weight_ih_l0.grad.numpy().T, atol=ATOL, rtol=0)
    np.testing.assert_allclose(dWh, module.weight_hh_l0.grad.numpy().T, atol=ATOL, rtol=0)
    np.testing.assert_allclose(db, module.bias_ih_l0.grad.numpy(), atol=ATOL, rtol=0)


def test_gru_step_is_the_first_step_of_torch_gru_cell():
    ns = load()
    rng = np.random.default_rng(0)
    N, D, H = 3, 4, 5
    x, prev_h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, 3 * H)), rng.standard_normal((H, 3 * H)), rng.standard_normal(3 * H)
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(Wx.T)); cell.weight_hh.copy_(torch.tensor(Wh.T))
        cell.bias_ih.copy_(torch.tensor(b)); cell.bias_hh.zero_()
    expected = cell(torch.tensor(x), torch.tensor(prev_h)).detach().numpy()
    np.testing.assert_allclose(ns["gru_step_forward"](x, prev_h, Wx, Wh, b)[0], expected, atol=ATOL, rtol=0)
