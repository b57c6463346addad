"""Running a student notebook inside a bubblewrap sandbox while grading.

Instructor-only. ``run_notebook(nb, workdir, env=..., readonly=..., limits=...)``
executes every code cell of ``nb`` the way nbgrader's Execute step does
(in order, errors do not stop the run, outputs recorded) with the kernel,
and only the kernel, inside ``bwrap`` (``autograder.grading.sandbox.process``),
driven from outside (``autograder.grading.sandbox.kernel_driver``). Per cell and per
notebook it enforces the wall-clock limits of :class:`Limits`; on a time limit
or a dead kernel the run stops there and says why in one sentence.
"""

from __future__ import annotations

import copy
import os
import signal
import sys
import time
from dataclasses import dataclass, field

import nbformat

from .kernel_driver import Driver
from ..cell_plan import NOT_RUN_TEXT
from ..limits import Limits
from .host import SandboxError
from .process import KernelGone, Sandbox

# How long a kernel may take to answer its first request (inside total_seconds).
STARTUP_SECONDS = 60.0

# Started with `python -P -c BOOTSTRAP -f <connection file>`: the kernel binds
# its sockets and reads its configuration in an empty folder (an
# `ipython_kernel_config.py` or `ipykernel_launcher.py` in the student's folder
# must not run before the driver has connected), then moves to the student's
# folder and puts it on sys.path, as Jupyter does.
BOOTSTRAP = """\
import os, sys
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
app.initialize(sys.argv[1:])
os.chdir({workdir!r})
sys.path.insert(0, '')
app.start()
"""


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
    seconds:      wall-clock time of the whole run, kernel start included.
    cell_seconds: [cell index, wall-clock seconds] of each code cell sent to
                  the kernel, in order.
    """

    nb: nbformat.NotebookNode
    status: str
    cell_index: int | None
    reason: str
    seconds: float
    cell_seconds: list = field(default_factory=list)



def run_notebook(nb, workdir, *, env: dict, readonly=(), limits: Limits = Limits(),
                 skip=()) -> RunOutcome:
    """Execute the code cells of `nb` in a sandboxed kernel and return what happened.

    nb:       a notebook (NotebookNode or dict, nbformat 4); not modified.
    workdir:  an existing host folder: the kernel's cwd, HOME and only
              writable host place (it appears at the same absolute path).
    env:      extra environment variables of the kernel (str -> str).
    readonly: extra host paths bound read-only at the same path.
    limits:   a Limits.
    skip:     indices in nb.cells of code cells not to run (the grading plan,
              ``autograder.grading.cell_plan``); each gets the output
              NOT_RUN_TEXT instead.

    Returns a RunOutcome; raises SandboxError only when the sandbox itself
    cannot be set up. Cells run in order; an error in a cell does not stop
    the run; the first time limit or kernel death stops it (later cells keep
    no outputs). The sandbox is always killed and cleaned up before return.
    """
    started = time.monotonic()
    deadline_total = started + limits.total_seconds
    nb = nbformat.from_dict(copy.deepcopy(dict(nb)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    sandbox = Sandbox(os.fspath(workdir), env, readonly, limits)
    driver = None
    cell_seconds = []
    status, cell_index, reason = "ok", None, ""
    try:
        sandbox.prepare()
        kernel_argv = [sys.executable, "-P", "-c", BOOTSTRAP.format(workdir=sandbox.workdir),
                       "-f", sandbox.connection_file]
        sandbox.start(kernel_argv)
        driver = Driver(sandbox)
        try:
            driver.start(min(deadline_total, started + STARTUP_SECONDS))
            sandbox.lock_ipc()
        except (TimeoutError, KernelGone) as exc:
            sandbox.kill()
            tail = sandbox.log_tail()
            if tail.startswith("bwrap:") or "setpriv:" in tail or "prlimit:" in tail:
                raise SandboxError(setup_failure(tail)) from None
            why = ("did not answer within "
                   f"{min(limits.total_seconds, STARTUP_SECONDS):.0f} s"
                   if isinstance(exc, TimeoutError) else f"{exc}")
            status = "startup_failed"
            reason = f"the kernel {why}" + (f"; its last output: {last_lines(tail)}"
                                            if tail else "")
            return RunOutcome(nb, status, None, reason, time.monotonic() - started, [])
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
        sandbox.kill()
        if driver is not None:
            driver.close()
        sandbox.release_workdir()
        sandbox.remove_private()


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


def last_lines(text: str, n: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-n:])[-500:]


def setup_failure(tail: str) -> str:
    hint = ""
    if "namespace" in tail or "Operation not permitted" in tail:
        hint = (" Unprivileged user namespaces look disabled: enable them (`sysctl -w "
                "kernel.unprivileged_userns_clone=1` on Debian/Ubuntu, "
                "`user.max_user_namespaces` > 0, or the AppArmor profile for bwrap on Ubuntu "
                "24.04+); in a container, run it with `--security-opt seccomp=unconfined` or "
                "`--privileged`.")
    return f"the grading sandbox could not start: {last_lines(tail)}.{hint}"
