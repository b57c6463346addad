"""A sandboxed kernel started and answering before any notebook runs in it: ``start_kernel``.

Instructor-only. ``start_kernel(config, workdir)`` builds the sandbox
(``autograder.grading.sandbox.process``), starts the kernel in it, connects
the driver (``autograder.grading.sandbox.kernel_driver``), waits for the
start-up handshake and locks the socket folder. The result, a
:class:`WarmKernel`, runs exactly one notebook
(``autograder.grading.sandbox.run_notebook``) and is then closed: killed, its
folders removed. ``autograder.grading.sandbox.kernel_pool`` starts the next one
while a notebook runs.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass

from ..limits import Limits
from .host import SandboxError
from .kernel_driver import Driver
from .process import KernelGone, Sandbox

# How long a kernel may take to answer its first request (at most Limits.total_seconds).
STARTUP_SECONDS = 60.0

# Trusted modules a grading kernel imports before any student code: the
# libraries and `assignment` modules the three notebooks' set-up cells import
# (tests/test_kernel_pool.py checks the list against the notebooks). Each
# kernel imports them itself and serves one notebook, so nothing is shared.
PRELOAD = (
    "numpy", "matplotlib", "matplotlib.pyplot", "IPython.display",
    "assignment.backend", "assignment.char_data", "assignment.char_lm",
    "assignment.checks", "assignment.data", "assignment.gradient_check", "assignment.layers",
    "assignment.metrics", "assignment.ngram", "assignment.notebook_import", "assignment.plots",
    "assignment.solver", "assignment.unit_probes",
)

# Started with `python -P -c BOOTSTRAP -f <connection file>`: the kernel binds
# its sockets, reads its configuration and imports the preloaded modules in an
# empty folder (an `ipython_kernel_config.py`, `ipykernel_launcher.py` or
# `numpy.py` in the student's folder must not run before the driver has
# connected, nor shadow a preloaded module), then moves to the student's folder
# and puts it on sys.path, as Jupyter does. A preloaded module that fails to
# import is left to the notebook's own import, which reports it. A grading
# kernel offers no debugger: without `debugpy`, which ipykernel imports only
# for one (about 0.05 s of every start), it answers every request the grader sends.
BOOTSTRAP = """\
import os, sys
sys.modules['debugpy'] = None
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
app.initialize(sys.argv[1:])
for name in {preload!r}:
    try:
        __import__(name)
    except ImportError:
        pass
os.chdir({workdir!r})
sys.path.insert(0, '')
app.start()
"""


@dataclass(frozen=True)
class KernelConfig:
    """What a kernel is started with; a pooled kernel serves only a job of the same config.

    env:      extra environment variables of the kernel, as sorted (name, value) pairs.
    readonly: extra host paths bound read-only, in the caller's order.
    limits:   the Limits of its notebook.
    preload:  modules imported before any student code (``PRELOAD``, or none).
    """

    env: tuple
    readonly: tuple
    limits: Limits
    preload: tuple = ()

    @classmethod
    def of(cls, env: dict, readonly=(), limits: Limits = Limits(), preload=()) -> "KernelConfig":
        return cls(tuple(sorted(env.items())), tuple(os.fspath(p) for p in readonly), limits,
                   tuple(preload))


class StartupFailed(Exception):
    """The kernel did not come up (a time-out or its exit); ``reason`` is one sentence."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class WarmKernel:
    """A started sandboxed kernel with its driver connected, for one notebook.

    workdir:       the kernel's cwd, HOME and only writable host folder.
    remove_workdir: True when the kernel made it (``close`` removes it), False
                   when it is the caller's (``close`` gives it back to its owner).
    """

    def __init__(self, config: KernelConfig, sandbox: Sandbox, driver: Driver,
                 remove_workdir: bool):
        self.config = config
        self.sandbox = sandbox
        self.driver = driver
        self.workdir = sandbox.workdir
        self.remove_workdir = remove_workdir
        self.closed = False

    def alive(self) -> bool:
        return self.sandbox.alive()

    def add_files(self, files: dict):
        """Write the student's files ({name: bytes}) into the workdir, owned by the kernel's uid.

        Only a name's last part is used (a later file of the same name replaces
        an earlier one); symbolic links are never followed. Call it before any
        cell runs.
        """
        for name, data in files.items():
            path = os.path.join(self.workdir, os.path.basename(name))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            try:
                os.fchown(fd, self.sandbox.uid, self.sandbox.gid)
                with os.fdopen(fd, "wb", closefd=False) as f:
                    f.write(data)
            finally:
                os.close(fd)

    def close(self):
        """Kill the sandbox, remove or give back the workdir, remove its folder; never raises."""
        if self.closed:
            return
        self.closed = True
        _discard(self.sandbox, self.driver, self.remove_workdir)


def start_kernel(config: KernelConfig, workdir, *, remove_workdir: bool = False) -> WarmKernel:
    """Start a sandboxed kernel for `config` in `workdir` (an existing, empty-enough folder).

    Returns a WarmKernel once the kernel has answered (at most
    min(STARTUP_SECONDS, limits.total_seconds) after the call). Raises
    StartupFailed when the kernel did not come up, SandboxError when the
    sandbox cannot be set up on this machine; either way nothing is left
    running, and the workdir is removed when ``remove_workdir``.
    """
    limits = config.limits
    started = time.monotonic()
    sandbox = driver = None
    try:
        sandbox = Sandbox(os.fspath(workdir), dict(config.env), config.readonly, limits)
        sandbox.prepare()
        kernel_argv = [sys.executable, "-P", "-c",
                       BOOTSTRAP.format(workdir=sandbox.workdir, preload=config.preload),
                       "-f", sandbox.connection_file]
        sandbox.start(kernel_argv)
        driver = Driver(sandbox)
        try:
            driver.start(started + min(limits.total_seconds, STARTUP_SECONDS))
            sandbox.lock_ipc()
        except (TimeoutError, KernelGone) as exc:
            sandbox.kill()
            tail = sandbox.log_tail()
            if tail.startswith("bwrap:") or "setpriv:" in tail or "prlimit:" in tail:
                raise SandboxError(setup_failure(tail)) from None
            why = ("did not answer within "
                   f"{min(limits.total_seconds, STARTUP_SECONDS):.0f} s"
                   if isinstance(exc, TimeoutError) else f"{exc}")
            raise StartupFailed(f"the kernel {why}" + (f"; its last output: {last_lines(tail)}"
                                                       if tail else "")) from None
        return WarmKernel(config, sandbox, driver, remove_workdir)
    except BaseException:
        if sandbox is not None:
            _discard(sandbox, driver, remove_workdir)
        elif remove_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        raise


def _discard(sandbox: Sandbox, driver: Driver | None, remove_workdir: bool):
    """Kill the sandbox, remove its workdir or give it back to its owner, remove its folder."""
    sandbox.kill()
    if driver is not None:
        driver.close()
    if remove_workdir:
        shutil.rmtree(sandbox.workdir, ignore_errors=True)
    else:
        sandbox.release_workdir()
    sandbox.close()


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
