"""Where a graded notebook's time goes: the per-cell profile of a course ``grade`` has run.

Instructor-only; part of ``rnn-assignment bench --sections grading``. Every
stored result (``grading/results/<student>/<notebook>.json``) holds the
sandboxed run's wall time and the wall time of each cell that ran, as
``[cell index, seconds]`` pairs, and the job's wall time on its worker; the
executed notebooks (``grading/executed/``) give each cell its name. For each
notebook this takes the median over the submissions of every cell's time, of
the time the worker spent before the first cell (waiting for the pool's
kernel, or starting one, and writing the student's files) and of the whole
job.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from ..grading.restore import grade_id, is_test, source_text
from ..grading.results import EXECUTED_DIR, RESULTS_DIR

__all__ = ["cell_profile", "format_cell_profile"]


def _label(cell) -> str:
    """A cell's grade id, or its first line of text (without a comment's '#')."""
    gid = grade_id(cell)
    if gid:
        return gid
    for line in source_text(cell).splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:48] + ("..." if len(line) > 48 else "")
    return "(empty)"


def _median(values) -> float | None:
    return float(statistics.median(values)) if values else None


def cell_profile(course_root) -> dict:
    """{notebook: profile} from the results and executed notebooks under ``course_root``.

    A profile: ``runs`` (results used: finished runs only), ``job_s`` (the
    worker's wall time), ``before_cells_s`` (``job_s`` less the time from the
    first cell to the last: the kernel, the files, the job's own overhead),
    ``graded_cells_s`` (the test cells together),
    ``code_cells`` and ``cells_run`` (medians), and ``cells``: one
    ``{"index", "label", "graded", "median_s", "ran_in"}`` per cell that ran in
    any submission, in notebook order.
    """
    root = Path(course_root)
    found: dict = {}
    for path in sorted((root / RESULTS_DIR).glob("*/*.json")):
        try:
            result = json.loads(path.read_text())
            executed = json.loads((root / EXECUTED_DIR / path.parent.name
                                   / f"{path.stem}.ipynb").read_text())
        except (OSError, ValueError):
            continue
        pairs = result.get("cell_seconds")
        if result.get("status") != "ok" or not isinstance(pairs, list):
            continue
        found.setdefault(result["notebook"], []).append((result, executed, pairs))
    profiles = {}
    for notebook, runs in sorted(found.items()):
        per_cell: dict = {}
        job, before, graded, ran, code = [], [], [], [], []
        for result, executed, pairs in runs:
            cells = executed.get("cells", [])
            times = {int(index): float(seconds) for index, seconds in pairs}
            for index, seconds in times.items():
                per_cell.setdefault(index, []).append(seconds)
            wall = result.get("wall_seconds")
            if isinstance(wall, (int, float)):
                job.append(float(wall))
                before.append(float(wall) - sum(times.values()))
            graded.append(sum(s for i, s in times.items() if i < len(cells) and is_test(cells[i])))
            ran.append(len(times))
            code.append(sum(1 for c in cells if c.get("cell_type") == "code"))
        cells = runs[0][1].get("cells", [])
        profiles[notebook] = {
            "runs": len(runs), "job_s": _median(job), "before_cells_s": _median(before),
            "graded_cells_s": _median(graded), "code_cells": _median(code),
            "cells_run": _median(ran),
            "cells": [{"index": index, "label": _label(cells[index]) if index < len(cells) else "?",
                       "graded": index < len(cells) and is_test(cells[index]),
                       "median_s": _median(values), "ran_in": len(values)}
                      for index, values in sorted(per_cell.items())]}
    return profiles


def format_cell_profile(profiles: dict, min_seconds: float = 0.05) -> list:
    """Markdown lines: per notebook, the cells of at least ``min_seconds`` and the totals."""
    lines = ["| notebook | cell | median s |", "|---|---|---:|"]
    for notebook, p in profiles.items():
        lines.append(f"| {notebook} | before and between the cells (kernel, files, job) | "
                     f"{_fmt(p['before_cells_s'])} |")
        small = [c for c in p["cells"] if c["median_s"] < min_seconds and not c["graded"]]
        for cell in p["cells"]:
            if cell["graded"] or cell["median_s"] >= min_seconds:
                mark = " (graded)" if cell["graded"] else ""
                lines.append(f"| | {cell['index']}: {cell['label']}{mark} | "
                             f"{cell['median_s']:.2f} |")
        if small:
            lines.append(f"| | {len(small)} other cells under {min_seconds:g} s, together | "
                         f"{sum(c['median_s'] for c in small):.2f} |")
        lines.append(f"| | graded cells together | {p['graded_cells_s']:.2f} |")
        lines.append(f"| | **whole job** ({p['cells_run']:g} of {p['code_cells']:g} code cells "
                     f"ran; {p['runs']} submissions) | **{_fmt(p['job_s'])}** |")
    return lines


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.2f}"
