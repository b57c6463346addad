"""A strict stand-in for CuPy, for proving on the CPU that nothing converts silently.

CuPy arrays live on the GPU: CuPy refuses implicit conversion to NumPy
(``np.asarray(gpu_array)`` raises) and refuses NumPy arrays as operands. This
module behaves the same way on the CPU: its arrays (:class:`StrictArray`)
wrap NumPy arrays, work with this module's functions and with each other, and
raise ``HostConversionError`` whenever NumPy is asked to touch them or a NumPy
array is mixed in. The only doors between host and "device" are the explicit
ones: ``asarray``/``array`` (host -> device) and ``asnumpy`` (device -> host).

Use: ``assignment.backend.set_backend(strict_xp)``.
"""

from __future__ import annotations

import operator

import numpy as np



class HostConversionError(TypeError):
    """A device array met NumPy without an explicit transfer."""


def _refuse(what):
    raise HostConversionError(
        f"implicit host conversion: {what}. Use backend.asarray / backend.to_numpy explicitly."
    )


def _unwrap(x, allow_host=False):
    if isinstance(x, StrictArray):
        return x._a
    if isinstance(x, np.ndarray) and not allow_host:
        _refuse(f"a NumPy array of shape {x.shape} was mixed with device arrays")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v, allow_host) for v in x)
    if isinstance(x, slice):
        return slice(_unwrap(x.start), _unwrap(x.stop), _unwrap(x.step))
    return x


def _wrap(x):
    if isinstance(x, (np.ndarray, np.generic)):
        return StrictArray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class StrictArray:
    """A device array stand-in: a NumPy array NumPy is not allowed to see."""

    __slots__ = ("_a",)

    def __init__(self, a):
        self._a = a

    # NumPy must not see inside
    def __array__(self, *args, **kwargs):
        _refuse("np.asarray()/np.array() of a device array")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _refuse(f"NumPy ufunc np.{ufunc.__name__} called on a device array")

    def __array_function__(self, func, types, args, kwargs):
        _refuse(f"NumPy function np.{func.__name__} called on a device array")

    # attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    T = property(lambda self: StrictArray(self._a.T))

    def __len__(self):
        return len(self._a)

    def __repr__(self):
        return f"StrictArray({self._a!r})"

    # scalars may be read back (CuPy allows it too: it synchronises)
    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap(key)] = _unwrap(value)

    def __getattr__(self, name):  # methods: reshape, sum, max, astype, copy, ...
        if name.startswith("__"):  # __array_interface__, __array_struct__, ...: NumPy's back doors
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            return _wrap(attr(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
        return method

    def get(self):
        return self._a.copy()


def _binary(op, reflected=False, inplace=False):
    def f(self, other):
        o = _unwrap(other)
        if inplace:
            op(self._a, o)
            return self
        return _wrap(op(o, self._a) if reflected else op(self._a, o))
    return f


for _name in ("add", "sub", "mul", "truediv", "floordiv", "pow", "matmul", "mod"):
    _op = getattr(operator, _name)
    setattr(StrictArray, f"__{_name}__", _binary(_op))
    setattr(StrictArray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(StrictArray, f"__i{_name}__", _binary(getattr(operator, f"i{_name}"), inplace=True))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(StrictArray, f"__{_name}__", _binary(getattr(operator, _name)))
for _name, _op in (("and", operator.and_), ("or", operator.or_), ("xor", operator.xor)):
    setattr(StrictArray, f"__{_name}__", _binary(_op))
    setattr(StrictArray, f"__r{_name}__", _binary(_op, reflected=True))
StrictArray.__neg__ = lambda self: StrictArray(-self._a)
StrictArray.__abs__ = lambda self: StrictArray(abs(self._a))
StrictArray.__invert__ = lambda self: StrictArray(~self._a)
StrictArray.__hash__ = None

ndarray = StrictArray


# ---------------------------------------------------------------- module API
def asarray(a, dtype=None):
    """Explicit host -> device transfer."""
    return StrictArray(np.array(_unwrap(a, allow_host=True), dtype=dtype))


array = asarray


def asnumpy(a):
    """Explicit device -> host transfer."""
    if not isinstance(a, StrictArray):
        raise TypeError(f"asnumpy expects a device array, got {type(a).__name__}")
    return a._a.copy()


class _Ufunc:
    def __init__(self, uf):
        self._uf = uf

    def __call__(self, *args, **kwargs):
        return _wrap(self._uf(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))

    def at(self, a, indices, values):
        self._uf.at(_unwrap(a), _unwrap(indices), _unwrap(values))


def __getattr__(name):
    attr = getattr(np, name)
    if isinstance(attr, np.ufunc):
        return _Ufunc(attr)
    if callable(attr) and not isinstance(attr, type):
        def function(*args, **kwargs):
            return _wrap(attr(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
        function.__name__ = name
        return function
    return attr  # dtypes (float32, int32 ...), constants (pi, newaxis, inf)
