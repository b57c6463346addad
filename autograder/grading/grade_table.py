"""The grade table ``rnn-assignment grade`` prints: a row per student, its notebooks, review."""

from __future__ import annotations

from assignment.units import NOTEBOOKS as NOTEBOOK_NAMES


def grade_table(report) -> str:
    """The grade table of a ``GradeReport`` (``autograder.grading.coordinator``)."""
    lines = []
    students = sorted({s for s, _ in report.results})
    notebooks = [n for n in NOTEBOOK_NAMES if any(nb == n for _, nb in report.results)]
    width = max([len(s) for s in students] + [len("student")])
    head = f"{'student':<{width}}  " + "  ".join(f"{n:>16}" for n in notebooks) + \
        f"  {'total':>9}  review"
    lines += [head, "-" * len(head)]
    for student in students:
        cells, total, most, flags = [], 0.0, 0.0, []
        for notebook in notebooks:
            result = report.results.get((student, notebook))
            if result is None:
                cells.append(f"{'-':>16}")
                continue
            score = sum(t["score"] for t in result["tests"])
            out_of = sum(t["max_score"] for t in result["tests"])
            total, most = total + score, most + out_of
            cells.append(f"{score:>9g} / {out_of:<4g}")
            if result["flagged"]:
                flags.append(f"{notebook}: {result['reason']}")
            if (student, notebook) in report.kept:
                flags.append(f"{notebook}: earlier grade kept ({report.kept[(student, notebook)]})")
        lines.append(f"{student:<{width}}  " + "  ".join(cells) +
                     f"  {total:>4g} / {most:<3g}  " + "; ".join(flags))
    lines.append(f"{len(students)} student(s); {report.ran} notebook(s) run, {report.reused} "
                 f"unchanged since the last run; {report.seconds:.1f} s")
    return "\n".join(lines)
