"""The ``grading`` section of ``rnn-assignment bench``: our ``grade`` against plain nbgrader.

Instructor-only. Seconds per submission of ``rnn-assignment grade`` with 1 and
2 workers, and of plain serial ``nbgrader autograde`` of the same submissions
in a copy of the course (hidden tests grading in-kernel, unsandboxed).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ..release.course import (ASSIGNMENT, NOTEBOOKS, REFERENCES_ENV, REPO, SOURCE_NOTEBOOKS,
                              Course, tools_env)
from .bench_cells import cell_profile
from .bench_timing import busy_fraction, cpu_times, load_average, progress, run_measured, tail
from .samples import solved


def make_submissions(folder, count, notebooks_dir=None):
    """``folder/<student id>/<notebook>``: the source notebooks solved, one folder per student.

    Student ids are ``bench-001``, ``bench-002``, ... Returns the list of ids.
    """
    notebooks_dir = Path(notebooks_dir or SOURCE_NOTEBOOKS)
    students = [f"bench-{k:03d}" for k in range(1, count + 1)]
    for name in NOTEBOOKS:
        text = json.dumps(solved(json.loads((notebooks_dir / name).read_text())))
        for student in students:
            (Path(folder) / student).mkdir(parents=True, exist_ok=True)
            (Path(folder) / student / name).write_text(text)
    return students


def bench_grading(num_submissions, workdir):
    """The grading section: our `grade` with 1 and 2 workers vs plain serial nbgrader autograde.

    Each submission is one notebook of every name in ``NOTEBOOKS``; ``s_per_notebook_*`` divide
    the whole command's time by all of them. ``cell_profile``: where the 1-worker run's time
    went, cell by cell (``autograder.demo.bench_cells``).
    """
    workdir = Path(workdir)
    cli = [sys.executable, "-m", "autograder.cli"]
    env = tools_env()
    section = {"submissions": num_submissions}

    course = Course(workdir / "course")
    seconds, _, proc = run_measured(cli + ["release", "--course", course.root, "--skip-checks"],
                                    env=env)
    if proc.returncode != 0:
        section["status"] = f"unavailable: the course release failed:\n{tail(proc.stderr)}"
        return section
    section["release_s"] = seconds
    subs = workdir / "submissions"
    make_submissions(subs, num_submissions)

    # Baseline: plain serial nbgrader autograde in a copy of the same course, grading in-kernel
    # (the hidden tests find the references through the environment), no sandbox.
    plain = Course(workdir / "plain_nbgrader")
    shutil.copytree(course.root, plain.root)
    for student in sorted(os.listdir(subs)):
        shutil.copytree(subs / student, plain.root / "submitted" / student / ASSIGNMENT)
    kernel_path = [str(REPO / "autograder" / "kernel"), str(REPO)]
    plain_env = tools_env(**{REFERENCES_ENV: str(plain.references_path),
                             "PYTHONPATH": os.pathsep.join(kernel_path)})
    seconds, peak, proc = run_measured([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT],
                                       cwd=plain.root, env=plain_env)
    if proc.returncode != 0:
        section["status"] = f"unavailable: plain nbgrader autograde failed:\n{tail(proc.stderr)}"
        return section
    section["plain_nbgrader_s_per_submission"] = seconds / num_submissions
    section["plain_nbgrader_peak_rss_mb"] = peak
    section["plain_nbgrader_load_average"] = load_average()
    progress(f"plain nbgrader: {seconds / num_submissions:.1f} s per submission")

    for workers in (1, 2):
        graded = Course(workdir / f"course_{workers}_workers")
        shutil.copytree(course.root, graded.root)
        before = cpu_times()
        seconds, peak, proc = run_measured(
            cli + ["grade", "--course", graded.root, subs, "--workers", str(workers)], env=env)
        busy = busy_fraction(before, cpu_times())
        if proc.returncode != 0:
            section["status"] = (f"unavailable: `rnn-assignment grade --workers {workers}` "
                                 f"failed (exit {proc.returncode}):\n{tail(proc.stderr)}")
            return section
        section[f"s_per_submission_{workers}_worker"] = seconds / num_submissions
        section[f"s_per_notebook_{workers}_worker"] = seconds / (num_submissions * len(NOTEBOOKS))
        section[f"peak_rss_mb_{workers}_worker"] = peak
        # how busy the usable CPUs were (other work on the machine included): near 1 with
        # 1 worker, a second worker has nothing left to run on
        section[f"cpu_busy_{workers}_worker"] = busy
        # the three runs follow each other: other work on the machine may differ between them
        section[f"load_average_{workers}_worker"] = load_average()
        progress(f"grade, {workers} worker(s): {seconds / num_submissions:.1f} s per submission")
        if workers == 1:
            section["cell_profile"] = cell_profile(graded.root)
    section["speedup_2_workers"] = (section["s_per_submission_1_worker"]
                                    / section["s_per_submission_2_worker"])
    section["vs_plain_nbgrader"] = (section["s_per_submission_1_worker"]
                                    / section["plain_nbgrader_s_per_submission"])
    section["status"] = "measured"
    return section
