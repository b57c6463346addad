"""Which file of a submission is which notebook: its name, a renamed copy, or its cells.

Instructor-only, used by ``autograder.grading.collect``. ``find_notebooks(upload,
expected)`` gives each expected notebook (``RNN_Captioning.ipynb`` -> its grade
ids) the student's file: the exact name; else a renamed copy
(``RNN_Captioning (1).ipynb``, ``Copy of ...``, another case, a name ending in
the notebook's); else the one notebook whose cells carry its grade ids. A
renamed file is graded under the real name and noted (flagged); more than one
candidate is resolved by the newest LMS time, else the exact name, and noted
as a conflict.
"""

from __future__ import annotations

import datetime as _dt
import json
import re

from .restore import too_many_containers

__all__ = ["find_notebooks", "grade_ids_in"]


def _canonical(name: str) -> str:
    """A notebook file name without case, copy marks, extension and punctuation."""
    stem = name.lower()
    while stem.endswith(".ipynb"):
        stem = stem[:-len(".ipynb")]
    stem = re.sub(r"^(copy of\s+)+", "", stem.strip())
    stem = re.sub(r"(\s*\(\d+\)|[-_ ]copy\d*|-checkpoint)+$", "", stem)
    return re.sub(r"[^a-z0-9]", "", stem)


def grade_ids_in(data: bytes) -> set:
    if too_many_containers(data):  # never parsed (restore.read_submitted says why)
        return set()
    try:
        nb = json.loads(data.decode("utf-8"))
        cells = nb.get("cells") if isinstance(nb, dict) else None
        out = set()
        for cell in cells if isinstance(cells, list) else []:
            meta = cell.get("metadata") if isinstance(cell, dict) else None
            grader = meta.get("nbgrader") if isinstance(meta, dict) else None
            if isinstance(grader, dict) and isinstance(grader.get("grade_id"), str):
                out.add(grader["grade_id"])
        return out
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        return set()


def find_notebooks(upload, expected: dict) -> None:
    """Settle which file is each expected notebook: exact name, a renamed copy, or its cells.

    More than one candidate for a notebook: in a zip the newest LMS timestamp
    wins; otherwise (or with equal times) the exact name, else the newest
    file, and the student is flagged for the conflict.
    """
    names = [n for n in upload.files if n.lower().endswith(".ipynb")]
    for wanted, ids in expected.items():
        others = [n for n in names if n not in expected or n == wanted]
        found = [n for n in others if _canonical(n) == _canonical(wanted)]
        how = "its name"
        if not found:
            found = [n for n in others if _canonical(n).endswith(_canonical(wanted))]
        if not found:
            found = [n for n in others if n not in expected
                     and ids & grade_ids_in(upload.files[n])]
            how = "its cells"
        if not found:
            continue
        chosen = wanted if wanted in found else max(found, key=lambda n: (upload.mtimes.get(n, 0),
                                                                          n))
        if len(found) > 1:
            times = {n: upload.times.get(n) for n in found}
            newest = max(times.values(), key=lambda t: t or _dt.datetime.min)
            latest = [n for n, t in times.items() if t is not None and t == newest]
            if len(latest) == 1:
                chosen = latest[0]
                upload.info.append(f"{chosen} is the newest of {', '.join(sorted(found))}: "
                                   f"graded as {wanted}")
            else:
                upload.problems.append(f"conflict: {len(found)} files could be {wanted} "
                                       f"({', '.join(sorted(found))}): graded {chosen}")
        if chosen != wanted:
            upload.files[wanted] = upload.files[chosen]
            if len(found) == 1 or how == "its cells":
                upload.problems.append(f"{chosen} was graded as {wanted} (found by {how}; the "
                                       "notebook must keep its name)")
