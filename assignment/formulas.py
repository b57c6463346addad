"""The formulas of the backward passes, for when you are stuck.

The notebooks explain what every gradient means and how the graph is shaped,
and leave the derivation to you: that is the exercise. When a check cell
finds a wrong gradient, it offers these formulas::

    import assignment.formulas; assignment.formulas.show("rnn_step_backward")

Try to derive them first (on paper, for one row of the minibatch, then for
all N rows); reading them only pays off once you know which step you are
stuck on.
"""

from __future__ import annotations

__all__ = ["FORMULAS", "show", "offer"]

FORMULAS = {
    "rnn_step_backward": """\
rnn_step_backward, with a = x @ Wx + prev_h @ Wh + b and next_h = tanh(a):

  gradient  formula                                   shape
  da        dnext_h * (1 - next_h**2)   (elementwise)   (N, H)
  dx        da @ Wx.T                                 (N, D)
  dprev_h   da @ Wh.T                                 (N, H)
  dWx       x.T @ da                                  (D, H)
  dWh       prev_h.T @ da                             (H, H)
  db        da.sum(axis=0)                            (H,)

The matrix products x.T @ da and prev_h.T @ da sum the contributions of the
N rows, as db does explicitly.""",
    "rnn_backward": """\
rnn_backward: for t = T-1, ..., 0 (dprev_h starts as zeros):

  dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, cache of step t)
  dWx += dWx_t;  dWh += dWh_t;  db += db_t

and after the loop dh0 = dprev_h. The cache of step t is (x[:, t], h0 if t == 0
else h[:, t-1], Wx, Wh, h[:, t]).""",
    "lstm_step_backward": """\
lstm_step_backward, with the cached gates i, f, o, g and tanh_c = tanh(next_c):

  dc       = dnext_c + dnext_h * o * (1 - tanh_c**2)   next_c reaches the loss two ways
  da_i     = dc * g * i * (1 - i)
  da_f     = dc * prev_c * f * (1 - f)
  da_o     = dnext_h * tanh_c * o * (1 - o)
  da_g     = dc * i * (1 - g**2)
  da       = the four blocks side by side, in the order i, f, o, g   (N, 4H)
  dprev_c  = dc * f
  dx = da @ Wx.T,  dprev_h = da @ Wh.T,  dWx = x.T @ da,  dWh = prev_h.T @ da,
  db = da.sum(axis=0)""",
    "lstm_backward": """\
lstm_backward: for t = T-1, ..., 0 (dprev_h and dprev_c start as zeros):

  dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
      dh[:, t] + dprev_h, dprev_c, cache of step t)
  dWx += dWx_t;  dWh += dWh_t;  db += db_t

and after the loop dh0 = dprev_h (the gradient of c0 is dropped: c0 is a
constant zero).""",
}


def show(unit: str) -> None:
    """Print the formulas of one backward pass (see FORMULAS for the units)."""
    if unit not in FORMULAS:
        raise ValueError(f"No formulas for {unit!r}; there are formulas for: "
                         f"{', '.join(FORMULAS)}.")
    print(FORMULAS[unit])


def offer(unit: str) -> str:
    """The line a check cell prints after a wrong attempt ('' when there are no formulas)."""
    if unit not in FORMULAS:
        return ""
    return (f"Stuck after trying? The formulas: import assignment.formulas; "
            f"assignment.formulas.show({unit!r})")
