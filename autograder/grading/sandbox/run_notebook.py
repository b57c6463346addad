"""Running a student notebook inside a bubblewrap sandbox while grading.

Instructor-only. ``run_notebook(nb, workdir, env=..., readonly=..., limits=...)``
executes every code cell of ``nb`` the way nbgrader's Execute step does
(in order, errors do not stop the run, outputs recorded) with the kernel,
and only the kernel, inside ``bwrap`` (``autograder.grading.sandbox.process``),
driven from outside (``autograder.grading.sandbox.kernel_driver``). It starts
the kernel itself (``autograder.grading.sandbox.warm_kernel``), or runs in one
started ahead (``run_notebook(nb, kernel=...)``, from
``autograder.grading.sandbox.kernel_pool``). Per cell and per notebook it
enforces the wall-clock limits of :class:`Limits`; on a time limit or a dead
kernel the run stops there and says why in one sentence.
"""

from __future__ import annotations

import copy
import signal
import time
from dataclasses import dataclass, field

import nbformat

from ..cell_plan import NOT_RUN_TEXT
from ..limits import Limits
from .process import KernelGone
from .warm_kernel import KernelConfig, StartupFailed, WarmKernel, last_lines, start_kernel


@dataclass
class RunOutcome:
    """What happened to one notebook run.

    nb:           the notebook with the outputs of every cell that ran (code
                  cells that did not run have no outputs; a skipped cell has
                  one line that says so).
    status:       "ok" | "cell_timeout" | "total_timeout" | "kernel_died" |
                  "startup_failed".
    cell_index:   index in nb.cells of the cell where the run stopped (None
                  when ok, and for startup_failed).
    reason:       one human-readable sentence for the instructor's review
                  list ("" when ok).
    seconds:      wall-clock time of the run: the kernel's start when
                  run_notebook starts it, then the cells.
    cell_seconds: [cell index, wall-clock seconds] of each code cell sent to
                  the kernel, in order.
    """

    nb: nbformat.NotebookNode
    status: str
    cell_index: int | None
    reason: str
    seconds: float
    cell_seconds: list = field(default_factory=list)



def run_notebook(nb, workdir=None, *, env: dict | None = None, readonly=(),
                 limits: Limits | None = None, kernel: WarmKernel | None = None,
                 skip=()) -> RunOutcome:
    """Execute the code cells of `nb` in a sandboxed kernel and return what happened.

    nb:       a notebook (NotebookNode or dict, nbformat 4); not modified.
    workdir:  an existing host folder: the kernel's cwd, HOME and only
              writable host place (it appears at the same absolute path).
    env:      extra environment variables of the kernel (str -> str).
    readonly: extra host paths bound read-only at the same path.
    limits:   a Limits (default: Limits()).
    kernel:   instead of workdir, env and readonly: a WarmKernel started
              ahead (``start_kernel``, ``KernelPool.take``), used for this
              notebook only; limits are then the kernel's.
    skip:     indices in nb.cells of code cells not to run (the grading plan,
              ``autograder.grading.cell_plan``); each gets the output
              NOT_RUN_TEXT instead.

    Returns a RunOutcome; raises SandboxError only when the sandbox itself
    cannot be set up. Cells run in order; an error in a cell does not stop
    the run; the first time limit or kernel death stops it (later cells keep
    no outputs). ``limits.total_seconds`` counts from when the kernel has
    started (its start has its own limit, see ``start_kernel``). The sandbox
    is always killed and cleaned up before return.
    """
    started = time.monotonic()
    nb = _without_outputs(nb)
    if kernel is None:
        if workdir is None or env is None:
            raise TypeError("run_notebook needs workdir and env, or a started kernel")
        try:
            kernel = start_kernel(KernelConfig.of(env, readonly, limits or Limits()), workdir)
        except StartupFailed as exc:
            return startup_failed(nb, exc.reason, time.monotonic() - started)
    elif workdir is not None or env is not None or readonly:
        kernel.close()
        raise TypeError("run_notebook runs in the kernel's workdir with the kernel's env and "
                        "readonly paths: give either a kernel or workdir, env and readonly")
    elif limits is not None and limits != kernel.config.limits:
        kernel.close()
        raise ValueError(f"the kernel was started for {kernel.config.limits}, not {limits}: "
                         "start one for these limits")
    limits = kernel.config.limits
    sandbox, driver = kernel.sandbox, kernel.driver
    deadline_total = time.monotonic() + limits.total_seconds
    cell_seconds = []
    status, cell_index, reason = "ok", None, ""
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            if index in skip:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                       text=NOT_RUN_TEXT)]
                continue
            cell_start = time.monotonic()
            cell_deadline = min(cell_start + limits.cell_seconds, deadline_total)
            try:
                driver.run_cell(cell, limits.output_bytes, cell_deadline)
            except TimeoutError:
                if cell_start + limits.cell_seconds > deadline_total:
                    status = "total_timeout"
                    reason = (f"the notebook ran longer than {limits.total_seconds:g} s in "
                              f"total (stopped in cell {index}); later cells were not run")
                else:
                    status = "cell_timeout"
                    reason = (f"cell {index} ran longer than {limits.cell_seconds:g} s; the "
                              "kernel was stopped and later cells were not run")
                cell_index = index
            except KernelGone:
                sandbox.kill()
                status, cell_index = "kernel_died", index
                reason = (f"the kernel died while running cell {index} "
                          f"({_exit_description(sandbox.process.returncode)}); later cells "
                          "were not run")
                tail = sandbox.log_tail()
                if tail:
                    reason += f"; its last output: {last_lines(tail)}"
            cell_seconds.append([index, time.monotonic() - cell_start])
            if status != "ok":
                break
        return RunOutcome(nb, status, cell_index, reason, time.monotonic() - started,
                          cell_seconds)
    finally:
        kernel.close()


def startup_failed(nb, reason: str, seconds: float) -> RunOutcome:
    """The outcome of a notebook whose kernel did not start: no cell ran (`reason`: why)."""
    return RunOutcome(_without_outputs(nb), "startup_failed", None, reason, seconds, [])


def _without_outputs(nb) -> nbformat.NotebookNode:
    """A copy of `nb` whose code cells have no outputs and no execution counts."""
    nb = nbformat.from_dict(copy.deepcopy(dict(nb)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _exit_description(code) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0 or code > 128:
        signum = -code if code < 0 else code - 128
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        extra = {"SIGKILL": ": killed, often for using too much memory",
                 "SIGSEGV": ": a segmentation fault, usually in C code",
                 "SIGABRT": ": aborted"}.get(name, "")
        return f"{name}{extra}"
    return f"exit code {code}"
