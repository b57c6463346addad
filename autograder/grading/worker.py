"""What a grading worker does with one job: run one notebook in the sandbox, return what it gave.

Instructor-only, but it needs no course directory and no gradebook: a job
carries the notebook to run (already restored from the instructor's cells, see
``autograder.grading.restore``) and the student's files; the grading inputs (hidden
inputs and replay tables, no expected values) come once per worker, as the
result of a small Dask task (``grading_inputs``) that Dask computes again on
another worker if every worker holding it dies. They are unpacked into a
folder inside the Dask worker's own scratch directory, which Dask removes
when the worker closes (or, after a crash, when the next worker starts); so
is each job's working folder, which its kernel removes when it ends.

Each worker process keeps one sandboxed kernel started ahead
(``autograder.grading.sandbox.kernel_pool``): a job takes it, writes the
student's files into its empty workdir and runs the notebook, while the next
kernel starts. The spare is killed when the process exits.

A job carries the fingerprint of the grading code the coordinator runs
(``autograder.grading.fingerprint.worker_code_version``: this package, the
kernel-side collector and the ``assignment`` package the notebooks import); a
worker whose code differs refuses it with :class:`WorkerVersionError`, which
says what to do.

This module is what Dask ships to workers (``execute_job``); it runs the
same way in a local process pool, on a remote Dask worker, or in-process.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from assignment.formats.grading_inputs import INPUTS_ENV

from .fingerprint import worker_code_version

__all__ = ["execute_job", "KERNEL_MODULE_DIR", "STUDENT_FILE_TYPES", "MAX_STUDENT_FILE_BYTES",
           "JOB_FORMAT", "grading_inputs", "WorkerVersionError"]

JOB_FORMAT = 1
# the kernel-side collector (`rnn_grading_kernel`), importable in the sandbox only
KERNEL_MODULE_DIR = Path(__file__).resolve().parents[1] / "kernel"
# Files of a submission the kernel may read (an LSTM notebook imports the student's
# RNN notebook). No .py files: a student's numpy.py must not shadow a library.
STUDENT_FILE_TYPES = (".ipynb", ".txt", ".csv", ".json", ".npy", ".npz", ".png", ".jpg",
                      ".jpeg", ".h5")
MAX_STUDENT_FILE_BYTES = 20 * 2**20

_inputs_cache: dict = {}
_pools: dict = {}                 # workdir parent -> this process's KernelPool
_pools_lock = threading.Lock()


class WorkerVersionError(RuntimeError):
    """This worker runs other grading code than the coordinator (it must not grade)."""


def check_version(wanted: str | None) -> None:
    """Refuse a job from a coordinator that runs other grading code than this worker."""
    mine = worker_code_version()
    if wanted != mine:
        raise WorkerVersionError(
            f"worker {socket.gethostname()} (pid {os.getpid()}) runs other grading code "
            f"({mine[:12]}) than the coordinator ({str(wanted)[:12]}): install the same version "
            "of rnn-captioning-assignment on every grading machine and restart its Dask workers")


def grading_inputs(data: bytes) -> bytes:
    """The Dask task that holds the grading inputs (recomputed if its worker dies)."""
    return data


def _scratch_dir() -> str | None:
    """The Dask worker's own scratch folder (removed by Dask when the worker is done)."""
    try:
        from distributed import get_worker
        return get_worker().local_directory
    except (ImportError, ValueError):
        return None


def _inputs_dir(grading_inputs: bytes, name: str) -> Path:
    """A private folder with the kernel module and the grading inputs (once per worker).

    The sandbox mounts it read-only. It lives in the Dask worker's scratch
    folder; outside Dask, in the temporary folder, removed when the process exits.
    """
    digest = hashlib.sha256(grading_inputs).hexdigest()[:16]
    path = _inputs_cache.get(digest)
    if path is not None and path.exists():
        return path
    path = Path(tempfile.mkdtemp(prefix=f"rnn-grading-inputs-{digest}-", dir=_scratch_dir()))
    atexit.register(shutil.rmtree, path, True)
    shutil.copyfile(KERNEL_MODULE_DIR / "rnn_grading_kernel.py", path / "rnn_grading_kernel.py")
    (path / name).write_bytes(grading_inputs)
    for entry in path.iterdir():
        entry.chmod(0o444)
    path.chmod(0o755)  # the kernel runs as another user; Dask can still remove it
    _inputs_cache[digest] = path
    return path


def _data_dir() -> Path | None:
    """The captioning dataset on this worker (read-only in the sandbox), if there is one."""
    try:
        from assignment.data import resolve_data_dir
        path = Path(resolve_data_dir())
    except Exception:
        return None
    return path if path.is_dir() else None


def _corpus_dir() -> Path | None:
    """The language model's texts on this worker (read-only in the sandbox), if they are here."""
    from assignment.char_data import CORPUS_DIR, CORPUS_ENV_VAR
    path = Path(os.environ.get(CORPUS_ENV_VAR, "").strip() or CORPUS_DIR)
    return path if path.is_dir() else None


def _kernel_pool():
    """This process's kernel pool (made on first use; its spare is killed at exit)."""
    from .sandbox.kernel_pool import KernelPool

    scratch = _scratch_dir()
    with _pools_lock:
        pool = _pools.get(scratch)
        if pool is None:
            pool = _pools[scratch] = KernelPool(scratch)
            atexit.register(pool.close)
        return pool


def execute_job(job: dict, grading_inputs: bytes, limits: dict) -> dict:
    """Run ``job['nb']`` sandboxed; return the executed notebook and how the run ended.

    Inputs:
        job: {"format", "code" (the coordinator's worker_code_version()), "student", "notebook",
              "nb" (nbformat dict), "files" {name: bytes},
              "skip" [[cell index, why], ...]: cells not to run (autograder.grading.cell_plan),
              "inputs_name" (file name the kernel module expects)}
        grading_inputs: the bytes of the grading-inputs file (no expected values)
        limits: keyword arguments of autograder.grading.limits.Limits
    Returns {"status", "cell_index", "reason", "seconds", "cell_seconds", "nb", "worker"}.
    Raises autograder.grading.sandbox.host.SandboxError when the sandbox cannot run here, and
    WorkerVersionError when this worker's grading code is not the coordinator's
    (the coordinator keeps the earlier grade, or flags the notebook, and reports it).
    """
    import nbformat

    from .limits import Limits
    from .sandbox.run_notebook import run_notebook, startup_failed
    from .sandbox.warm_kernel import PRELOAD, KernelConfig, StartupFailed

    if job.get("format") != JOB_FORMAT:
        raise WorkerVersionError(f"job format {job.get('format')} is not {JOB_FORMAT}: install "
                                 "the coordinator's version of rnn-captioning-assignment on "
                                 "this worker and restart it")
    check_version(job.get("code"))
    started = time.monotonic()
    inputs_dir = _inputs_dir(grading_inputs, job["inputs_name"])
    nb = nbformat.from_dict(job["nb"])
    env = {"NBGRADER_EXECUTION": "autograde",
           "PYTHONPATH": str(inputs_dir),
           INPUTS_ENV: str(inputs_dir / job["inputs_name"])}
    readonly = [inputs_dir]
    data = _data_dir()
    if data is not None:
        readonly.append(data)
        env["ASSIGNMENT_DATA_DIR"] = str(data)
    corpora = _corpus_dir()
    if corpora is not None:
        from assignment.char_data import CORPUS_ENV_VAR
        readonly.append(corpora)
        env[CORPUS_ENV_VAR] = str(corpora)
    config = KernelConfig.of(env, readonly, Limits(**limits), PRELOAD)
    try:
        kernel = _kernel_pool().take(config)
    except StartupFailed as exc:
        outcome = startup_failed(nb, exc.reason, time.monotonic() - started)
    else:
        try:
            kernel.add_files(job.get("files", {}))
        except BaseException:
            kernel.close()
            raise
        outcome = run_notebook(nb, kernel=kernel,
                               skip=[index for index, _ in job.get("skip", [])])
    return {"status": outcome.status, "cell_index": outcome.cell_index,
            "reason": outcome.reason, "seconds": outcome.seconds,
            "cell_seconds": list(outcome.cell_seconds),
            "nb": nbformat.writes(outcome.nb), "worker": socket.gethostname(),
            "wall_seconds": time.monotonic() - started, "pid": os.getpid()}
