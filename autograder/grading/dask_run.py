"""Running the jobs on Dask workers: a local cluster, or the one at a scheduler's address.

Instructor-only. Each job runs ``autograder.grading.worker.execute_job`` on a
worker; the grading inputs go to the workers once, as a small task that Dask
computes again if every worker holding it dies. A cluster whose workers run
other grading code than the coordinator is refused before anything runs.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import warnings

from .errors import GradingError
from .fingerprint import worker_code_version
from .jobs import INPUTS_NAME
from .worker import JOB_FORMAT, execute_job, grading_inputs


def progress_bar(total, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc="grading", unit="notebook", file=sys.stderr)


def run_jobs(jobs, inputs: bytes, options, on_result) -> None:
    """Run the jobs on Dask workers; ``on_result(job, result)`` as each one ends, here.

    ``result`` is the worker's dict, or an Exception when the worker or the
    sandbox failed (not the student's code).
    """
    if not jobs:
        return
    from dask.distributed import Client, LocalCluster, as_completed

    version = worker_code_version()

    cluster = None
    if options.scheduler:
        client = Client(options.scheduler, timeout="30s")
    else:
        workers = options.workers or default_workers()
        cluster = LocalCluster(n_workers=min(workers, len(jobs)), threads_per_worker=1,
                               processes=True, memory_limit=0, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    bar = progress_bar(len(jobs), options.progress)
    try:
        check_workers(client, version)
        # a task, not scattered data: if every worker holding it dies, Dask computes it again
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ll]arge object")
            shared = client.submit(grading_inputs, inputs, pure=False,
                                   key=f"grading-inputs-{hashlib.sha256(inputs).hexdigest()[:16]}")
        futures = {}
        for job in jobs:
            payload = {"format": JOB_FORMAT, "code": version, "student": job.student,
                       "notebook": job.notebook, "nb": job.nb, "files": job.files,
                       "skip": job.skip, "inputs_name": INPUTS_NAME}
            future = client.submit(execute_job, payload, shared, options.limits(), pure=False,
                                   key=f"grade-{job.student}-{job.notebook}-{job.key[:12]}")
            futures[future] = job
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as err:  # the worker or the sandbox failed, not the student
                result = err
            on_result(futures[future], result)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def default_workers() -> int:
    """Local workers when ``--workers`` is not given: half the usable CPUs, at least one.

    A worker keeps two processes busy: the kernel of the notebook it runs, and
    the next kernel its pool starts meanwhile (``autograder.grading.sandbox.kernel_pool``),
    with the coordinator's scoring and recording beside them. On 2 cores one worker
    already keeps both busy, and a second one only adds its own overhead
    (docs/benchmarks.md).
    """
    from assignment.threads import usable_cpus
    return max(1, usable_cpus() // 2)


def check_workers(client, version) -> None:
    """Refuse a cluster whose workers run other grading code than this coordinator."""
    answers = client.run(worker_code_version, on_error="return")
    wrong = {address: answer for address, answer in answers.items() if answer != version}
    if wrong:
        lines = [f"{address}: " + (f"grading code {answer[:12]}" if isinstance(answer, str) else
                                   f"cannot tell its version ({type(answer).__name__})")
                 for address, answer in sorted(wrong.items())]
        raise GradingError(
            f"{len(wrong)} of {len(answers)} Dask worker(s) run other grading code than this "
            f"coordinator ({version[:12]}):\n  " + "\n  ".join(lines) + "\nInstall the same "
            "version of rnn-captioning-assignment on every grading machine, restart their "
            "workers, and grade again (nothing was graded by them).")
