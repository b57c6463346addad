"""First-order update rules: sgd and adam.

Every rule has the signature ``next_w, config = rule(w, dw, config)``:

    w:      current weights (any shape)
    dw:     gradient of the loss with respect to w (same shape)
    config: dict of hyperparameters and state (e.g. Adam's moments); created
            with defaults when None. The solver keeps one config per parameter.

The arrays stay on the active backend (NumPy or CuPy).
"""

from __future__ import annotations

from .backend import xp


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w -= learning_rate * dw.

    config: learning_rate (default 1e-2)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def adam(w, dw, config=None):
    """Adam (Kingma & Ba, 2015): per-coordinate steps from running moments of dw.

    config:
        learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8)
        m, v: running first and second moments (created as zeros)
        t: number of steps taken (for the bias correction)
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    if "m" not in config:  # (setdefault would allocate new zeros on every step)
        config["m"] = xp.zeros_like(w)
        config["v"] = xp.zeros_like(w)
        config["t"] = 0

    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    m, v = config["m"], config["v"]
    # running moments, updated in place (no new arrays per step)
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * (dw * dw)
    # the moments start at zero, so early averages are biased towards zero
    m_hat_scale = 1.0 / (1 - beta1 ** t)
    v_hat_scale = 1.0 / (1 - beta2 ** t)
    w -= config["learning_rate"] * (m * m_hat_scale) / (xp.sqrt(v * v_hat_scale) + config["epsilon"])
    return w, config
