"""Gradient checking: is my backward pass right?

The three standard tools:
    eval_numerical_gradient(f, x)              gradient of a scalar function
    eval_numerical_gradient_array(f, x, df)    gradient of sum(f(x) * df)
    rel_error(x, y)                            max relative error

and two one-call reports built on them:
    check_layer_gradients(forward, backward, inputs)
        runs a forward/backward pair on the inputs and compares every
        gradient with its numerical estimate, one line per input.
    check_loss_gradients(loss_fn, params)
        the same for a scalar loss of named parameters (a whole model);
        ``directional=True`` gives a fast randomized check for big models.

Numerical gradients use centred differences, (f(x+h) - f(x-h)) / 2h, whose
error is O(h^2) plus round-off of order eps/h: with h = 1e-5 in float64 a
correct backward pass typically agrees to a relative error of 1e-7 or better,
while a real bug shows up as 1e-2 or worse. All checks run in float64 on the
host (NumPy), whatever backend is active, because float32 round-off would
swamp the comparison.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np

from . import backend
from .backend import to_numpy, use_backend
from .check_errors import CheckFailed, in_place_note, stub_message
# centred_difference is shared; the rest are the other helpers of the CS231n assignments'
# gradient_check, for reused material
from .cs231n_gradient_check import (centred_difference, eval_numerical_gradient_blobs,  # noqa: F401
                                    eval_numerical_gradient_net, grad_check_sparse)

DEFAULT_TOL = 1e-7


def rel_error(x, y):
    """Maximum elementwise relative error |x - y| / max(1e-8, |x| + |y|)."""
    x = np.asarray(to_numpy(x), dtype=np.float64)
    y = np.asarray(to_numpy(y), dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(
            f"rel_error: the arrays have different shapes {x.shape} and {y.shape}; "
            "a gradient must have the shape of the input it belongs to."
        )
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _check_host_float_array(x, name="x"):
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{name} must be a NumPy array on the host, got {type(x).__name__}; "
            "use assignment.backend.to_numpy(x) first."
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array, got dtype {x.dtype}.")


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numerical gradient of a scalar function f at x, by centred differences.

    Inputs:
        f: function of one argument returning a scalar (x is changed in place
           and restored before returning)
        x: float array (any shape) at which to evaluate the gradient
        verbose: print every coordinate's gradient as it is computed
        h: step size
    Returns:
        grad: array of the shape of x
    """
    _check_host_float_array(x)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        grad[ix] = centred_difference(f, x, ix, h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numerical gradient of sum(f(x) * df) with respect to x.

    This is what a backward pass computes when the upstream gradient is df.

    Inputs:
        f: function of one argument returning an array of the shape of df
        x: float array; changed in place and restored
        df: upstream gradient, shape of f(x)
        h: step size
    Returns:
        grad: array of the shape of x
    """
    _check_host_float_array(x)
    df = to_numpy(df)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(to_numpy(f(x)), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(to_numpy(f(x)), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


# ---------------------------------------------------------------- reports


@dataclass
class GradientReport:
    """Result of a gradient check: one relative error per checked gradient."""

    title: str
    tol: float
    errors: dict = field(default_factory=dict)       # name -> relative error
    notes: dict = field(default_factory=dict)        # name -> hint for failures
    remarks: list = field(default_factory=list)      # one line each, e.g. an input changed in place

    @property
    def passed(self) -> bool:
        return all(np.isfinite(e) and e <= self.tol for e in self.errors.values())

    @property
    def failed(self) -> list:
        return [k for k, e in self.errors.items() if not (np.isfinite(e) and e <= self.tol)]

    def __str__(self) -> str:
        width = max([len(k) for k in self.errors] + [4])
        lines = [f"{self.title} (float64, tolerance {self.tol:.0e})"]
        for name, err in self.errors.items():
            ok = np.isfinite(err) and err <= self.tol
            line = f"  {name:<{width}}  relative error {err:9.2e}  {'PASS' if ok else 'FAIL'}"
            if not ok and name in self.notes:
                line += f"  ({self.notes[name]})"
            lines.append(line)
        lines += [f"  note: {remark}" for remark in self.remarks]
        verdict = "all gradients match" if self.passed else (
            "gradients that do not match: " + ", ".join(self.failed))
        lines.append(f"  -> {verdict}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):  # IPython display
        p.text(str(self))


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _host64(a):
    return np.array(to_numpy(a), dtype=np.float64, copy=True)


def _name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _call_student(fn, *args):
    """Call a student's forward or backward; a stub gets one clear line, no traceback."""
    __tracebackhide__ = True  # IPython: leave this frame out of tracebacks
    try:
        return fn(*args)
    except NotImplementedError as err:
        raise CheckFailed(stub_message(err, _name(fn))) from None


def _changed(before: list, after: list) -> list:
    """Indices of the arrays that were modified in place (after: what the code was given)."""
    return [i for i, (b, a) in enumerate(zip(before, after))
            if isinstance(a, np.ndarray) and (a.shape != b.shape or not np.array_equal(a, b))]


def _in_place_remark(fn, name) -> str:
    return in_place_note(_name(fn), name)


def _float_array(value):
    """A returned gradient as a float64 host array, or None when it is not numbers."""
    if value is None:
        return None
    try:
        return np.asarray(to_numpy(value), dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _upstream_names(backward, count) -> list:
    try:
        names = [p.name for p in inspect.signature(backward).parameters.values()][:count]
    except (TypeError, ValueError):
        names = []
    return names if len(names) == count else [f"upstream gradient {i + 1}" for i in range(count)]


def check_layer_gradients(forward, backward, inputs, wrt=None, tol=DEFAULT_TOL,
                          seed=0, h=1e-5, verbose=True, title=None):
    """Check a forward/backward layer pair in one call.

    Runs ``outputs..., cache = forward(*inputs)``, draws a random upstream
    gradient for every output, runs ``backward(*upstream, cache)`` and compares
    each returned gradient with its numerical estimate.

    Every array handed to ``forward`` or ``backward`` is a fresh copy, so code
    that changes its inputs in place cannot change the check; the report says
    so in one line (``report.remarks``).

    Inputs:
        forward: e.g. ``rnn_step_forward``; returns (out_1, ..., out_k, cache)
        backward: e.g. ``rnn_step_backward``; takes (dout_1, ..., dout_k, cache)
            and returns one gradient per input in ``wrt``, in that order
        inputs: dict name -> array, in the order ``forward`` takes them
        wrt: names of the inputs ``backward`` returns gradients for
            (default: every floating-point input, in order)
        tol: largest relative error that counts as a pass
        seed: seed of the upstream gradients
        verbose: print the report
    Returns:
        GradientReport (``report.passed`` is True when every gradient matches)

    Example::

        check_layer_gradients(rnn_step_forward, rnn_step_backward,
                              dict(x=x, prev_h=h, Wx=Wx, Wh=Wh, b=b))
    """
    __tracebackhide__ = True  # IPython: leave this frame out of tracebacks
    if not isinstance(inputs, dict):
        raise TypeError("inputs must be a dict name -> array, in the order the forward "
                        f"function takes them; got {type(inputs).__name__}.")
    names = list(inputs)
    host = {k: (_host64(v) if np.issubdtype(np.asarray(to_numpy(v)).dtype, np.floating)
                else np.array(to_numpy(v), copy=True)) for k, v in inputs.items()}
    if wrt is None:
        wrt = [k for k in names if np.issubdtype(host[k].dtype, np.floating)]
    for k in wrt:
        if k not in host:
            raise KeyError(f"wrt names {k!r}, which is not one of the inputs {names}.")

    def fresh_inputs():
        return [host[k].copy() for k in names]

    rng = np.random.default_rng(seed)
    remarks = []
    with use_backend("numpy"):
        args = fresh_inputs()
        *outs, cache = _as_tuple(_call_student(forward, *args))
        remarks += [_in_place_remark(forward, names[i]) for i in _changed(fresh_inputs(), args)]
        if not outs:
            raise ValueError("forward must return at least one output and a cache.")
        douts = [rng.standard_normal(np.shape(o)) for o in outs]
        given = [d.copy() for d in douts]
        grads = _as_tuple(_call_student(backward, *given, cache))
        upstream_names = _upstream_names(backward, len(douts))
        remarks += [_in_place_remark(backward, upstream_names[i]) for i in _changed(douts, given)]
        if len(grads) != len(wrt):
            raise ValueError(
                f"backward returned {len(grads)} gradients but {len(wrt)} were expected "
                f"(for {', '.join(wrt)})."
            )
        grads = [_float_array(g) for g in grads]
        report = GradientReport(title or f"Gradient check of {_name(backward)}", tol,
                                remarks=remarks)
        for name, grad in zip(wrt, grads):
            x = host[name]

            def scalar(_x):
                # sum_k <out_k(x), dout_k>: its gradient is what backward computes;
                # host[name] is x, perturbed in place, and forward gets copies
                results = _as_tuple(_call_student(forward, *fresh_inputs()))[:-1]
                return sum(np.sum(np.asarray(to_numpy(r), dtype=np.float64) * d)
                           for r, d in zip(results, douts))

            if grad is None:
                report.errors["d" + name] = float("inf")
                report.notes["d" + name] = "not an array of numbers"
                continue
            num = eval_numerical_gradient(scalar, x, verbose=False, h=h)
            if grad.shape != x.shape:
                report.errors["d" + name] = float("inf")
                report.notes["d" + name] = f"shape {grad.shape}, expected {x.shape}"
                continue
            report.errors["d" + name] = rel_error(num, grad)
    if verbose:
        print(report)
    return report


def check_loss_gradients(loss_fn, params, grads=None, tol=DEFAULT_TOL, h=1e-5,
                         directional=False, num_directions=5, seed=0, verbose=True,
                         title="Gradient check of the loss"):
    """Check the gradients of a scalar loss of named parameters in one call.

    Inputs:
        loss_fn: function taking no argument returning ``(loss, grads)``, where
            grads is a dict name -> gradient; it must read the *current* values
            of the arrays in ``params`` (e.g. ``lambda: model.loss(X, y)``)
        params: dict name -> float64 host array (e.g. ``model.params``); changed
            in place during the check and restored
        grads: analytic gradients to check (default: from one call of loss_fn)
        directional: instead of one numerical derivative per coordinate (two
            loss evaluations each), check ``num_directions`` random directions:
            the derivative of the loss along a random unit vector u must equal
            the sum over parameters of <grad, u>. Costs 2 evaluations per
            direction whatever the model size: use it for big models.
    Returns:
        GradientReport, one line per parameter (or per direction).
    """
    __tracebackhide__ = True  # IPython: leave this frame out of tracebacks
    for name, p in params.items():
        if not isinstance(p, np.ndarray) or p.dtype != np.float64:
            raise TypeError(
                f"params[{name!r}] must be a float64 NumPy array for a gradient check, got "
                f"{type(p).__name__} {getattr(p, 'dtype', '')}. Build the model with "
                "dtype=np.float64 on the NumPy backend."
            )
    with use_backend("numpy"):
        if grads is None:
            _, grads = _call_student(loss_fn)
        grads = {k: np.asarray(to_numpy(g), dtype=np.float64) for k, g in grads.items()}
        missing = [k for k in params if k not in grads]
        if missing:
            raise KeyError(f"the loss returned no gradient for {', '.join(missing)}.")

        def loss_value(_=None):
            return float(to_numpy(_call_student(loss_fn)[0]))

        report = GradientReport(title + (" (directional)" if directional else ""), tol)
        if not directional:
            for name, p in params.items():
                num = eval_numerical_gradient(loss_value, p, verbose=False, h=h)
                report.errors[name] = rel_error(num, grads[name])
        else:
            rng = np.random.default_rng(seed)
            for k in range(num_directions):
                u = {n: rng.standard_normal(p.shape) for n, p in params.items()}
                norm = np.sqrt(sum(np.sum(v * v) for v in u.values()))
                saved = {n: p.copy() for n, p in params.items()}
                analytic = sum(np.sum(grads[n] * u[n]) for n in params) / norm
                for n, p in params.items():
                    p += h * u[n] / norm
                plus = loss_value()
                for n, p in params.items():
                    p[...] = saved[n] - h * u[n] / norm
                minus = loss_value()
                for n, p in params.items():
                    p[...] = saved[n]
                numeric = (plus - minus) / (2 * h)
                report.errors[f"direction {k + 1}"] = rel_error(np.array(numeric), np.array(analytic))
    if verbose:
        print(report)
    return report

