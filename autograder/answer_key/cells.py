"""Generate the notebooks' graded cells and the docs' unit table from ``assignment.units``.

For every unit the source notebook has a check cell (``<unit>_check``, its
first line ``check_unit("<unit>", <obj>)``; the lines after it are the
notebook's own) and a graded test cell (``test_<unit>``, all generated: its
``points``, the "Graded test for <unit> (N points)" line, ``check_unit`` and,
hidden, ``grade_unit``). Every locked ``*_check`` cell gets the marker of a
cell that is not run while grading (``autograder.grading.cell_plan``). A unit
whose cells are missing gets both right after the solution cell
``<obj>_solution``. The unit table of
docs/grading-design.md lies between the two markers below.

    python -m autograder.answer_key.cells --write   rewrite notebooks/*.ipynb and the docs
    python -m autograder.answer_key.cells --check   exit 1 (and say what) if they differ

A test proves the committed files are exactly what generation gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assignment.units import UNITS, notebook_units

from ..grading.cell_plan import METADATA_KEY, SKIP_MARKER

from ..release.course import REPO, SOURCE_NOTEBOOKS

__all__ = ["graded_cell_source", "generate_notebook", "unit_table", "generate_docs",
           "generated_files", "DOCS_FILE"]

DOCS_FILE = REPO / "docs" / "grading-design.md"
TABLE_BEGIN = "<!-- unit table: generated from assignment/units.py by " \
              "`python -m autograder.answer_key.cells --write` -->"
TABLE_END = "<!-- end of the unit table -->"
_KINDS = {"loss": "CaptioningRNN.loss", "sample": "CaptioningRNN.sample"}


def _points(value):
    return int(value) if float(value).is_integer() else float(value)


def check_line(name) -> str:
    return f'check_unit("{name}", {UNITS[name].obj})'


def graded_cell_source(name) -> str:
    unit = UNITS[name]
    return (f"# Graded test for {name} ({_points(unit.points)} points). The visible part "
            "repeats the check above;\n"
            "# hidden tests with other shapes (including T=1 and longer sequences) run at "
            "grading time.\n"
            f'check_unit("{name}", {unit.obj}, graded=True)\n'
            "### BEGIN HIDDEN TESTS\n"
            "from rnn_grading_kernel import grade_unit\n"
            f'grade_unit("{name}", {unit.obj}, globals())\n'
            "### END HIDDEN TESTS")


def _lines(text: str) -> list:
    return text.splitlines(keepends=True)


def _code_cell(source: str, nbgrader: dict) -> dict:
    # the cell id is its grade id: fixed, so that releasing twice gives the same bytes
    return {"cell_type": "code", "execution_count": None, "id": nbgrader["grade_id"],
            "metadata": {"nbgrader": dict(nbgrader, schema_version=3)},
            "outputs": [], "source": _lines(source)}


def _check_cell(name) -> dict:
    cell = _code_cell(check_line(name), {"grade": False, "grade_id": f"{name}_check",
                                         "locked": True, "solution": False})
    cell["metadata"][METADATA_KEY] = dict(SKIP_MARKER)
    return cell


def _graded_cell(name) -> dict:
    return _code_cell(graded_cell_source(name),
                      {"grade": True, "grade_id": f"test_{name}", "locked": True,
                       "points": _points(UNITS[name].points), "solution": False})


def _grade_id(cell) -> str:
    return ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id", "")


def generate_notebook(notebook: dict, name: str) -> dict:
    """The notebook ``name`` ('RNN_Captioning') with its units' check and graded cells generated."""
    cells = notebook["cells"]
    for unit_name, unit in notebook_units(name).items():
        position = {_grade_id(c): i for i, c in enumerate(cells)}
        check_id, test_id = f"{unit_name}_check", f"test_{unit_name}"
        if check_id not in position and test_id not in position:
            solution = f"{unit.obj}_solution"
            if solution not in position:
                raise ValueError(f"{name}.ipynb has no cell {solution!r} to put the cells of "
                                 f"{unit_name} after: add the solution cell first.")
            at = position[solution] + 1
            cells[at:at] = [_check_cell(unit_name), _graded_cell(unit_name)]
            continue
        for grade_id in (check_id, test_id):
            if grade_id not in position:
                raise ValueError(f"{name}.ipynb has no cell {grade_id!r} (but has the other "
                                 f"cell of {unit_name}): delete it too, or add this one.")
        check = cells[position[check_id]]
        rest = "".join(check["source"]).split("\n", 1)
        check["source"] = _lines("\n".join([check_line(unit_name)] + rest[1:]))
        graded = cells[position[test_id]]
        graded["source"] = _graded_cell(unit_name)["source"]
        graded["metadata"]["nbgrader"]["points"] = _points(unit.points)
    for cell in cells:  # check cells are not run while grading: nothing graded reads them
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if meta.get("locked") and not meta.get("grade") and \
                meta.get("grade_id", "").endswith("_check"):
            cell["metadata"][METADATA_KEY] = dict(SKIP_MARKER)
    return notebook


def unit_table() -> str:
    rows = ["| notebook | unit | graded outputs (points) | points | hidden cases |",
            "|---|---|---|---|---|"]
    for name, unit in UNITS.items():
        what = f"`{name}`" + (f" (`{_KINDS[unit.kind]}`)" if unit.kind in _KINDS else "")
        outputs = ", ".join(f"{k} ({_points(v)})" for k, v in unit.outputs.items())
        notes = "; ".join(dict.fromkeys(c.note for c in unit.cases if c.hidden))
        rows.append(f"| {unit.notebook} | {what} | {outputs} | {_points(unit.points)} | "
                    f"{notes} |")
    return "\n".join(rows) + "\n"


def generate_docs(text: str) -> str:
    """``text`` with the unit table between the markers replaced by the generated one."""
    if text.count(TABLE_BEGIN) != 1 or text.count(TABLE_END) != 1:
        raise ValueError(f"{DOCS_FILE.name} must hold the markers {TABLE_BEGIN!r} and "
                         f"{TABLE_END!r} once each, around the unit table.")
    head, rest = text.split(TABLE_BEGIN)
    _, tail = rest.split(TABLE_END)
    return f"{head}{TABLE_BEGIN}\n{unit_table()}{TABLE_END}{tail}"


def _dump(notebook: dict) -> str:
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files(notebooks_dir=SOURCE_NOTEBOOKS, docs_file=DOCS_FILE) -> dict:
    """{path: (committed text, generated text)} of the notebooks and the docs page."""
    files = {}
    for name in dict.fromkeys(u.notebook for u in UNITS.values()):
        path = Path(notebooks_dir) / f"{name}.ipynb"
        text = path.read_text(encoding="utf-8")
        files[path] = (text, _dump(generate_notebook(json.loads(text), name)))
    text = Path(docs_file).read_text(encoding="utf-8")
    files[Path(docs_file)] = (text, generate_docs(text))
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.answer_key.cells",
                                     description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the files")
    action.add_argument("--check", action="store_true", help="only say which files differ")
    args = parser.parse_args(argv)
    differ = {path: new for path, (old, new) in generated_files().items() if old != new}
    for path, new in differ.items():
        if args.write:
            path.write_text(new, encoding="utf-8")
        print(f"{'rewrote' if args.write else 'differs from its declaration'}: {path}")
    return 1 if differ and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
