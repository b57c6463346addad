"""The other gradient-check helpers of the CS231n assignments, for reused material.

Instructors who reuse CS231n notebooks and solutions find the same names, with
the same signatures and behaviour, in ``assignment.gradient_check``:

    eval_numerical_gradient_blobs(f, inputs, output, h=1e-5)
    eval_numerical_gradient_net(net, inputs, output, h=1e-5)
    grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5)

A *blob* is any object with two arrays of the same shape: ``vals`` (the values)
and ``diffs`` (the gradient of the loss with respect to them). All three use
centred differences, (f(x + h) - f(x - h)) / 2h, change the inputs in place and
restore them.
"""

from __future__ import annotations

import random

import numpy as np

from .backend import to_numpy

__all__ = ["centred_difference", "eval_numerical_gradient_blobs", "eval_numerical_gradient_net",
           "grad_check_sparse"]


def centred_difference(f, x, ix, h):
    """(f(x + h e_ix) - f(x - h e_ix)) / 2h for a scalar f; x is changed in place and restored."""
    old = x[ix]
    x[ix] = old + h
    fxph = float(to_numpy(f(x)))
    x[ix] = old - h
    fxmh = float(to_numpy(f(x)))
    x[ix] = old
    return (fxph - fxmh) / (2 * h)

def _check_blob(blob, what):
    if not (hasattr(blob, "vals") and hasattr(blob, "diffs")):
        raise TypeError(f"{what} must be a blob: an object with arrays `vals` and `diffs`, got "
                        f"{type(blob).__name__}.")
    if not isinstance(blob.vals, np.ndarray) or not np.issubdtype(blob.vals.dtype, np.floating):
        raise TypeError(f"{what}.vals must be a floating-point NumPy array (it is changed in "
                        f"place), got {type(blob.vals).__name__} "
                        f"{getattr(blob.vals, 'dtype', '')}.")


def eval_numerical_gradient_blobs(f, inputs, output, h=1e-5):
    """Numerical gradients of sum(output.vals * output.diffs) for every input blob.

    ``f(*inputs, output)`` computes the output from the input blobs and writes
    it into ``output.vals``; ``output.diffs`` holds the upstream gradient.

    Inputs:
        f: function of the input blobs followed by the output blob
        inputs: tuple of input blobs (their ``vals`` are changed in place and restored)
        output: the output blob
        h: step size
    Returns:
        a list with one array per input blob, of the shape of its ``diffs``
    """
    inputs = tuple(inputs)
    for k, blob in enumerate(inputs):
        _check_blob(blob, f"inputs[{k}]")
    if not (hasattr(output, "vals") and hasattr(output, "diffs")):
        raise TypeError(f"output must be a blob with `vals` and `diffs`, got "
                        f"{type(output).__name__}.")

    def output_after_f():
        f(*inputs, output)
        return np.array(to_numpy(output.vals), dtype=np.float64, copy=True)

    upstream = np.asarray(to_numpy(output.diffs), dtype=np.float64)
    gradients = []
    for blob in inputs:
        vals = blob.vals
        grad = np.zeros(np.shape(blob.diffs), dtype=np.float64)
        if grad.size != vals.size:
            raise ValueError(f"a blob's diffs have shape {grad.shape} but its vals have shape "
                             f"{vals.shape}; they must match.")
        for flat in range(vals.size):
            ix = np.unravel_index(flat, vals.shape)
            old = vals[ix]
            vals[ix] = old + h
            plus = output_after_f()
            vals[ix] = old - h
            minus = output_after_f()
            vals[ix] = old
            grad[np.unravel_index(flat, grad.shape)] = np.sum((plus - minus) * upstream) / (2 * h)
        gradients.append(grad)
    return gradients


def eval_numerical_gradient_net(net, inputs, output, h=1e-5):
    """eval_numerical_gradient_blobs for a net whose ``forward()`` (no arguments) reads the
    input blobs and writes the output blob."""
    return eval_numerical_gradient_blobs(lambda *blobs: net.forward(), inputs, output, h=h)


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5):
    """Compare the analytic gradient with a numerical one at a few random coordinates.

    Draws ``num_checks`` coordinates of x with Python's ``random`` module (seed it with
    ``random.seed`` for the same coordinates every run) and prints, for each, the numerical
    and the analytic value and their relative error |a - n| / (|a| + |n|).

    Inputs:
        f: function of x returning a scalar (x is changed in place and restored)
        x: float array
        analytic_grad: the gradient to check, shape of x
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a floating-point NumPy array (it is changed in place), got "
                        f"{type(x).__name__} {getattr(x, 'dtype', '')}.")
    analytic_grad = np.asarray(to_numpy(analytic_grad))
    if analytic_grad.shape != x.shape:
        raise ValueError(f"analytic_grad has shape {analytic_grad.shape} but x has shape "
                         f"{x.shape}; a gradient has the shape of its input.")
    for _ in range(num_checks):
        ix = tuple(random.randrange(n) for n in x.shape)
        numerical = centred_difference(f, x, ix, h)
        analytic = float(analytic_grad[ix])
        scale = abs(numerical) + abs(analytic)
        error = abs(numerical - analytic) / scale if scale > 0 else 0.0
        print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {error:e}")
