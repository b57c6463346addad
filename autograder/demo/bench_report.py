"""What ``rnn-assignment bench`` prints: the machine, the tables, every ratio against its target.

Instructor-only. ``TARGETS`` are the limits the measurements are held to
(docs/benchmarks.md); ``check_targets`` compares, ``format_report`` prints.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from assignment import backend

from .bench_cells import format_cell_profile
from .bench_layers import CELLS, DTYPES, SIZES
from .bench_timing import load_average

# (json key, comparison, limit); keys name entries of the results (docs/benchmarks.md).
TARGETS = (
    [(f"{cell}.{size}_{dt}.vs_gemm", "<=", 1.2)
     for cell in CELLS for size in SIZES for dt in DTYPES]
    + [(f"{cell}.{size}_f64.vs_torch", "<=", 1.0) for cell in CELLS for size in SIZES]
    + [(f"{cell}.{size}_f32.vs_torch", "<=", 1.3) for cell in CELLS for size in SIZES]
    + [("grading.s_per_notebook_1_worker", "<=", 3.0),
       ("grading.speedup_2_workers", ">=", 1.8),
       ("grading.vs_plain_nbgrader", "<=", 0.35),
       ("train.B_gpu_speedup", ">=", 10.0)]
)


def blas_thread_count():
    """The thread limit of NumPy's BLAS (threadpoolctl), or a string when it cannot be told."""
    from assignment.threads import blas_threads

    counts = set(blas_threads().values())
    return counts.pop() if len(counts) == 1 else (sorted(counts) or "unknown")


def machine_info(torch_threads):
    """The machine, the BLAS NumPy uses and the thread counts: what the numbers depend on."""
    info = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "python": platform.python_version(),
            "numpy": np.__version__, "backend": backend.backend_name(),
            "platform": platform.platform(), "cpu": cpu_name(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(),
            "load_average_at_start": load_average(),
            "blas_threads": blas_thread_count(),
            "blas": blas_name(), "torch_threads": torch_threads}
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = "not installed"
    if backend.backend_name() == "cupy":
        cupy = backend.get_backend()
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        info["cupy"] = cupy.__version__
    return info


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_name():
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return " ".join(str(config.get(k, "")) for k in ("name", "version")).strip()
    except Exception:  # older NumPy: no dict form
        return "unknown"


def lookup(results, key):
    """``results['lstm']['A_f32']['vs_gemm']`` for the key 'lstm.A_f32.vs_gemm', or None."""
    node = results
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, (int, float)) else None


def check_targets(results):
    """Every target of TARGETS with its measured value, as dicts (value None: not measured)."""
    rows = []
    for key, op, limit in TARGETS:
        value = lookup(results, key)
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        rows.append({"key": key, "value": value, "target": f"{op} {limit:g}", "met": met})
    return rows


def format_report(results):
    """The printed report: machine, sequence table, other sections, targets."""
    m = results["machine"]
    lines = [f"Benchmark, {m['date']}: {m['cpu']} ({m['cpus_usable']} usable CPUs), "
             f"backend {m['backend']}{', GPU ' + m['gpu'] if 'gpu' in m else ''}",
             f"BLAS {m['blas']}, {m['blas_threads']} thread(s); torch {m['torch']}, "
             f"{m['torch_threads']} thread(s)", "",
             "| layer | size | dtype | reference ms | GEMM bound ms | torch ms | vs_gemm | vs_torch |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for cell in CELLS:
        for name, e in results.get(cell, {}).items():
            size, dt = name.split("_")
            lines.append(f"| {cell} | {size} | {dt} | {e['numpy_ms']:.1f} | {e['gemm_bound_ms']:.1f}"
                         f" | {fmt(e.get('torch_ms'), '.1f')} | {e['vs_gemm']:.2f}"
                         f" | {fmt(e.get('vs_torch'), '.2f')} |")
    for section in ("train", "gradcheck", "grading", "memory"):
        if section in results:
            lines += ["", f"{section}:"]
            lines += [f"  {k}: {fmt(v, '.3g')}" for k, v in results[section].items()
                      if k != "cell_profile"]
    profile = results.get("grading", {}).get("cell_profile")
    if profile:
        lines += ["", "grading, 1 worker: median seconds per cell (cells under 0.05 s together)"]
        lines += format_cell_profile(profile)
    lines += ["", "| target | measured | limit | met |", "|---|---:|---|---|"]
    for row in results["targets"]:
        met = {True: "yes", False: "NO", None: "not measured"}[row["met"]]
        lines.append(f"| {row['key']} | {fmt(row['value'], '.2f')} | {row['target']} | {met} |")
    return "\n".join(lines)


def fmt(value, spec):
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)
