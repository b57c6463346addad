"""Layers provided to students: affine, temporal affine, temporal softmax loss, sigmoid.

Each layer is a pair ``*_forward(...) -> out, cache`` / ``*_backward(dout,
cache) -> grads``; the forward pass caches exactly what the backward pass
needs. All arithmetic goes through ``xp`` so the layers run on NumPy or CuPy.
The recurrent layers (RNN, LSTM, word embedding) are the students' own work
and live in the notebooks.
"""

from __future__ import annotations

from .backend import xp


def _require(ok, func, message):
    """Boundary check: a clear ValueError instead of a cryptic broadcasting error later."""
    if not ok:
        raise ValueError(f"{func}: {message}")


def sigmoid(x):
    """Numerically stable logistic function 1 / (1 + exp(-x)), elementwise.

    exp(-|x|) lies in (0, 1], so neither branch can overflow for large |x|.
    """
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def affine_forward(x, w, b):
    """Fully connected layer: out = x w + b.

    Inputs:
        x: (N, D) inputs (or (N, d_1, ..., d_k), flattened to D = d_1*...*d_k)
        w: (D, M) weights
        b: (M,) biases
    Returns:
        out: (N, M)
        cache: (x, w, b)
    """
    D = 1
    for d in x.shape[1:]:
        D *= d
    _require(w.ndim == 2 and w.shape[0] == D, "affine_forward",
             f"w must have shape (D, M) = ({D}, M) for x of shape {x.shape}, got {w.shape}")
    _require(b.shape == (w.shape[1],), "affine_forward",
             f"b must have shape ({w.shape[1]},), got {b.shape}")
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """Backward pass of :func:`affine_forward`.

    Inputs:
        dout: (N, M) upstream gradient
        cache: (x, w, b) from the forward pass
    Returns:
        dx: (N, d_1, ..., d_k), same shape as x
        dw: (D, M)
        db: (M,)
    """
    x, w, b = cache
    x2d = x.reshape(x.shape[0], -1)  # (N, D)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2d.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def temporal_affine_forward(x, w, b):
    """Affine layer applied at every time step (e.g. hidden states -> vocabulary scores).

    Inputs:
        x: (N, T, D) a minibatch of sequences of vectors
        w: (D, M) weights
        b: (M,) biases
    Returns:
        out: (N, T, M)
        cache: (x, w, b)
    """
    _require(x.ndim == 3, "temporal_affine_forward", f"x must have shape (N, T, D), got {x.shape}")
    N, T, D = x.shape
    _require(w.ndim == 2 and w.shape[0] == D, "temporal_affine_forward",
             f"w must have shape (D, M) = ({D}, M), got {w.shape}")
    _require(b.shape == (w.shape[1],), "temporal_affine_forward",
             f"b must have shape ({w.shape[1]},), got {b.shape}")
    out = (x.reshape(N * T, D) @ w + b).reshape(N, T, -1)
    return out, (x, w, b)


def temporal_affine_backward(dout, cache):
    """Backward pass of :func:`temporal_affine_forward`.

    Inputs:
        dout: (N, T, M) upstream gradient
        cache: (x, w, b)
    Returns:
        dx: (N, T, D)
        dw: (D, M), summed over the batch and over time (the weights are shared)
        db: (M,)
    """
    x, w, b = cache
    N, T, D = x.shape
    dout2d = dout.reshape(N * T, -1)  # (N*T, M)
    dx = (dout2d @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout2d
    db = dout2d.sum(axis=0)
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross-entropy at every time step, ignoring masked-out steps.

    Captions have different lengths, so short ones are padded with <NULL>;
    ``mask`` is False there and those steps add nothing to the loss.
    The loss is summed over time steps and averaged over the minibatch.

    Inputs:
        x: (N, T, V) scores over a vocabulary of size V
        y: (N, T) integer targets, 0 <= y < V
        mask: (N, T) boolean, True where the target counts
        verbose: print the shapes of the intermediate arrays
    Returns:
        loss: scalar (0-d array on the active backend)
        dx: (N, T, V) gradient of the loss with respect to x
    """
    _require(x.ndim == 3, "temporal_softmax_loss", f"x must have shape (N, T, V), got {x.shape}")
    N, T, V = x.shape
    _require(y.shape == (N, T), "temporal_softmax_loss",
             f"y must have shape (N, T) = {(N, T)} like x's first two axes, got {y.shape}")
    _require(mask.shape == (N, T), "temporal_softmax_loss",
             f"mask must have shape (N, T) = {(N, T)}, got {mask.shape}")
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)

    # log-softmax with the row maximum subtracted, so exp() cannot overflow
    shifted = x_flat - x_flat.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(N * T)
    loss = -(mask_flat * log_probs[rows, y_flat]).sum() / N

    dx_flat = xp.exp(log_probs)  # softmax probabilities, (N*T, V)
    dx_flat[rows, y_flat] -= 1
    dx_flat *= mask_flat[:, None] / N

    if verbose:
        print("dx_flat:", dx_flat.shape)
    return loss, dx_flat.reshape(N, T, V)
