"""Sealed replay entries: a recorded result that only a caller with the same arguments can open.

Used while a notebook is graded (not by students' own code). A unit that
calls the student's other functions is also graded with *replay stubs* in
place of those functions, so that one mistake costs once
(docs/grading-design.md): a stub answers a call whose arguments are those of
a call the reference made on the case with the reference's result. The
grading kernel runs the student's code, so everything it holds is readable by
that code; the recorded results are therefore stored *sealed*:

* each entry's result is encrypted with a key derived from its exact
  arguments (SHAKE-256 keystream, XOR) and carries an HMAC-SHA256 tag, so a
  wrong key is detected; an entry is found by a lookup id derived from the
  same key. No plaintext result and no plaintext argument is stored.
* float arguments are matched through a *secure sketch*, not bit for bit, so
  that an honest caller whose arguments differ from the reference's by
  round-off (another operation order, another BLAS) still opens the entry.
  For a float array v the entry publishes an exponent e, the scale
  s = 2**e > max|v|, and per element the offset d = frac(v / g) with
  g = s * 2**-GRID_BITS. A caller with v' computes c = rint(v'/g - d), which
  equals the reference's integer cell floor(v/g) whenever |v' - v| < g/2
  (about 3e-8 of the array's largest element). The key hashes every c, with
  the function name, the structure of the arguments, shapes, float dtypes and
  the exact values of integer, bool, str and None arguments.

What is public, and why it yields nothing (see docs/grading-design.md): the
function names and the number of calls; shapes and dtypes (the caller knows
them); e (the magnitude of an array's largest element, to a factor of two);
d (the bits of each element below the grid, which say nothing about the
cells c: an element smaller than g is revealed, but it is below 3e-8 of its
array's largest element and no key can be made without the others). To open
an entry one must pass every argument to about 1e-7 of its scale, i.e. do the
calling unit's work; integer arguments (word indices) are inputs of the case.

Only the standard library and NumPy: part of the grading-inputs format
(``assignment.formats.grading_inputs``), whose writer seals the entries and
whose reader in the grading kernel opens them: one copy of the code for both
sides.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import struct
from collections import namedtuple

import numpy as np

__all__ = ["SEAL_VERSION", "GRID_BITS", "Arguments", "Candidates", "seal", "open_entry",
           "pack", "unpack"]

SEAL_VERSION = 1
GRID_BITS = 24           # the grid is 2**-24 of an argument's scale: ~6e-8
_DOMAIN = b"rnn-assignment replay seal v1\0"
_ID_BYTES, _TAG_BYTES, _HINT_HEX = 16, 16, 4
_FLOAT_DTYPES = ("<f8", "<f4", "<f2")
_PLAIN_DTYPES = _FLOAT_DTYPES + ("<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1", "|b1")

# Taken when the module is imported (before any student code runs): reassigning
# numpy functions later changes nothing here.
_ndarray, _generic = np.ndarray, np.generic
_asarray, _rint, _floor = np.asarray, np.rint, np.floor
_ascontiguous = np.ascontiguousarray
_float64, _int64 = np.float64, np.int64


class _Unmatchable(Exception):
    """An argument no recorded call can have (a subclass, an object array, a set...)."""


# ----------------------------------------------------------------- arguments


class Arguments:
    """The arguments of one call, flattened: structure text and leaves.

    A leaf is ("f", dtype, shape, float array), ("i", shape, int64 array),
    ("b", shape, bool array) or ("v", text) for None, bool, str. Tuples and
    lists (caches, namedtuples included) are sequences; dicts need str keys.
    Python ints and floats are 0-d int64 and float64 arrays. ``ok`` is False
    when something cannot match any recorded call.
    """

    MAX_LEAVES = 256
    MAX_DEPTH = 8

    def __init__(self, args):
        self.parts, self.leaves, self.ok, self.memo = [], [], True, {}
        try:
            self._walk(tuple(args), 0)
        except (_Unmatchable, RecursionError):
            self.ok, self.parts, self.leaves = False, [], []
        self.structure = "".join(self.parts)
        self.floats = [leaf for leaf in self.leaves if leaf[0] == "f"]

    def _walk(self, value, depth):
        if depth > self.MAX_DEPTH or len(self.leaves) > self.MAX_LEAVES:
            raise _Unmatchable()
        if type(value) is _ndarray or isinstance(value, _generic) \
                or type(value) in (int, float):
            self._array(_asarray(value) if type(value) is not _ndarray else value)
        elif value is None or type(value) in (bool, str):
            self.parts.append("v")
            self.leaves.append(("v", f"{type(value).__name__}:{value}"))
        elif isinstance(value, (tuple, list)):
            items = tuple.__iter__(value) if isinstance(value, tuple) else list.__iter__(value)
            self.parts.append("(")
            for item in items:
                self._walk(item, depth + 1)
            self.parts.append(")")
        elif type(value) is dict:
            if not all(type(k) is str for k in dict.keys(value)):
                raise _Unmatchable()
            self.parts.append("{")
            for key in sorted(dict.keys(value)):
                self.parts.append(json.dumps(key) + ":")
                self._walk(dict.__getitem__(value, key), depth + 1)
            self.parts.append("}")
        else:
            raise _Unmatchable()

    def _array(self, a):
        kind, shape = a.dtype.kind, tuple(int(n) for n in a.shape)
        if a.dtype.str in _FLOAT_DTYPES:
            self.parts.append("f")
            self.leaves.append(("f", a.dtype.str, shape, a))
        elif kind in "iu" and a.dtype.str in _PLAIN_DTYPES:
            self.parts.append("i")
            self.leaves.append(("i", shape, a))
        elif kind == "b":
            self.parts.append("b")
            self.leaves.append(("b", shape, a))
        else:
            raise _Unmatchable()


def _exponent(a) -> int:
    """e with 2**e > max|a| (0 for an array of zeros, or an empty one)."""
    top = float(abs(a.astype(_float64)).max(initial=0.0))
    if not math.isfinite(top):
        raise ValueError("a recorded argument is not finite")
    return math.frexp(top)[1] if top > 0 else 0


def _cells_of(a, exponent, offsets):
    """The caller's grid cells rint(a/g - d) as int64 bytes, or None when they cannot match."""
    g = math.ldexp(1.0, exponent - GRID_BITS)
    q = a.astype(_float64) / g
    if q.size and not float(abs(q).max()) <= 2.0 ** (GRID_BITS + 1):
        return None  # far outside the recorded scale (or NaN, inf): no match
    return _ascontiguous(_rint(q - offsets.reshape(a.shape)).astype("<i8")).tobytes()


def _parts(fn, arguments: Arguments) -> list:
    """What the key hashes, as bytes, with None where a float argument's cells go."""
    parts = [_DOMAIN + json.dumps([fn, arguments.structure]).encode() + b"\0"]
    for leaf in arguments.leaves:
        kind = leaf[0]
        if kind == "v":
            parts.append(b"v" + json.dumps(leaf[1]).encode() + b"\0")
            continue
        shape = leaf[2] if kind == "f" else leaf[1]
        parts.append(json.dumps([kind, leaf[1] if kind == "f" else "", shape]).encode() + b"\0")
        if kind == "f":
            parts.append(None)
            continue
        if kind == "i":
            a = leaf[2]
            if a.dtype.kind == "u" and a.size and int(a.max()) > 2 ** 63 - 1:
                data = b"\xff" + _ascontiguous(a).tobytes()  # no int64 has these values
            else:
                data = _ascontiguous(a.astype("<i8")).tobytes()
        else:
            data = _ascontiguous(leaf[2].astype("|b1")).tobytes()
        parts.append(struct.pack("<Q", len(data)) + data)
    return parts


def _material(fn, arguments: Arguments, cells) -> bytes:
    """The 32-byte master key: the name, the structure, every leaf (floats by their cells)."""
    key = ("parts", fn)
    if key not in arguments.memo:  # the same for every entry a call is tried against
        arguments.memo[key] = _parts(fn, arguments)
    h = hashlib.sha256()
    floats = iter(cells)
    for part in arguments.memo[key]:
        if part is None:
            data = next(floats)
            h.update(struct.pack("<Q", len(data)) + data)
        else:
            h.update(part)
    return h.digest()


def _keys(master: bytes):
    lookup = hashlib.sha256(master + b"lookup").digest()[:_ID_BYTES]
    mac = hashlib.sha256(master + b"mac").digest()
    return lookup, mac


def _stream(master: bytes, n: int) -> bytes:
    return hashlib.shake_256(master + b"stream").digest(n)


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        len(data), "little")


# ------------------------------------------------------------ result values


def pack(value) -> bytes:
    """A nested value (arrays, scalars, tuples, lists, str-keyed dicts, namedtuples) as bytes."""
    blobs = []

    def tree(v):
        if isinstance(v, _ndarray) or isinstance(v, _generic):
            a = _ascontiguous(_asarray(v))
            dtype = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
            if dtype.str not in _PLAIN_DTYPES:
                raise TypeError(f"cannot seal an array of dtype {a.dtype}")
            blobs.append(a.astype(dtype).tobytes())
            kind = "scalar" if isinstance(v, _generic) else "array"
            return {kind: [len(blobs) - 1, dtype.str, list(a.shape)]}
        if v is None or isinstance(v, (bool, int, float, str)):
            return {"value": v}
        if isinstance(v, tuple) and hasattr(v, "_fields"):
            return {"namedtuple": type(v).__name__, "fields": list(v._fields),
                    "items": [tree(x) for x in v]}
        if isinstance(v, tuple):
            return {"tuple": [tree(x) for x in v]}
        if isinstance(v, list):
            return {"list": [tree(x) for x in v]}
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {"dict": [[k, tree(x)] for k, x in v.items()]}
        raise TypeError(f"cannot seal a {type(v).__name__}")

    head = json.dumps(tree(value), sort_keys=True).encode()
    sizes = [len(b) for b in blobs]
    header = json.dumps({"tree": json.loads(head), "sizes": sizes}, sort_keys=True).encode()
    return struct.pack("<I", len(header)) + header + b"".join(blobs)


_namedtuples: dict = {}


def namedtuple_type(name, fields):
    """The class of a replayed cache: the assignment's own (``assignment.caches``) when it has it.

    Otherwise one namedtuple class per (name, fields), the same every time (a
    student may test ``isinstance`` against a value replayed earlier).
    """
    key = (name, tuple(fields))
    if key not in _namedtuples:
        kind = None
        try:
            from .. import caches  # the assignment's cache types, where the package has them
            kind = getattr(caches, name, None)
        except Exception:  # no such module (yet), or a broken one: a namedtuple of our own
            pass
        if kind is None or tuple(getattr(kind, "_fields", ())) != key[1]:
            kind = namedtuple(name, key[1])
        _namedtuples[key] = kind
    return _namedtuples[key]


def unpack(data: bytes):
    """The value ``pack`` wrote (fresh arrays)."""
    (n,) = struct.unpack_from("<I", data)
    header = json.loads(data[4:4 + n].decode())
    starts, at = [], 4 + n
    for size in header["sizes"]:
        starts.append((at, size))
        at += size

    def value(t):
        for kind in ("array", "scalar"):
            if kind in t:
                i, dtype, shape = t[kind]
                if dtype not in _PLAIN_DTYPES:
                    raise ValueError(f"unexpected dtype {dtype!r} in a replay entry")
                start, size = starts[i]
                a = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize,
                                  offset=start).reshape(shape).astype(dtype.lstrip("<|"))
                return a[()] if kind == "scalar" else a
        if "value" in t:
            return t["value"]
        if "tuple" in t:
            return tuple(value(x) for x in t["tuple"])
        if "list" in t:
            return [value(x) for x in t["list"]]
        if "dict" in t:
            return {k: value(x) for k, x in t["dict"]}
        if "namedtuple" in t:
            return namedtuple_type(t["namedtuple"], t["fields"])(*(value(x) for x in t["items"]))
        raise ValueError(f"unknown value in a replay entry: {sorted(t)}")

    return value(header["tree"])


# ------------------------------------------------------------------ entries


def seal(fn: str, args, result) -> tuple[dict, list, bytes]:
    """Seal the result of the call ``fn(*args)``.

    Returns (entry, offsets, box): entry {"fn", "grid": [exponent per float
    argument], "id": hex, "tag": hex} (JSON), the offset array of every float
    argument (float64, in argument order) and the encrypted result. The
    writer stores offsets and box as arrays and names them in the entry.
    """
    arguments = Arguments(args)
    if not arguments.ok:
        raise TypeError(f"cannot seal a call of {fn} with these arguments")
    exponents, offsets, cells = [], [], []
    for _, _, _, a in arguments.floats:
        e = _exponent(a)
        g = math.ldexp(1.0, e - GRID_BITS)
        q = a.astype(_float64) / g
        c = _floor(q)
        exponents.append(e)
        offsets.append(np.array(q - c, dtype=_float64).reshape(-1))  # flat, like the store
        cells.append(_ascontiguous(c.astype("<i8")).tobytes())
    master = _material(fn, arguments, cells)
    lookup, mac = _keys(master)
    plain = pack(result)
    box = _xor(plain, _stream(master, len(plain)))
    tag = hmac.new(mac, box, hashlib.sha256).digest()[:_TAG_BYTES]
    entry = {"fn": fn, "grid": exponents, "id": lookup.hex(), "tag": tag.hex()}
    if cells:
        entry["hint"] = _hint(fn, arguments, cells[0])
    return entry, offsets, box


def _hint(fn, arguments: Arguments, first_cells: bytes) -> str:
    """16 bits of a hash of the first float argument's cells: a cheap first test.

    A call that misses is rejected after one argument (usually an input, such
    as x[:, t]) instead of all; it says only whether a guess of that one
    argument is right to the grid, as the stub itself does for all of them.
    """
    key = ("hint", fn)
    if key not in arguments.memo:
        text = json.dumps([fn, arguments.structure, arguments.floats[0][2]]).encode()
        arguments.memo[key] = hashlib.sha256(b"hint\0" + text + b"\0")
    h = arguments.memo[key].copy()
    h.update(first_cells)
    return h.hexdigest()[:_HINT_HEX]


class Candidates:
    """The sealed entries of one function on one case, tried together.

    ``items``: [(entry, offsets, box)], offsets flat float64 arrays. ``find``
    computes the first float argument's cells against every entry's offsets in
    one array operation and checks the hints; only the entries whose hint
    matches are tried in full (``open_entry``).
    """

    def __init__(self, items):
        self.items = list(items)
        groups = {}
        for i, (entry, offsets, _) in enumerate(self.items):
            if entry.get("grid") and offsets and "hint" in entry:
                key = (entry["grid"][0], offsets[0].size)
                groups.setdefault(key, []).append(i)
        self.groups = [(e, n, idx, np.stack([self.items[i][1][0] for i in idx]))
                       for (e, n), idx in groups.items()]
        self.plain = [i for i, (entry, offsets, _) in enumerate(self.items)
                      if not (entry.get("grid") and offsets and "hint" in entry)]

    def find(self, arguments: Arguments, start=0):
        """(index, result) of the first entry (from ``start`` on) these arguments open, or None."""
        if not arguments.ok:
            return None
        hits = list(self.plain)
        if arguments.floats and self.groups:
            a = arguments.floats[0][3]
            for exponent, size, idx, offsets in self.groups:
                if a.size != size:
                    continue
                g = math.ldexp(1.0, exponent - GRID_BITS)
                q = a.astype(_float64).reshape(-1) / g
                if q.size and not float(abs(q).max()) <= 2.0 ** (GRID_BITS + 1):
                    continue
                cells = _rint(q[None, :] - offsets).astype("<i8")
                for row, i in zip(cells, idx):
                    if _hint(self.items[i][0]["fn"], arguments, row.tobytes()) == \
                            self.items[i][0]["hint"]:
                        hits.append(i)
        order = sorted(hits, key=lambda i: (i - start) % max(len(self.items), 1))
        cache = {}
        for i in order:
            entry, offsets, box = self.items[i]
            result = open_entry(entry, arguments, offsets, box, cache)
            if result is not None:
                return i, result
        return None


def open_entry(entry: dict, arguments: Arguments, offsets, box: bytes, cache=None):
    """The result sealed in ``entry`` when ``arguments`` open it, else None.

    ``offsets`` are the entry's offset arrays (flat, in float-argument order);
    ``cache`` (a dict kept for one call) saves recomputing the cells of an
    argument against offsets already seen.
    """
    if not arguments.ok or len(arguments.floats) != len(entry["grid"]) \
            or len(offsets) != len(entry["grid"]):
        return None
    cells = []
    for i, ((_, _, shape, a), exponent, d) in enumerate(zip(arguments.floats, entry["grid"],
                                                              offsets)):
        if d.size != a.size:  # (the shape itself is in the key)
            return None
        key = (i, exponent, id(d))
        found = cache.get(key) if cache is not None else None
        if found is None:
            found = _cells_of(a, exponent, d)
            if found is None:
                return None
            if cache is not None:
                cache[key] = found
        cells.append(found)
    master = _material(entry["fn"], arguments, cells)
    lookup, mac = _keys(master)
    if not hmac.compare_digest(lookup.hex(), entry["id"]):
        return None
    tag = hmac.new(mac, box, hashlib.sha256).digest()[:_TAG_BYTES]
    if not hmac.compare_digest(tag.hex(), entry["tag"]):
        return None  # the right id but a damaged box
    return unpack(_xor(box, _stream(master, len(box))))
