"""How the benchmarks measure: median wall time, interleaved runs, peak memory of a command.

Instructor-only; used by every section of ``rnn-assignment bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from assignment import backend


def synchronize():
    """Wait for the GPU (CuPy) to finish queued work; nothing to do on NumPy."""
    if backend.backend_name() == "cupy":
        backend.get_backend().cuda.Device().synchronize()


def interleaved_median_ms(runs, repeats, warmup=1):
    """Median milliseconds of several functions, timed in turn: {name: ms}.

    runs: {name: (fn, sync)}. Every repeat times each function once, one after
    the other, so that a burst of load from other processes (a shared machine)
    slows all of them alike and the ratios between them stay meaningful.
    """
    for fn, sync in runs.values():
        for _ in range(warmup):
            fn()
        sync()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (fn, sync) in runs.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


def run_measured(cmd, cwd=None, env=None, timeout=None):
    """Run ``cmd``; returns (seconds, peak RSS in MiB of its largest process, CompletedProcess).

    The peak comes from a fresh wrapper interpreter's RUSAGE_CHILDREN, so it
    covers this command's process tree alone (every process its parents waited for).
    """
    wrapper = ("import resource, subprocess, sys, json\n"
               "p = subprocess.run(json.loads(sys.argv[1]))\n"
               "r = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
               "print('\\nBENCH_PEAK_RSS_KB', r, file=sys.stderr)\n"
               "sys.exit(p.returncode)\n")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper, json.dumps([str(c) for c in cmd])],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    peak_kb = 0
    for line in proc.stderr.splitlines():
        if line.startswith("BENCH_PEAK_RSS_KB"):
            peak_kb = int(line.split()[1])
    return seconds, peak_kb / 1024, proc


def cpu_times():
    """(busy, total) seconds of the CPUs this process may use, so far (Linux), or None.

    From /proc/stat; the difference between two calls says how busy those
    CPUs were in between, whoever kept them busy.
    """
    try:
        allowed = os.sched_getaffinity(0)
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu")]
        tick = os.sysconf("SC_CLK_TCK")
    except (AttributeError, OSError, ValueError):
        return None
    busy = total = 0
    for fields in lines:
        name = fields[0]
        if name == "cpu" or int(name[3:]) not in allowed:
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        values = [int(v) for v in fields[1:9]]
        busy += sum(values) - values[3] - values[4]
        total += sum(values)
    return busy / tick, total / tick


def busy_fraction(before, after):
    """How busy the usable CPUs were between two ``cpu_times()`` (0 to 1), or None."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def load_average():
    """The 1-minute load average (None where the OS has none): how busy the machine was."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def tail(text, lines=15):
    return "\n".join(text.strip().splitlines()[-lines:])


def progress(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)
