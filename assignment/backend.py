"""Array backend shim: NumPy by default, CuPy as an optional GPU backend.

Every array operation in ``assignment`` (and in the reference solution) goes
through ``xp``, which forwards to the *active* array module::

    from assignment.backend import xp
    h = xp.tanh(x @ Wx + prev_h @ Wh + b)

Choosing the backend
--------------------
``ASSIGNMENT_BACKEND`` (read once, at import):

    numpy  the default
    cupy   CuPy on an NVIDIA GPU; fails with a clear message if CuPy is not
           installed or sees no GPU (never a silent fallback to NumPy)
    auto   CuPy when it imports *and* sees a GPU, NumPy otherwise

or ``set_backend('cupy')`` at run time, or temporarily::

    with use_backend('numpy'):
        ...   # e.g. numerical gradient checks, which always run on the host

Moving data
-----------
``asarray(a)`` copies host data to the active backend (explicitly: CuPy
refuses implicit conversions, and so should our code); ``to_numpy(a)`` brings
an array back to the host. Inside the training loop neither should be needed.
"""

from __future__ import annotations

import contextlib
import os
import types

import numpy as np

__all__ = [
    "xp", "BackendError", "set_backend", "get_backend", "backend_name", "use_backend",
    "asarray", "to_numpy", "scatter_add",
]

ENV_VAR = "ASSIGNMENT_BACKEND"
CHOICES = ("numpy", "cupy", "auto")


class BackendError(RuntimeError):
    """The requested array backend cannot be used here."""


def _load_cupy():
    """Import CuPy and check that it sees a GPU, or raise BackendError saying why."""
    try:
        import cupy
    except Exception as err:  # ImportError, or a broken CUDA install raising at import
        raise BackendError(
            f"The 'cupy' backend was requested but CuPy cannot be imported ({err}). "
            "Install it with `pip install -e '.[gpu]'` on a machine with an NVIDIA GPU "
            f"and CUDA 12, or use the NumPy backend: unset {ENV_VAR} or set it to 'numpy'."
        ) from None
    try:
        available = bool(cupy.cuda.is_available())
    except Exception:
        available = False
    if not available:
        raise BackendError(
            "The 'cupy' backend was requested but CuPy sees no usable CUDA GPU "
            "(cupy.cuda.is_available() is False). Run on a machine with an NVIDIA GPU, "
            f"or use the NumPy backend: unset {ENV_VAR}, or set it to 'numpy' "
            "('auto' picks CuPy only when a GPU is there)."
        )
    return cupy


def _resolve(name: str) -> tuple[str, types.ModuleType]:
    key = str(name).strip().lower()
    if key == "numpy":
        return "numpy", np
    if key == "cupy":
        return "cupy", _load_cupy()
    if key == "auto":
        try:
            return "cupy", _load_cupy()
        except BackendError:
            return "numpy", np
    raise BackendError(
        f"Unknown array backend {name!r}: {ENV_VAR} (or set_backend) accepts "
        f"{', '.join(CHOICES)}."
    )


class _Active:
    """The active backend: its name and its array module."""

    name: str = "numpy"
    module: types.ModuleType = np


_active = _Active()


class _ActiveModule:
    """``xp``: attribute access is forwarded to the active array module.

    A proxy rather than a plain module reference, so that ``from
    assignment.backend import xp`` keeps working after ``set_backend``.
    """

    def __getattr__(self, attr):
        return getattr(_active.module, attr)

    def __dir__(self):
        return dir(_active.module)

    def __repr__(self):
        return f"<array backend {_active.name!r}: {_active.module.__name__}>"


xp = _ActiveModule()


def set_backend(name) -> types.ModuleType:
    """Make ``name`` ('numpy', 'cupy', 'auto') the active backend; returns its module.

    A module object is accepted too (the test suite uses a strict stand-in for
    CuPy); it must provide the NumPy API it is asked for and ``asnumpy``.
    """
    if isinstance(name, types.ModuleType):
        _active.name, _active.module = name.__name__, name
    else:
        _active.name, _active.module = _resolve(name)
    return _active.module


def get_backend() -> types.ModuleType:
    """The active array module itself (``numpy`` or ``cupy``)."""
    return _active.module


def backend_name() -> str:
    """Name of the active backend: 'numpy' or 'cupy'."""
    return _active.name


@contextlib.contextmanager
def use_backend(name):
    """Temporarily switch backend: ``with use_backend('numpy'): ...``."""
    saved = _active.name, _active.module
    set_backend(name)
    try:
        yield _active.module
    finally:
        _active.name, _active.module = saved


def asarray(a, dtype=None):
    """Explicitly move ``a`` (host or device) onto the active backend."""
    return _active.module.asarray(a, dtype=dtype)


def to_numpy(a):
    """Bring ``a`` back to the host as a NumPy array (no copy if it is one already)."""
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, (np.generic, int, float, bool)):
        return np.asarray(a)
    module = _module_of(a)
    if module is not None and hasattr(module, "asnumpy"):
        return module.asnumpy(a)
    if hasattr(a, "get"):  # cupy.ndarray.get() copies device -> host
        return a.get()
    return np.asarray(a)


def _module_of(a):
    """The array module an array belongs to (cupy, the active one, ...) or None."""
    name = type(a).__module__.split(".")[0]
    if name == "cupy":
        import cupy
        return cupy
    if _active.module is not np and isinstance(a, getattr(_active.module, "ndarray", ())):
        return _active.module
    return None


def scatter_add(a, indices, values) -> None:
    """In place ``a[indices] += values``, accumulating over repeated indices.

    ``a[idx] += v`` would count a repeated index only once: the word-embedding
    backward needs every occurrence of a word to add its gradient. NumPy and
    CuPy 13+ have ``add.at``; older CuPy has ``cupyx.scatter_add`` (deprecated
    since CuPy 14).
    """
    module = _module_of(a) or _active.module
    if module is np:
        np.add.at(a, indices, values)
    elif module.__name__ == "cupy" and not hasattr(module.add, "at"):
        import cupyx
        cupyx.scatter_add(a, indices, values)
    else:
        module.add.at(a, indices, values)


set_backend(os.environ.get(ENV_VAR, "numpy"))
