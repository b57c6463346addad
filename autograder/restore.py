"""The notebook that is graded: the student's answers inside the instructor's cells.

Instructor-only. Before a submission is run, every cell the student may not
change comes back from the instructor's source notebook, whatever the student
did to it: deleted, edited, duplicated, moved, its type or its nbgrader
metadata (points, grade id) changed. The student's own work stays: the
solution cells (matched by grade id) and any cell the student added or that the
release left open to them (plain cells without nbgrader metadata), each kept
after the instructor cell it followed in the submission.

    restore_notebook(source, release, submitted) -> Restored(nb, changes)

``source`` is the instructor's notebook (solutions and hidden tests), from
which locked and test cells are taken; ``release`` is what students got, from
which a solution cell the student deleted is taken (the unanswered stub, as
released); ``submitted`` is the student's notebook, or None when there is none
or it cannot be read. ``changes`` lists, in plain words, what was put back
(for the instructor's review; never shown with hidden content).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

__all__ = ["Restored", "restore_notebook", "grade_id", "is_solution", "is_test"]


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    """The nbgrader grade id of a cell, or None (a plain cell)."""
    value = _meta(cell).get("grade_id")
    return value if isinstance(value, str) and value else None


def is_solution(cell) -> bool:
    return bool(_meta(cell).get("solution")) and not _meta(cell).get("locked")


def is_test(cell) -> bool:
    meta = _meta(cell)
    return bool(meta.get("grade")) and cell.get("cell_type") == "code" and not meta.get("solution")


def _source_text(cell) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def _plain(cell) -> dict:
    """A cell the student added (or the release left open): no nbgrader metadata, no outputs."""
    cell_type = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown", "raw") \
        else "raw"
    out = {"cell_type": cell_type, "metadata": {}, "source": _source_text(cell)}
    if cell_type == "code":
        out.update(outputs=[], execution_count=None)
    return out


def _clean(cell) -> dict:
    """A copy of an instructor cell with outputs cleared."""
    out = copy.deepcopy(dict(cell))
    out["source"] = _source_text(cell)
    if out.get("cell_type") == "code":
        out["outputs"], out["execution_count"] = [], None
    out.pop("id", None)
    return out


@dataclass
class Restored:
    nb: dict
    changes: list = field(default_factory=list)


def restore_notebook(source: dict, release: dict, submitted: dict | None) -> Restored:
    """The notebook to grade; see the module docstring."""
    changes = []
    released = {grade_id(c): c for c in release.get("cells", []) if grade_id(c)}
    anchors = [grade_id(c) for c in source["cells"] if grade_id(c)]
    known = set(anchors)

    # the student's cells, grouped after the instructor cell they follow
    answers: dict = {}             # grade id -> the student's (first) cell of that id
    after: dict = {None: []}       # grade id (None: the top) -> plain cells that follow it
    current = None
    cells = submitted.get("cells", []) if isinstance(submitted, dict) else []
    if not isinstance(cells, list):
        cells, changes = [], changes + ["the notebook has no list of cells"]
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        gid = grade_id(cell)
        if gid in known and gid not in answers:
            answers[gid] = cell
            current = gid
            after.setdefault(gid, [])
            continue
        if gid in known:  # a duplicate of an instructor cell
            instructor = next(c for c in source["cells"] if grade_id(c) == gid)
            if is_solution(instructor) and cell.get("cell_type") == instructor.get("cell_type"):
                after.setdefault(current, []).append(_plain(cell))  # their code still runs
                changes.append(f"a second copy of the answer cell {gid} kept as a plain cell")
            else:
                changes.append(f"a duplicate of the cell {gid} removed")
            continue
        if gid is not None:
            changes.append(f"a cell with the unknown grade id {gid!r} kept as a plain cell")
        after.setdefault(current, []).append(_plain(cell))

    order = [gid for gid in (grade_id(c) for c in cells if isinstance(c, dict)) if gid in answers]
    seen_order = list(dict.fromkeys(order))
    if seen_order != [a for a in anchors if a in answers]:
        changes.append("instructor cells were moved: put back in their order")

    out_cells = [*after[None]]
    for cell in source["cells"]:
        gid = grade_id(cell)
        if gid is None:
            continue  # plain release cells belong to the student: they come from the submission
        if is_solution(cell):
            mine = answers.get(gid)
            if mine is None:
                stub = released.get(gid, cell)
                out_cells.append(_clean(stub))
                changes.append(f"the answer cell {gid} was missing: graded as released")
            else:
                # the released cell's metadata: its checksum tells nbgrader whether the
                # student answered at all (an unchanged written answer gets 0, not a review)
                restored = _clean(released.get(gid, cell))
                restored["source"] = _source_text(mine)
                if mine.get("cell_type") != cell.get("cell_type"):
                    changes.append(f"the answer cell {gid} had its type changed: put back")
                out_cells.append(restored)
        else:
            mine = answers.get(gid)
            if mine is None:
                changes.append(f"the instructor cell {gid} was deleted: put back")
            elif _source_text(mine) != _source_text(released.get(gid, cell)) and not is_test(cell):
                changes.append(f"the locked cell {gid} was edited: put back")
            elif is_test(cell) and _source_text(mine) != _source_text(released.get(gid, cell)):
                changes.append(f"the test cell {gid} was edited: put back")
            if mine is not None and _meta(mine) != _meta(released.get(gid, cell)):
                changes.append(f"the nbgrader metadata of {gid} was changed: put back")
            out_cells.append(_clean(cell))
        out_cells.extend(after.get(gid, []))

    for index, cell in enumerate(out_cells):  # nbformat 4.5 cell ids, deterministic
        cell["id"] = f"cell-{index:03d}"
    nb = {"cells": out_cells, "metadata": copy.deepcopy(source.get("metadata", {})),
          "nbformat": source.get("nbformat", 4), "nbformat_minor": source.get("nbformat_minor", 5)}
    return Restored(nb, list(dict.fromkeys(changes)))
