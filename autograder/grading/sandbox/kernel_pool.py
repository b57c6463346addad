"""A grading worker's kernel pool: the next sandboxed kernel starts while a notebook runs.

Instructor-only. ``KernelPool.take(config)`` hands out a started
:class:`~autograder.grading.sandbox.warm_kernel.WarmKernel` and starts the
next one (same config) in the background, so a worker's next notebook finds
its kernel already answering, with the preloaded modules imported. A kernel is
never reused: it serves one notebook and is then closed (killed, its folders
removed). A spare started for another config, one that died while it waited,
or one whose start failed is discarded, and the kernel is started for the
notebook in the foreground with the usual reporting (``StartupFailed``,
``SandboxError``).

The kernels are started from one long-lived thread of the pool: bwrap's
``--die-with-parent`` kills a sandbox when the *thread* that started it ends,
so a starting thread must outlive its kernels (the pool's thread lives as
long as the process; a SIGKILL of the process still takes every sandbox with
it).
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
from concurrent.futures import Future

from .host import SandboxError
from .warm_kernel import KernelConfig, StartupFailed, WarmKernel, start_kernel

log = logging.getLogger(__name__)


class KernelPool:
    """One kernel started ahead; ``take`` a kernel per notebook, ``close`` at the end.

    workdir_parent: the folder in which each kernel's workdir is made (the
    temporary folder when None); the kernel removes it when it is closed.
    """

    def __init__(self, workdir_parent: str | None = None):
        self.workdir_parent = workdir_parent
        self._lock = threading.Lock()
        self._spare: tuple[KernelConfig, Future] | None = None
        self._closed = False
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._starter: threading.Thread | None = None

    def take(self, config: KernelConfig) -> WarmKernel:
        """A started kernel for `config` (the spare if it fits, else one started now).

        Then the next spare starts in the background. Raises StartupFailed
        or SandboxError as ``start_kernel`` does when the kernel had to be
        started now and did not come up. The caller closes the kernel.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("this kernel pool is closed")
            spare, self._spare = self._spare, None
        kernel = self._usable(spare, config)
        if kernel is None:
            try:
                kernel = start_kernel(config, self._new_workdir(), remove_workdir=True)
            except StartupFailed:
                self._start_spare(config)
                raise
        self._start_spare(config)
        return kernel

    def close(self):
        """Kill the spare kernel (waiting for its start) and remove its folders; idempotent."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
        if spare is not None:
            kernel = self._result(spare[1])
            if kernel is not None:
                kernel.close()

    # -- internals -----------------------------------------------------------

    def _usable(self, spare, config: KernelConfig) -> WarmKernel | None:
        if spare is None:
            return None
        spare_config, future = spare
        kernel = self._result(future)
        if kernel is None:
            return None
        if spare_config != config:
            kernel.close()
            return None
        if not kernel.alive():
            log.warning("the kernel started ahead ended while it waited (%s); starting another "
                        "one for this notebook", kernel.sandbox.log_tail()[-300:] or "no output")
            kernel.close()
            return None
        return kernel

    @staticmethod
    def _result(future: Future) -> WarmKernel | None:
        """The spare's kernel, or None when its start failed (the failure is logged)."""
        try:
            return future.result()
        except SandboxError as exc:
            log.error("the sandbox could not start a kernel ahead: %s", exc)
        except StartupFailed as exc:
            log.warning("a kernel started ahead did not come up: %s", exc.reason)
        except Exception:  # noqa: BLE001 - logged with its traceback, a kernel is started anew
            log.exception("starting a kernel ahead failed")
        return None

    def _new_workdir(self) -> str:
        return tempfile.mkdtemp(prefix="rnn-grading-work-", dir=self.workdir_parent)

    def _start_spare(self, config: KernelConfig):
        with self._lock:
            if self._closed or self._spare is not None:
                return
            future: Future = Future()
            self._spare = (config, future)
            if self._starter is None:
                self._starter = threading.Thread(target=self._start_kernels, daemon=True,
                                                 name="kernel-pool-starter")
                self._starter.start()
        self._requests.put((config, future))

    def _start_kernels(self):
        """The starter thread: starts each requested kernel; never ends (see the docstring)."""
        while True:
            config, future = self._requests.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(start_kernel(config, self._new_workdir(), remove_workdir=True))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the spare
                future.set_exception(exc)
