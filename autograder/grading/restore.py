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

import ast
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Restored", "restore_notebook", "grade_id", "is_solution", "is_test", "defined_names",
           "source_text", "read_submitted", "too_many_containers", "MAX_JSON_CONTAINERS",
           "MAX_CELLS"]


def _meta(cell) -> dict:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
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


def source_text(cell) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _plain(cell) -> dict:
    """A cell the student added (or the release left open): no nbgrader metadata, no outputs."""
    cell_type = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown", "raw") \
        else "raw"
    out = {"cell_type": cell_type, "metadata": {}, "source": source_text(cell)}
    if cell_type == "code":
        out.update(outputs=[], execution_count=None)
    return out


def _clean(cell) -> dict:
    """A copy of an instructor cell with outputs cleared."""
    out = copy.deepcopy(dict(cell))
    out["source"] = source_text(cell)
    if out.get("cell_type") == "code":
        out["outputs"], out["execution_count"] = [], None
    out.pop("id", None)
    return out


# nbgrader's markers of solution regions and hidden tests: only the instructor's
# source notebooks have them (the release replaces every region)
INSTRUCTOR_MARKERS = re.compile(r"#{2,}\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)")


@dataclass
class Restored:
    nb: dict
    changes: list = field(default_factory=list)
    review: list = field(default_factory=list)   # why the graded notebook needs a human look


def _normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def defined_names(text: str) -> set:
    """The functions and classes a cell defines at its top level (a best guess if it has errors)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set(re.findall(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", text, re.M))
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _recover(source: dict, release: dict, cells: list, assigned: dict) -> list:
    """Find the instructor and answer cells of a notebook whose cell metadata was lost.

    Editors other than JupyterLab (VS Code, Colab, converters) may drop every
    cell's metadata. A cell without a grade id becomes the instructor cell whose
    released text it has, or the answer cell whose functions and classes it
    defines (the first such cell), or, for a written answer, the question
    whose text is next to it (else the next question in order it starts like:
    cells may have been moved too). ``assigned`` (id(cell) -> grade id) is extended; returns
    the grade ids found this way.
    """
    released = {grade_id(c): c for c in release.get("cells", []) if grade_id(c)}
    taken = set(assigned.values())
    found = []
    texts = {}
    for cell in source["cells"]:
        gid = grade_id(cell)
        if gid and gid not in taken and not is_solution(cell):
            texts.setdefault((cell.get("cell_type"), _normalised(
                source_text(released.get(gid, cell)))), gid)
    wanted = {}
    questions = []
    intro = {}  # written answer -> the text of the release cell just before it (the question)
    for k, cell in enumerate(source["cells"]):
        gid = grade_id(cell)
        if not gid or gid in taken or not is_solution(cell):
            continue
        if cell.get("cell_type") == "code":
            names = defined_names(source_text(cell))
            if names:
                wanted[gid] = names
        else:
            first = source_text(released.get(gid, cell)).strip().split("\n")[0].strip()
            questions.append((gid, first))
            if k and not grade_id(source["cells"][k - 1]):
                intro[gid] = _normalised(source_text(source["cells"][k - 1]))
    texts_in_order = [_normalised(source_text(c)) if isinstance(c, dict) else None for c in cells]
    near = {id(c): texts_in_order[max(i - 1, 0):i] + texts_in_order[i + 1:i + 2]
            for i, c in enumerate(cells)}   # the cell before, then the cell after
    for cell in cells:
        if not isinstance(cell, dict) or id(cell) in assigned:
            continue
        text = source_text(cell)
        kind = cell.get("cell_type") if isinstance(cell.get("cell_type"), str) else None
        gid = texts.pop((kind, _normalised(text)), None)
        if gid is None and cell.get("cell_type") == "code" and wanted:
            names = defined_names(text)
            scored = sorted(((len(names & want), g) for g, want in wanted.items()
                             if names & want), reverse=True)
            if scored and (len(scored) == 1 or scored[0][0] > scored[1][0]):
                gid = scored[0][1]
                del wanted[gid]
        if gid is None and cell.get("cell_type") == "markdown" and questions:
            # the answer next to its question's text (right after it, else right
            # before); else the first unanswered question (in order) it starts like
            first = text.strip().split("\n")[0].strip()
            fits = [q for q in questions if q[1] == first]
            pick = next((q for text in near[id(cell)] for q in fits if intro.get(q[0]) == text),
                        fits[0] if fits else None)
            if pick is not None:
                gid = pick[0]
                questions.remove(pick)
        if gid is not None:
            assigned[id(cell)] = gid
            found.append(gid)
    return found


def _stable(order: list, anchors: list) -> set:
    """The instructor cells that stayed in the release's order (a longest increasing run)."""
    rank = {gid: i for i, gid in enumerate(anchors)}
    seq = [g for g in order if g in rank]
    best: list = []        # best[i]: the chain ending at seq[i]
    for i, gid in enumerate(seq):
        chain = max((best[j] for j in range(i) if rank[seq[j]] < rank[gid]), key=len,
                    default=[])
        best.append(chain + [gid])
    return set(max(best, key=len, default=[]))


def restore_notebook(source: dict, release: dict, submitted: dict | None) -> Restored:
    """The notebook to grade; see the module docstring."""
    changes, review = [], []
    released = {grade_id(c): c for c in release.get("cells", []) if grade_id(c)}
    anchors = [grade_id(c) for c in source["cells"] if grade_id(c)]
    known = set(anchors)
    by_id = {grade_id(c): c for c in source["cells"] if grade_id(c)}

    cells = submitted.get("cells", []) if isinstance(submitted, dict) else []
    if not isinstance(cells, list):
        cells, changes = [], changes + ["the notebook has no list of cells"]
    cells = [c for c in cells if isinstance(c, dict)]

    # which submitted cell is which instructor cell: by grade id, the first of each
    assigned: dict = {}   # id(cell) -> grade id
    for cell in cells:
        gid = grade_id(cell)
        if gid in known and gid not in assigned.values():
            assigned[id(cell)] = gid
    lost = [g for g in anchors if is_solution(by_id[g]) and g not in assigned.values()]
    if lost and any(grade_id(c) is None for c in cells):
        recovered = _recover(source, release, cells, assigned)
        answers_found = [g for g in recovered if is_solution(by_id[g])]
        if answers_found:
            review.append(
                f"the notebook had lost the nbgrader metadata of {len(recovered)} cell(s) "
                "(saved by an editor other than JupyterLab?): the answers "
                f"{', '.join(answers_found)} were found by the functions, classes or questions "
                "they hold; check that they are the student's answers")
            changes.append("cells without nbgrader metadata were matched to the release")

    order = [assigned[id(c)] for c in cells if id(c) in assigned]
    stable = _stable(order, anchors)
    if order != [a for a in anchors if a in order]:
        changes.append("instructor cells were moved: put back in their order")

    # the student's other cells, each after the last instructor cell before it that
    # stayed in place (a moved cell takes nothing along)
    answers: dict = {}
    after: dict = {None: []}
    current = None
    for cell in cells:
        gid = assigned.get(id(cell))
        if gid is not None:
            answers[gid] = cell
            if gid in stable:
                current = gid
            continue
        gid = grade_id(cell)
        if gid in known:  # a duplicate of an instructor cell
            instructor = by_id[gid]
            if is_solution(instructor) and cell.get("cell_type") == instructor.get("cell_type"):
                after.setdefault(current, []).append(_plain(cell))  # their code still runs
                changes.append(f"a second copy of the answer cell {gid} kept as a plain cell")
            else:
                changes.append(f"a duplicate of the cell {gid} removed")
            continue
        if gid is not None:
            changes.append(f"a cell with the unknown grade id {gid!r} kept as a plain cell")
        after.setdefault(current, []).append(_plain(cell))

    out_cells = [*after[None]]
    for cell in source["cells"]:
        gid = grade_id(cell)
        if gid is None:
            continue  # plain release cells belong to the student: they come from the submission
        if is_solution(cell):
            mine = answers.get(gid)
            if mine is not None and INSTRUCTOR_MARKERS.search(source_text(mine)):
                # the instructor's own cell: only the source notebooks have these markers
                review.append(f"the answer cell {gid} holds the instructor's solution markers "
                              "(### BEGIN SOLUTION): it looks like the source notebook, not "
                              "the student's own work")
            if mine is None:
                stub = released.get(gid, cell)
                out_cells.append(_clean(stub))
                changes.append(f"the answer cell {gid} was missing: graded as released")
            else:
                # the released cell's metadata: its checksum tells nbgrader whether the
                # student answered at all (an unchanged written answer gets 0, not a review)
                restored = _clean(released.get(gid, cell))
                restored["source"] = source_text(mine)
                if mine.get("cell_type") != cell.get("cell_type"):
                    changes.append(f"the answer cell {gid} had its type changed: put back")
                out_cells.append(restored)
        else:
            mine = answers.get(gid)
            if mine is None:
                changes.append(f"the instructor cell {gid} was deleted: put back")
            elif source_text(mine) != source_text(released.get(gid, cell)) and not is_test(cell):
                changes.append(f"the locked cell {gid} was edited: put back")
            elif is_test(cell) and source_text(mine) != source_text(released.get(gid, cell)):
                changes.append(f"the test cell {gid} was edited: put back")
            if mine is not None and grade_id(mine) == gid and \
                    _meta(mine) != _meta(released.get(gid, cell)):
                changes.append(f"the nbgrader metadata of {gid} was changed: put back")
            out_cells.append(_clean(cell))
        out_cells.extend(after.get(gid, []))

    for index, cell in enumerate(out_cells):  # nbformat 4.5 cell ids, deterministic
        cell["id"] = f"cell-{index:03d}"
    nb = {"cells": out_cells, "metadata": copy.deepcopy(source.get("metadata", {})),
          "nbformat": source.get("nbformat", 4), "nbformat_minor": source.get("nbformat_minor", 5)}
    return Restored(nb, list(dict.fromkeys(changes)), review)


def read_submitted(path: Path, data: bytes | None = None):
    """The student's notebook (a dict) and '' or None and why it is not a notebook.

    ``data``: the file's bytes when the caller read them already (safely, see
    ``autograder.grading.submitted_files``); ``path`` then only names it.
    """
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as err:
            return None, f"{path.name} could not be read ({err.strerror})"
    if not data.strip():
        return None, f"{path.name} is empty ({len(data)} bytes): graded as the release"
    if too_many_containers(data):
        return None, (f"{path.name} holds over {MAX_JSON_CONTAINERS:,} JSON objects and lists, "
                      "far more than any notebook: not read (graded as the release)")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, f"{path.name} is not UTF-8 text: graded as the release"
    except json.JSONDecodeError as err:
        return None, (f"{path.name} is not valid JSON (line {err.lineno}: {err.msg}): graded "
                      "as the release")
    except RecursionError:
        return None, f"{path.name} is nested too deeply to read: graded as the release"
    if not isinstance(nb, dict):
        return None, (f"{path.name} is JSON but not a notebook (a {type(nb).__name__}): "
                      "graded as the release")
    if nb.get("nbformat") == 3 and isinstance(nb.get("worksheets"), list):
        try:  # an old (nbformat 3) notebook: nbformat converts it
            import nbformat
            nb = json.loads(json.dumps(nbformat.convert(nbformat.from_dict(nb), 4)))
        except Exception:  # noqa: BLE001 - any failure: not a notebook we can read
            pass
    if not isinstance(nb.get("cells"), list):
        return None, (f"{path.name} is JSON but not a notebook (it has no list of cells): "
                      "graded as the release")
    if len(nb["cells"]) > MAX_CELLS:
        return None, (f"{path.name} has {len(nb['cells']):,} cells, more than the {MAX_CELLS:,} "
                      "a notebook may have: not read (graded as the release)")
    return nb, ""


# What the grader parses of a submitted notebook is bounded: a JSON object or list
# costs the coordinator ~100 bytes of memory for as little as 2 bytes of file, so
# a 200 MB file of "{}," would take ~5 GB. The release has a few hundred cells and
# a few thousand containers; figures are base64 strings (no brackets).
MAX_JSON_CONTAINERS = 2_000_000
MAX_CELLS = 10_000


def too_many_containers(data: bytes) -> bool:
    """More ``{`` and ``[`` bytes than MAX_JSON_CONTAINERS (an upper bound of what json makes)."""
    return data.count(b"{") + data.count(b"[") > MAX_JSON_CONTAINERS
