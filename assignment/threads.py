"""BLAS thread limits, applied once when ``assignment`` is imported.

The matrices of this assignment are small (a minibatch of 100 by a few hundred
hidden units): a second BLAS thread gains little, while BLAS threads that
compete for the cores of a shared server, a JupyterHub container or a laptop
running other programs can slow training down many times (on a loaded 2-core
machine, 30 LSTM iterations took 112 s with OpenBLAS's default threads and 20 s
with one). So ``import assignment`` limits the BLAS that NumPy loaded to one
thread, with threadpoolctl (which works after NumPy is imported, in a running
kernel too).

Your own setting wins, first match in this order:

    ASSIGNMENT_BLAS_THREADS=N      N threads (a positive integer), or ``auto``: as many
                                   as the CPUs this process may use (CPU affinity and
                                   the container's CPU quota included)
    OPENBLAS_NUM_THREADS=N, MKL_NUM_THREADS=N, OMP_NUM_THREADS=N
                                   the BLAS's own variables: N threads

``blas_threads()`` tells the limit in force; ``limit_blas_threads()`` applies
the setting again (for a BLAS loaded later, e.g. by SciPy).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

SETTING = "ASSIGNMENT_BLAS_THREADS"
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
DEFAULT_THREADS = 1

__all__ = ["SETTING", "BLAS_VARIABLES", "DEFAULT_THREADS", "usable_cpus", "requested_threads",
           "limit_blas_threads", "blas_threads"]


def _cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup's CPU quota (v2 ``cpu.max`` or v1 CFS), None without one."""
    try:  # cgroup v2: "max 100000" or "150000 100000"
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max" and int(period) > 0:
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: -1 means no quota
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def usable_cpus() -> int:
    """The CPUs this process may use: its CPU affinity, capped by the cgroup CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def _positive_int(name: str, value: str) -> int:
    try:
        n = int(value.strip())
    except ValueError:
        n = 0
    if n < 1:
        allowed = "a positive integer or 'auto'" if name == SETTING else "a positive integer"
        raise ValueError(
            f"The environment variable {name}={value!r} is not {allowed}. Set it to e.g. 1 "
            f"(the number of BLAS threads NumPy may use) or unset it "
            f"(then `import assignment` uses {DEFAULT_THREADS})."
        )
    return n


def requested_threads(environ=None) -> tuple[int, str]:
    """The number of BLAS threads to use and where it comes from (for messages)."""
    environ = os.environ if environ is None else environ
    value = environ.get(SETTING, "").strip()
    if value:
        if value.lower() == "auto":
            return usable_cpus(), f"{SETTING}=auto"
        return _positive_int(SETTING, value), f"{SETTING}={value}"
    for name in BLAS_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            first = value.split(",")[0]  # OMP_NUM_THREADS may list nested levels: "4,2"
            try:
                return _positive_int(name, first), f"{name}={value}"
            except ValueError as err:  # not ours to refuse: say so, and go on without it
                import warnings

                warnings.warn(f"{err} It is ignored here.", stacklevel=3)
    return min(DEFAULT_THREADS, usable_cpus()), "the default"


_limiter = None


def limit_blas_threads(threads: int | None = None) -> int:
    """Limit every BLAS loaded so far (NumPy's) to ``threads``; by default the user's setting.

    Returns the number of threads set. Called by ``import assignment``.
    """
    global _limiter
    import numpy  # noqa: F401  (loads NumPy's BLAS, so that there is something to limit)
    from threadpoolctl import threadpool_limits

    if threads is None:
        threads, _ = requested_threads()
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}.")
    _limiter = threadpool_limits(limits=threads, user_api="blas")
    return threads


def blas_threads() -> dict:
    """The thread count of every BLAS this process has loaded: {library path: threads}."""
    from threadpoolctl import threadpool_info

    return {info["filepath"]: info["num_threads"] for info in threadpool_info()
            if info.get("user_api") == "blas"}
