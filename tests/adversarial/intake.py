"""Submissions that attack or break the intake: links, names, broken notebooks, odd outputs.

``build_folder(course, out)`` writes a folder of submissions and
``build_zip(course, path)`` an LMS zip; each returns, per submission name,
what ``rnn-assignment grade`` must make of it (:class:`Want`): the exact score
of every autograded test cell (or ``absent``: not a student at all), which
notebooks are flagged for review and words their reasons must contain.

Classes (issue 9 sections 2, 3, 4, 5.1, 5.2; issue 14 item 6), several
variants each:

* files from outside the submission: a student folder that is a link (to the
  course's ``source/``, to another student), notebooks that are links (to the
  source, to another student's notebook), an assignment folder that is a link,
  a link to the hidden references, a link member in the zip, a hard link to a
  source notebook, a plain copy of one (its answers carry nbgrader's markers);
* names: a zip file named like another student's download (two spellings), a
  student's two uploads of one notebook (the newest wins), two with the same
  time (a conflict), a student-made ``timestamp.txt`` in the zip;
* bad input: names with spaces, non-ASCII letters, leading and inner dots; an
  impossible LMS timestamp and an invalid ``timestamp.txt``; 0 bytes, invalid
  JSON, ``[]``, ``{}``, cells whose metadata is null, a renamed notebook;
  outputs that are not valid nbformat (a display of the wrong type, an invalid
  MIME type, deeply nested JSON, a non-text image, an invalid display update);
* lost metadata (VS Code/Colab) and moved cells (a test cell above the set-up
  cell, a test cell above its function);
* feedback: a student's cell holding solution markers and a hidden-test line;
* late work: ``timestamp.txt`` after the due date (nbgrader's "zero" penalty).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from adversarial.corpus import (LSTM, NOTEBOOKS, RNN, _index, _read, _scores,
                                correct_submission, expected_points, solution_sources)

__all__ = ["Want", "build_folder", "build_zip", "DUE", "ON_TIME", "LATE"]

ASSIGNMENT = "rnn_captioning"
DUE = "2026-11-21 00:00:00 UTC"
ON_TIME = "2026-11-20 12:00:00.000000 UTC"
LATE = "2026-11-23 08:30:00.000000 UTC"


@dataclass
class Want:
    description: str
    scores: dict = field(default_factory=dict)     # (notebook, grade_id) -> points
    flagged: dict = field(default_factory=dict)    # notebook -> words its review reason has
    absent: bool = False                           # not a student (a link at the top)
    late: bool = False                             # nbgrader's late penalty applies

    @property
    def total(self) -> float:
        return float(sum(self.scores.values()))


def _only(*notebooks) -> dict:
    """Full points in ``notebooks``, zero elsewhere."""
    return {k: (v if k[0] in notebooks else 0.0) for k, v in expected_points().items()}


def _notebooks(course):
    release = {n: _read(course.release_dir(ASSIGNMENT) / f"{n}.ipynb") for n in NOTEBOOKS}
    solutions = solution_sources(course.source_dir(ASSIGNMENT))
    return release, correct_submission(release, solutions)


def _write(path: Path, nb) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1) if isinstance(nb, dict) else nb)


def _json(nb) -> dict:
    return json.loads(nbformat.writes(nb))


BAD_OUTPUTS = '''

# Outputs no notebook can hold, each published from this cell (after the function).
from IPython import get_ipython
from IPython.display import display, update_display

_pub = get_ipython().display_pub
_deep = []
for _ in range(400):
    _deep = [_deep]
for _data, _meta in (({"text/plain": 5}, {}),                         # not text
                     ({"not a mime type": "x", "text/plain": "y"}, {}),
                     ({"image/png": ["iVBOR", 3]}, {}),               # not text either
                     ({"application/json": _deep, "text/plain": "deep"}, {}),
                     ({"text/html": "<b>fine</b>"}, "metadata, not a dict")):
    try:
        _pub.publish(data=_data, metadata=_meta)
    except Exception as _err:
        print("the kernel refused", type(_err).__name__)
display({"text/plain": "to be updated"}, raw=True, display_id="u1")
update_display({"text/plain": {"not": "text"}}, raw=True, display_id="u1")
try:
    display(5, raw=True)                                                # not a dict at all
except Exception as _err:
    print("the kernel refused", type(_err).__name__)
'''

LEAKY_NOTE = '''My notes, copied from somewhere:

### BEGIN SOLUTION
the answer
### END SOLUTION

grade_unit("rnn_forward", rnn_forward, globals())
'''


def _strip_metadata(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        cell["metadata"] = {}
        cell.pop("id", None)
    nb["nbformat_minor"] = 4
    return nb


def build_folder(course, out: Path) -> dict:
    """A folder of submissions; name -> Want."""
    release, good = _notebooks(course)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = course.source_dir(ASSIGNMENT)
    want = {}

    def put(student, name, nb):
        _write(out / student / f"{name}.ipynb", _json(nb) if not isinstance(nb, (dict, str))
               else nb)

    want["c01-correct"] = Want("correct, submitted on time", _scores())
    for name in NOTEBOOKS:
        put("c01-correct", name, good[name])
    (out / "c01-correct" / "timestamp.txt").write_text(ON_TIME + "\n")

    # ------------------------------------------------ links, never followed
    os.symlink(source, out / "c02-folder-links-to-source")
    os.symlink(out / "c01-correct", out / "c03-folder-links-to-c01")
    want["c02-folder-links-to-source"] = Want("a student folder that links to source/",
                                              absent=True)
    want["c03-folder-links-to-c01"] = Want("a student folder that links to another student",
                                           absent=True)
    links = out / "c04-notebook-links"
    links.mkdir()
    os.symlink(source / f"{RNN}.ipynb", links / f"{RNN}.ipynb")
    os.symlink(out / "c01-correct" / f"{LSTM}.ipynb", links / f"{LSTM}.ipynb")
    os.symlink(course.references_path, links / "stolen.npz")
    want["c04-notebook-links"] = Want(
        "notebooks that link to the source and to another student's notebook, and a link "
        "to the hidden references: nothing imported, 0", _only(),
        {RNN: "symbolic link", LSTM: "symbolic link"})
    inner = out / "c05-assignment-folder-link"
    inner.mkdir()
    os.symlink(source, inner / ASSIGNMENT)
    want["c05-assignment-folder-link"] = Want(
        "<student>/rnn_captioning/ links to source/: not imported, 0", _only(),
        {RNN: "symbolic link", LSTM: "symbolic link"})

    copies = out / "c10-source-copies"
    copies.mkdir()
    shutil.copyfile(source / f"{RNN}.ipynb", copies / f"{RNN}.ipynb")    # a copy: markers in it
    os.link(source / f"{LSTM}.ipynb", copies / f"{LSTM}.ipynb")          # a hard link
    want["c10-source-copies"] = Want(
        "a copy of the source RNN notebook (its answers carry the solution markers: graded, "
        "flagged, feedback withheld) and a hard link to the source LSTM notebook (not "
        "imported, 0)", _only(RNN), {RNN: "instructor's solution markers", LSTM: "hard link"})

    # ------------------------------------------------ names and broken notebooks
    put("Jane Doe", RNN, good[RNN])
    (out / "Jane Doe" / "timestamp.txt").write_text("2026-02-30 25:61:00\n")
    want["Jane Doe"] = Want("a name with a space, an impossible timestamp.txt, no LSTM notebook",
                            _only(RNN), {RNN: "not a usable student id", LSTM: "timestamp.txt"})
    (out / "Zoë Ångström.v2").mkdir()
    (out / "Zoë Ångström.v2" / f"{RNN}.ipynb").write_bytes(b"")
    (out / "Zoë Ångström.v2" / f"{LSTM}.ipynb").write_text(
        json.dumps(_json(good[LSTM]))[:5000])
    want["Zoë Ångström.v2"] = Want("non-ASCII letters and a dot; a 0-byte notebook and one cut "
                                   "off in the middle (invalid JSON): graded as released, 0",
                                   _only(), {RNN: "is empty", LSTM: "not valid JSON"})
    (out / ".dot.student").mkdir()
    (out / ".dot.student" / f"{RNN}.ipynb").write_text("[]")
    (out / ".dot.student" / f"{LSTM}.ipynb").write_text("{}")
    want[".dot.student"] = Want("a leading dot; notebooks that are [] and {}: 0",
                                _only(), {RNN: "not a notebook", LSTM: "not a notebook"})

    rnn = _json(good[RNN])
    for index in (0, 2, _index(good[RNN], "rnn_forward_check")):  # a markdown, the set-up, a check
        rnn["cells"][index]["metadata"] = None
    put("c06-null-metadata-renamed", RNN, rnn)
    put("c06-null-metadata-renamed", f"{LSTM} (1)", good[LSTM])
    want["c06-null-metadata-renamed"] = Want(
        "cells whose metadata is null; the LSTM notebook renamed 'LSTM_Captioning (1).ipynb': "
        "full marks, the renamed one flagged", _scores(), {LSTM: "was graded as"})

    # ------------------------------------------------ lost metadata, moved cells
    put("c07-stripped-and-moved", RNN, _strip_metadata(_json(good[RNN])))
    lstm = copy.deepcopy(good[LSTM])
    cell = lstm.cells.pop(_index(lstm, "test_lstm_step_forward"))
    lstm.cells.insert(0, cell)                                   # above the set-up cell
    cell = lstm.cells.pop(_index(lstm, "test_lstm_backward"))
    lstm.cells.insert(_index(lstm, "lstm_backward_solution"), cell)   # above its function
    put("c07-stripped-and-moved", LSTM, lstm)
    want["c07-stripped-and-moved"] = Want(
        "the RNN notebook without any cell metadata (VS Code): answers found by what they "
        "define, flagged; in the LSTM notebook a test cell above the set-up cell and one "
        "above its function: full marks", _scores(), {RNN: "lost the nbgrader metadata"})

    # ------------------------------------------------ outputs, feedback
    rnn = copy.deepcopy(good[RNN])
    cell = rnn.cells[_index(rnn, "rnn_step_forward_solution")]
    cell.source += BAD_OUTPUTS
    at = _index(rnn, "rnn_forward_check")
    rnn.cells.insert(at + 1, nbformat.v4.new_markdown_cell(LEAKY_NOTE))
    put("c08-outputs-and-markers", RNN, rnn)
    want["c08-outputs-and-markers"] = Want(
        "outputs that are not valid nbformat (wrong types, no MIME type, 400-deep JSON, bad "
        "update) and a cell with solution markers and a hidden-test line: RNN full, the "
        "feedback withholds that cell, flagged", _only(RNN), {RNN: "withheld"})

    # ------------------------------------------------ late
    put("c09-late", RNN, good[RNN])
    (out / "c09-late" / "timestamp.txt").write_text(LATE + "\n")
    want["c09-late"] = Want("a correct RNN notebook submitted after the due date: nbgrader's "
                            "'zero' late penalty", _only(RNN), late=True)
    return want


def build_zip(course, path: Path) -> dict:
    """An LMS zip (nbgrader's naming); LMS student id -> Want."""
    release, good = _notebooks(course)
    text = {n: nbformat.writes(good[n]) for n in NOTEBOOKS}
    blank = {n: nbformat.writes(release[n]) for n in NOTEBOOKS}
    entries = [
        ("rnn_captioning_victim_attempt_2026-11-20-10-00-00_RNN_Captioning.ipynb", text[RNN]),
        # named like the victim's download, two spellings
        ("rnn_captioning_mallory_attempt_2026-11-20-11-00-00_"
         "victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb", blank[RNN]),
        ("rnn_captioning_mallory_attempt_2026-11-20-11-00-00_"
         "rnn_captioning_victim_attempt_2099-01-01-00-00-00_LSTM_Captioning.ipynb", "{}"),
        # two uploads: the newer wins; an impossible time on a third file
        ("rnn_captioning_bob_attempt_2026-11-19-09-00-00_RNN_Captioning.ipynb", blank[RNN]),
        ("rnn_captioning_bob_attempt_2026-11-20-09-00-00_RNN_Captioning.ipynb", text[RNN]),
        ("rnn_captioning_bob_attempt_2026-13-45-25-61-61_notes.txt", "my notes"),
        # two files for one notebook at the same time: a conflict; her own timestamp.txt
        ("rnn_captioning_carol_attempt_2026-11-20-09-00-00_RNN_Captioning.ipynb", text[RNN]),
        ("rnn_captioning_carol_attempt_2026-11-20-09-00-00_RNN_Captioning (1).ipynb", blank[RNN]),
        ("rnn_captioning_carol_attempt_2026-11-20-09-00-00_timestamp.txt", "2000-01-01 00:00:00"),
        # a name that is not an id, a 0-byte notebook
        ("rnn_captioning_José Núñez_attempt_2026-11-20-09-00-00_RNN_Captioning.ipynb", ""),
        # an entry outside any folder
        ("../../rnn_captioning_zed_attempt_2026-11-20-09-00-00_notes.txt", "hello"),
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
        link = zipfile.ZipInfo("rnn_captioning_eve_attempt_2026-11-20-09-00-00_"
                               "RNN_Captioning.ipynb")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, str(course.source_dir(ASSIGNMENT) / f"{RNN}.ipynb"))
    return {
        "victim": Want("the victim: their own notebook, full RNN", _only(RNN)),
        "mallory": Want("uploads named like the victim's download: stays mallory, notebooks "
                        "found by name, 0", _only(), {RNN: "was graded as", LSTM: "not a notebook"}),
        "bob": Want("two uploads of one notebook: the newer (correct) one graded; an impossible "
                    "LMS timestamp on another file", _only(RNN),
                    {RNN: "not a time", LSTM: "not a time"}),
        "carol": Want("two files for one notebook at the same time: a conflict, the exact name "
                      "graded", _only(RNN), {RNN: "conflict"}),
        "José Núñez": Want("a name with a space and accents; a 0-byte notebook", _only(),
                           {RNN: "is empty", LSTM: "not a usable student id"}),
        "zed": Want("an entry with ../ in its path: only its base name counts", _only()),
        "eve": Want("a symbolic link member: not imported", _only(), {RNN: "symbolic link"}),
    }
