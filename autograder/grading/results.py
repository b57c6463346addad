"""One notebook's result: its scores from a sandboxed run, its file in ``grading/results/``.

Instructor-only. ``score_run`` scores what a worker brought back, here, outside
every kernel, against the hidden references (``autograder.grading.scoring``): a run
that stopped (kernel died, cell or total time limit) keeps the points of the
tests that ran; the rest get zero and the notebook is flagged with the reason.
A notebook not submitted, or not run because the grader failed, gets zero with
the reason (``missing_result``, ``not_run_result``). Results are JSON files
under ``grading/results/<student>/<notebook>.json``, written atomically, and
carry the job's key (``autograder.grading.jobs``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from .restore import grade_id, is_test

RESULTS_DIR = Path("grading") / "results"
EXECUTED_DIR = Path("grading") / "executed"
RESULT_FORMAT = 2
STOPPED = {"cell_timeout": "a cell ran past the time limit",
           "total_timeout": "the notebook ran past the total time limit",
           "kernel_died": "the kernel died",
           "startup_failed": "the kernel could not start"}


def clean_reason(text) -> str:
    """The sandbox's reason on one line, without Jupyter's connection-file chatter."""
    lines = [line.strip() for line in str(text or "").splitlines()
             if line.strip() and "--existing" not in line and "connect another client" not in line]
    return " / ".join(lines)[:300]


def score_run(job, run: dict, references) -> dict:
    """The result of one notebook: per test, the score and the feedback (no hidden values).

    Timings in the result: ``seconds`` of the sandboxed run (from when it had its
    kernel), ``cell_seconds`` ([cell index, seconds] of each cell that ran) and
    ``wall_seconds`` of the whole job on its worker (waiting for a kernel included).
    """
    import nbformat

    from .scoring import score_unit

    executed = nbformat.reads(run["nb"], as_version=4)
    status = run["status"]
    stop = run.get("cell_index")
    reason = STOPPED.get(status, "")
    if reason and clean_reason(run.get("reason")):
        reason = f"{reason}: {clean_reason(run['reason'])}"
    tests = []
    for index, cell in enumerate(executed.cells):
        if not is_test(cell):
            continue
        gid = grade_id(cell)
        unit = gid[len("test_"):]
        not_run = None
        if status != "ok" and stop is not None and index >= stop:
            not_run = f"not graded because {reason}" if index > stop else \
                f"not graded: {reason} in this cell"
        score = score_unit(unit, [dict(o) for o in cell.get("outputs", [])], references,
                           not_run_reason=not_run)
        tests.append({"grade_id": gid, "unit": unit, "score": float(score.score),
                      "max_score": float(score.total), "lines": list(score.lines),
                      "outputs": [asdict(o) for o in score.outputs]})
    flagged = status != "ok" or bool(job.unreadable)
    review = "; ".join(r for r in (reason, job.unreadable) if r)
    return {"format": RESULT_FORMAT, "key": job.key, "student": job.student,
            "notebook": job.notebook, "status": status, "reason": review, "flagged": flagged,
            "changes": job.changes, "tests": tests, "seconds": run.get("seconds"),
            "cell_seconds": run.get("cell_seconds"), "wall_seconds": run.get("wall_seconds"),
            "worker": run.get("worker"), "graded_at": time.time()}


def missing_result(student, notebook, why, problems=()) -> dict:
    """Zero for a notebook not submitted; flagged when collecting noted a problem."""
    from assignment.units import notebook_units
    tests = [{"grade_id": f"test_{unit}", "unit": unit, "score": 0.0, "max_score": spec.points,
              "lines": [f"{unit}: 0 / {spec.points:g} points ({why})"], "outputs": []}
             for unit, spec in notebook_units(notebook).items()]
    return {"format": RESULT_FORMAT, "key": "", "student": student, "notebook": notebook,
            "status": "missing", "reason": "; ".join([why, *problems]),
            "flagged": bool(problems), "changes": [], "tests": tests,
            "seconds": 0.0, "worker": None, "graded_at": time.time()}


def not_run_result(job, why) -> dict:
    """A notebook that could not run (worker or sandbox failure) and has no earlier grade."""
    result = missing_result(job.student, job.notebook, "")
    reason = f"not graded: the grader failed, not the notebook ({clean_reason(why)})"
    for test in result["tests"]:
        test["lines"] = [f"{test['unit']}: 0 / {test['max_score']:g} points, not graded yet "
                         "(the grading machine failed, not your code; it will be graded again)"]
    result.update(status="not_run", reason=reason, flagged=True)
    return result


def result_path(course, student, notebook) -> Path:
    return course.root / RESULTS_DIR / student / f"{notebook}.json"


def load_result(course, student, notebook):
    path = result_path(course, student, notebook)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if data.get("format") == RESULT_FORMAT else None


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def all_results(course) -> list:
    out = []
    root = course.root / RESULTS_DIR
    for path in sorted(root.glob("*/*.json")) if root.is_dir() else []:
        data = load_result(course, path.parent.name, path.stem)
        if data is not None:
            out.append(data)
    return out


def feedback_text(result: dict, test: dict, first: bool) -> str:
    lines = list(test["lines"])
    if first and result["changes"]:
        lines.append("note: cells you may not change were put back as released before grading "
                     f"({len(result['changes'])} change(s)); your answers were kept.")
    if first and result["status"] not in ("ok", "missing"):
        lines.append(f"note: this notebook's run stopped ({result['reason']}); tests after that "
                     "point got no points and the course staff will look at it.")
    return "\n".join(lines)
