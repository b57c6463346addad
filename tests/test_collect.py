"""Collecting submissions, restoring broken or edited notebooks, sanitising outputs: fast tests.

Real files, real links, real zips, real notebooks (the repository's source
notebooks stand in for a course's release: same grade ids, same cells). The
end-to-end runs of these classes through ``rnn-assignment grade`` are in
tests/test_adversarial_intake.py.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.grading.collect import collect, normalise_student_id, notes
from autograder.grading.feedback_guard import find_leaks, instructor_only_text, visible_text
from autograder.grading.restore import defined_names, grade_id, is_solution, restore_notebook
from autograder.grading.sandbox.message_outputs import MAX_JSON_DEPTH, data_problem, output_from_msg
from autograder.grading.upload import CollectError
from autograder.release.course import NOTEBOOKS, Course

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_captioning"
RNN, LSTM = NOTEBOOKS[:2]  # the captioning notebooks


@pytest.fixture
def course(tmp_path):
    """A course folder whose release (and source) are the repository's notebooks."""
    course = Course(tmp_path / "course")
    for folder in (course.release_dir(ASSIGNMENT), course.source_dir(ASSIGNMENT)):
        folder.mkdir(parents=True)
        for name in NOTEBOOKS:
            shutil.copyfile(REPO / "notebooks" / name, folder / name)
    return course


def _nb(name=RNN) -> dict:
    return json.loads((REPO / "notebooks" / name).read_text())


def _files(course, student):
    folder = course.root / "submitted" / student / ASSIGNMENT
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else None


# ------------------------------------------------------------------ links


def test_links_are_never_followed_at_any_level(course, tmp_path):
    subs = tmp_path / "subs"
    (subs / "amy").mkdir(parents=True)
    (subs / "amy" / RNN).write_text("{}")
    (subs / "amy" / "notes.txt").write_text("mine")
    os.symlink(course.source_dir(ASSIGNMENT), subs / "linked-to-source")   # the folder itself
    os.symlink(subs / "amy", subs / "linked-to-amy")                        # another student
    (subs / "bob").mkdir()
    os.symlink(course.source_dir(ASSIGNMENT) / RNN, subs / "bob" / RNN)     # a notebook
    os.symlink(subs / "amy" / "notes.txt", subs / "bob" / "notes.txt")     # a file
    os.symlink(course.source_dir(ASSIGNMENT), subs / "bob" / "more")       # a folder inside
    (subs / "cat").mkdir()
    os.symlink(course.source_dir(ASSIGNMENT), subs / "cat" / ASSIGNMENT)  # <student>/<assignment>
    os.mkfifo(subs / "amy" / "pipe.txt")                                   # not a regular file
    got = collect(course, subs)
    assert got.students == ["amy", "bob", "cat"]
    assert _files(course, "amy") == [RNN, "notes.txt"]
    assert _files(course, "bob") == [] and _files(course, "cat") == []
    for name in ("linked-to-source", "linked-to-amy"):
        assert not (course.root / "submitted" / name).exists()
        assert any(s.startswith(f"{name}: a symbolic link") for s in got.skipped)
    assert any("bob/more: a symbolic link" in s for s in got.skipped)
    assert any(f"{RNN} is a symbolic link" in p for p in got.notes["bob"])
    assert any("notes.txt is a symbolic link" in p for p in got.notes["bob"])
    assert any(f"{ASSIGNMENT} is a symbolic link" in p for p in got.notes["cat"])
    assert any("pipe.txt is not a regular file" in p for p in got.notes["amy"])
    assert notes(course, "bob")["problems"] == got.notes["bob"]


def test_a_zip_member_that_is_a_link_or_has_a_path_is_read_safely(course, tmp_path):
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo(f"{ASSIGNMENT}_eve_attempt_2026-11-20-09-00-00_{RNN}")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr(f"../../{ASSIGNMENT}_zed_attempt_2026-11-20-09-00-00_notes.txt", "hi")
        zf.writestr(f"deep/er/{ASSIGNMENT}_amy_attempt_2026-11-20-09-00-00_{RNN}", "{}")
    got = collect(course, archive)
    assert got.students == ["amy", "eve", "zed"]
    assert _files(course, "eve") == ["timestamp.txt"] or _files(course, "eve") == []
    assert any("symbolic link" in p for p in got.notes["eve"])
    assert _files(course, "zed") == ["notes.txt", "timestamp.txt"]
    assert not (tmp_path / "notes.txt").exists() and not (course.root.parent / "notes.txt").exists()
    assert RNN in _files(course, "amy")


# ------------------------------------------------------------------ ids


@pytest.mark.parametrize("name", ["Jane Doe", "José Núñez", "Zoë.Ångström", ".dotted", "a/b"[:1],
                                  "x" * 200, "名前", "O'Brien", "-dash", "tab\tname"])
def test_every_name_gets_a_safe_stable_distinct_id(name):
    sid = normalise_student_id(name)
    assert sid == normalise_student_id(name)
    assert sid.isascii() and len(sid) <= 128 and sid[0].isalnum()
    assert all(c.isalnum() or c in "_.@+-" for c in sid)
    if name in ("a", ):
        assert sid == name
    else:
        assert sid != name and sid != normalise_student_id(name + " ")


def test_usable_ids_are_kept_as_they_are():
    for name in ("amy", "jane.doe", "jane.doe@uni.edu", "s123_x-y+z", "A1"):
        assert normalise_student_id(name) == name


def test_odd_folder_names_are_graded_under_safe_ids_and_reported(course, tmp_path):
    subs = tmp_path / "subs"
    for name in ("Jane Doe", "José Núñez", ".dotted", "ok.name"):
        (subs / name).mkdir(parents=True)
        (subs / name / RNN).write_text("{}")
    (subs / ".ipynb_checkpoints").mkdir()
    got = collect(course, subs)
    assert got.students == sorted(normalise_student_id(n) for n in
                                  ("Jane Doe", "José Núñez", ".dotted", "ok.name"))
    assert "ok.name" in got.students and "ok.name" not in got.names
    jose = normalise_student_id("José Núñez")
    assert jose.startswith("Jose_Nunez-") and got.names[jose] == "José Núñez"
    assert "'José Núñez' is not a usable student id" in got.notes[jose][0]
    assert notes(course, jose)["original"] == "José Núñez"
    # --student takes the original name or the id
    assert collect(course, subs, only_student="José Núñez").students == [jose]
    assert collect(course, subs, only_student=jose).students == [jose]


# ------------------------------------------------------------------ LMS zips


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("filename", [
    "victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb",
    "rnn_captioning_victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb",
    "x_victim_attempt_2099-12-31-23-59-59_RNN_Captioning.ipynb",
    "victim_attempt_2020-01-01-00-00-00_victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb",
    # a separator in the student's file name is not a folder of the LMS
    "x\\rnn_captioning_victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb",
    "x/rnn_captioning_victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb",
    "\\rnn_captioning_victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb",
    "/rnn_captioning_victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb",
    "a\\b/\\rnn_captioning_victim_attempt_2099-01-01-00-00-00_RNN_Captioning.ipynb",
])
def test_the_id_comes_from_the_lms_prefix_whatever_the_file_is_called(course, tmp_path, filename):
    mine = json.dumps(_nb())
    archive = _zip(tmp_path / "lms.zip", [
        (f"{ASSIGNMENT}_victim_attempt_2026-11-20-10-00-00_{RNN}", mine),
        (f"{ASSIGNMENT}_mallory_attempt_2026-11-20-11-00-00_{filename}", "{}"),
    ])
    got = collect(course, archive)
    assert got.students == ["mallory", "victim"]
    victim = course.root / "submitted" / "victim" / ASSIGNMENT
    assert (victim / RNN).read_text() == mine
    assert (victim / "timestamp.txt").read_text().startswith("2026-11-20 10:00:00")
    assert "victim" not in got.notes
    mallory = course.root / "submitted" / "mallory" / ASSIGNMENT
    assert (mallory / RNN).read_text() == "{}"   # her file, graded as her notebook, flagged
    assert any("was graded as RNN_Captioning.ipynb" in p for p in got.notes["mallory"])
    assert (mallory / "timestamp.txt").read_text().startswith("2026-11-20 11:00:00")


def test_folders_before_the_lms_name_are_not_part_of_the_id(course, tmp_path):
    archive = _zip(tmp_path / "lms.zip", [
        (f"Downloads\\{ASSIGNMENT}_amy_attempt_2026-11-20-09-00-00_{RNN}", "amy"),  # Windows
        (f"all/{ASSIGNMENT}_bob_attempt_2026-11-20-09-00-00_{RNN}", "bob"),
        (f"{ASSIGNMENT}_cat_attempt_2026-11-20-09-00-00_{RNN}", "cat"),
    ])
    got = collect(course, archive)
    assert got.students == ["amy", "bob", "cat"] and not got.notes
    for name in got.students:
        assert (course.root / "submitted" / name / ASSIGNMENT / RNN).read_text() == name


def test_newest_upload_wins_only_among_one_students_own_files(course, tmp_path):
    archive = _zip(tmp_path / "lms.zip", [
        (f"{ASSIGNMENT}_bob_attempt_2026-11-19-09-00-00_{RNN}", "old"),
        (f"{ASSIGNMENT}_bob_attempt_2026-11-20-09-00-00_{RNN}", "new"),
        (f"{ASSIGNMENT}_bob_attempt_2026-11-18-09-00-00_{RNN}", "older"),
        (f"{ASSIGNMENT}_amy_attempt_2026-11-25-09-00-00_bob_attempt_2099-01-01-00-00-00_{RNN}",
         "amy's"),
    ])
    got = collect(course, archive)
    assert (course.root / "submitted" / "bob" / ASSIGNMENT / RNN).read_text() == "new"
    assert "bob" not in got.notes and any("newer upload" in i for i in got.info["bob"])
    assert (course.root / "submitted" / "amy" / ASSIGNMENT / RNN).read_text() == "amy's"


def test_two_files_for_one_notebook_at_one_time_are_a_reported_conflict(course, tmp_path):
    archive = _zip(tmp_path / "lms.zip", [
        (f"{ASSIGNMENT}_carol_attempt_2026-11-20-09-00-00_{RNN}", "exact"),
        (f"{ASSIGNMENT}_carol_attempt_2026-11-20-09-00-00_RNN_Captioning (1).ipynb", "copy"),
        (f"{ASSIGNMENT}_dan_attempt_2026-11-20-09-00-00_Copy of RNN_Captioning.ipynb", "a"),
        (f"{ASSIGNMENT}_dan_attempt_2026-11-20-09-00-00_rnn_captioning.ipynb", "b"),
    ])
    got = collect(course, archive)
    assert (course.root / "submitted" / "carol" / ASSIGNMENT / RNN).read_text() == "exact"
    assert any(p.startswith("conflict: 2 files could be RNN_Captioning.ipynb")
               for p in got.notes["carol"])
    assert any(p.startswith("conflict") for p in got.notes["dan"])
    assert (course.root / "submitted" / "dan" / ASSIGNMENT / RNN).read_text() in ("a", "b")


@pytest.mark.parametrize("stamp", ["2026-13-45-25-61-61", "2026-02-30-10-00-00", "0000-00-00-00-00-00",
                                   "99999999999999", "x"])
def test_an_impossible_lms_timestamp_costs_only_its_student(course, tmp_path, stamp):
    archive = _zip(tmp_path / "lms.zip", [
        (f"{ASSIGNMENT}_amy_attempt_{stamp}_{RNN}", "{}"),
        (f"{ASSIGNMENT}_bob_attempt_2026-11-20-09-00-00_{RNN}", "{}"),
    ])
    got = collect(course, archive)
    assert got.students == ["amy", "bob"]
    assert any("is not a time" in p for p in got.notes["amy"])
    assert not (course.root / "submitted" / "amy" / ASSIGNMENT / "timestamp.txt").exists()
    assert (course.root / "submitted" / "bob" / ASSIGNMENT / "timestamp.txt").is_file()


def test_a_students_own_timestamp_file_in_a_zip_is_not_trusted(course, tmp_path):
    archive = _zip(tmp_path / "lms.zip", [
        (f"{ASSIGNMENT}_amy_attempt_2026-11-25-09-00-00_{RNN}", "{}"),
        (f"{ASSIGNMENT}_amy_attempt_2026-11-25-09-00-00_timestamp.txt", "2000-01-01 00:00:00"),
    ])
    collect(course, archive)
    stamp = (course.root / "submitted" / "amy" / ASSIGNMENT / "timestamp.txt").read_text()
    assert stamp.startswith("2026-11-25 09:00:00")


def test_a_bad_zip_regexp_is_named(course, tmp_path):
    archive = _zip(tmp_path / "lms.zip", [(f"{ASSIGNMENT}_amy_attempt_2026-11-25-09-00-00_{RNN}",
                                           "{}")])
    with pytest.raises(CollectError, match="named groups"):
        collect(course, archive, zip_regexp=r"(?P<student>\w+)")
    with pytest.raises(CollectError, match="not a regular expression"):
        collect(course, archive, zip_regexp=r"(")


# ------------------------------------------------------------------ folder timestamps


def test_folder_timestamps_from_timestamp_txt_or_modification_time(course, tmp_path):
    subs = tmp_path / "subs"
    for name, stamp in (("amy", "2026-11-20 10:00:00.000000 UTC"), ("bob", "not a time"),
                        ("cat", None)):
        (subs / name).mkdir(parents=True)
        (subs / name / RNN).write_text("{}")
        if stamp:
            (subs / name / "timestamp.txt").write_text(stamp)
    os.utime(subs / "cat" / RNN, (1_700_000_000, 1_700_000_000))
    got = collect(course, subs)
    stamp = lambda s: (course.root / "submitted" / s / ASSIGNMENT / "timestamp.txt")  # noqa: E731
    assert stamp("amy").read_text().startswith("2026-11-20 10:00:00")
    assert not stamp("bob").exists() and any("not a time" in p for p in got.notes["bob"])
    assert not stamp("cat").exists()
    got = collect(course, subs, timestamps="mtime")
    assert stamp("cat").read_text().startswith("2023-11-14 22:13:20")
    assert not stamp("bob").exists() or "not a time" not in stamp("bob").read_text()
    collect(course, subs, timestamps="none")
    assert not stamp("amy").exists()
    with pytest.raises(CollectError, match="timestamps"):
        collect(course, subs, timestamps="yesterday")


# ------------------------------------------------------------------ renamed notebooks


@pytest.mark.parametrize("filename,how", [("RNN_Captioning (1).ipynb", "its name"),
                                          ("Copy of RNN_Captioning.ipynb", "its name"),
                                          ("rnn_captioning.ipynb", "its name"),
                                          ("RNN_Captioning-Copy1.ipynb", "its name"),
                                          ("my homework.ipynb", "its cells")])
def test_a_renamed_notebook_is_found_and_flagged(course, tmp_path, filename, how):
    subs = tmp_path / "subs"
    (subs / "amy").mkdir(parents=True)
    text = json.dumps(_nb())
    (subs / "amy" / filename).write_text(text)
    got = collect(course, subs)
    assert (course.root / "submitted" / "amy" / ASSIGNMENT / RNN).read_text() == text
    assert not (course.root / "submitted" / "amy" / ASSIGNMENT / LSTM).exists()
    assert got.notes["amy"] == [f"{filename} was graded as {RNN} (found by {how}; the notebook "
                                "must keep its name)"]


def test_nothing_to_collect_is_a_clear_error(course, tmp_path):
    with pytest.raises(CollectError, match="no such folder"):
        collect(course, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CollectError, match="holds no any student folder|holds no"):
        collect(course, tmp_path / "empty")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CollectError, match="neither a folder"):
        collect(course, tmp_path / "file.txt")


# ------------------------------------------------------------------ restore


def _answered(name=RNN) -> dict:
    """The source notebook as a student with every answer right would have it (no markers)."""
    nb = copy.deepcopy(_nb(name))
    for cell in nb["cells"]:
        if is_solution(cell):
            lines = "".join(cell["source"]).split("\n")
            cell["source"] = "\n".join(ln for ln in lines
                                       if ln.strip() not in ("### BEGIN SOLUTION",
                                                             "### END SOLUTION"))
    return nb


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_answers_with_the_instructors_markers_are_flagged(name):
    source = _nb(name)
    release = copy.deepcopy(source)    # stands in for the release: every answer a stub
    for cell in release["cells"]:
        if is_solution(cell):
            cell["source"] = "# YOUR CODE HERE\nraise NotImplementedError()"
    restored = restore_notebook(source, release, copy.deepcopy(source))   # the source itself
    answers = [grade_id(c) for c in source["cells"] if is_solution(c)]
    assert len(restored.review) == len(answers)
    assert all("holds the instructor's solution markers" in r for r in restored.review)
    partial = _answered(name)          # one answer copied with its markers, the rest their own
    first = next(c for c in partial["cells"] if is_solution(c))
    first["source"] = next(c for c in source["cells"] if grade_id(c) == grade_id(first))["source"]
    restored = restore_notebook(source, release, partial)
    assert len(restored.review) == 1 and grade_id(first) in restored.review[0]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_lost_metadata_answers_are_found_by_what_they_define(name):
    source = _nb(name)
    base = restore_notebook(source, source, _answered(name))
    stripped = _answered(name)
    for cell in stripped["cells"]:
        cell["metadata"] = {}
    restored = restore_notebook(source, source, stripped)
    assert restored.nb == base.nb
    assert restored.review and "lost the nbgrader metadata" in restored.review[0]
    assert not base.review
    # every answer cell found, code and written
    solutions = [grade_id(c) for c in source["cells"] if is_solution(c)]
    assert all(s in restored.review[0] for s in solutions)


def test_lost_metadata_with_extra_cells_and_a_missing_answer():
    source = _nb(RNN)
    stripped = _answered(RNN)
    for cell in stripped["cells"]:
        cell.pop("metadata", None)        # no metadata key at all
    at = next(i for i, c in enumerate(stripped["cells"])
              if "def rnn_forward(" in "".join(c["source"]))
    scratch = {"cell_type": "code", "source": "def rnn_forward(*a):\n    return None\n",
               "outputs": [], "execution_count": None}
    stripped["cells"].insert(at + 3, scratch)     # a later scratch copy: not the answer
    gone = next(i for i, c in enumerate(stripped["cells"])
                if "def word_embedding_backward(" in "".join(c["source"]))
    del stripped["cells"][gone]
    restored = restore_notebook(source, source, stripped)
    cells = {grade_id(c): c for c in restored.nb["cells"] if grade_id(c)}
    assert "def rnn_forward(x, h0" in cells["rnn_forward_solution"]["source"]
    assert "word_embedding_backward_solution" not in restored.review[0]
    assert "the answer cell word_embedding_backward_solution was missing: graded as released" \
        in restored.changes
    assert any(c["source"] == scratch["source"] and grade_id(c) is None
               for c in restored.nb["cells"])


def test_cells_with_null_or_odd_metadata_are_plain_cells():
    source = _nb(RNN)
    odd = _answered(RNN)
    odd["cells"][0]["metadata"] = None
    odd["cells"][2]["metadata"] = []
    odd["cells"][4]["metadata"] = {"nbgrader": None}
    odd["cells"][5]["source"] = ["a", 3, None]
    odd["cells"].append("not a cell")
    odd["cells"].append({"cell_type": ["code"], "metadata": None, "source": "x = 1"})
    restored = restore_notebook(source, source, odd)
    nbformat.validate(nbformat.from_dict(restored.nb))
    ids = [grade_id(c) for c in restored.nb["cells"] if grade_id(c)]
    assert ids == [grade_id(c) for c in source["cells"] if grade_id(c)]


def _plain_sources(nb):
    return [c["source"] for c in nb["cells"] if grade_id(c) is None]


@pytest.mark.parametrize("test_id,where", [
    ("test_rnn_step_forward", 0),                      # above the set-up cell
    ("test_captioning_sample", 1),                     # between the title cells
    ("test_rnn_backward", "rnn_backward_solution"),   # above its function
])
def test_a_moved_test_cell_carries_no_other_cell_along(test_id, where):
    source = _nb(RNN)
    base = restore_notebook(source, source, _answered(RNN))
    moved = _answered(RNN)
    cell = next(c for c in moved["cells"] if grade_id(c) == test_id)
    moved["cells"].remove(cell)
    at = where if isinstance(where, int) else \
        next(i for i, c in enumerate(moved["cells"]) if grade_id(c) == where)
    moved["cells"].insert(at, cell)
    restored = restore_notebook(source, source, moved)
    ids = [grade_id(c) for c in restored.nb["cells"] if grade_id(c)]
    assert ids == [grade_id(c) for c in source["cells"] if grade_id(c)]   # the release's order
    # every plain cell stays where it was among the instructor cells that did not move
    assert _plain_sources(restored.nb) == _plain_sources(base.nb)
    setup = next(i for i, c in enumerate(restored.nb["cells"])
                 if c["source"].startswith("# Set-up: run this cell first"))
    first_graded = next(i for i, c in enumerate(restored.nb["cells"]) if grade_id(c))
    assert setup < first_graded
    assert "instructor cells were moved: put back in their order" in restored.changes


def test_defined_names_of_a_cell_with_a_syntax_error():
    assert defined_names("def f(x):\n    return x\nclass C:\n    pass\n") == {"f", "C"}
    assert defined_names("def f(x):\n    return (\nclass C:\n") == {"f", "C"}
    assert defined_names("x = 1") == set()


# ------------------------------------------------------------------ outputs


def _msg(kind, content):
    return {"msg_type": kind, "header": {"msg_type": kind}, "content": content}


DEEP = []
for _ in range(3000):
    DEEP = [DEEP]


@pytest.mark.parametrize("content,problem", [
    ({"data": {"text/plain": 5}, "metadata": {}}, "text/plain holds a int"),
    ({"data": {"not a mime": "x"}, "metadata": {}}, "is not a MIME type"),
    ({"data": {"image/png": ["ab", 3]}, "metadata": {}}, "image/png holds a list"),
    ({"data": {"application/json": DEEP}, "metadata": {}}, f"deeper than {MAX_JSON_DEPTH}"),
    ({"data": {"application/vnd.x+json": {"a": float("nan")}}, "metadata": {}}, "NaN"),
    ({"data": "text", "metadata": {}}, "display data of type str"),
    ({"data": {"text/plain": "x"}, "metadata": "m"}, "display metadata of type str"),
    ({"data": {"text/plain": "x"}, "metadata": {"deep": DEEP}}, "metadata: JSON nested"),
])
def test_an_output_that_is_not_valid_becomes_a_note(content, problem):
    out = output_from_msg(_msg("display_data", content))
    assert out.output_type == "stream" and problem in out.text
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[out])])
    nbformat.validate(nb)
    nbformat.reads(nbformat.writes(nb), as_version=4)


@pytest.mark.parametrize("kind,content", [
    ("stream", {"name": "stdout", "text": "hello\n"}),
    ("display_data", {"data": {"text/plain": "x", "image/png": "iVBOR",
                               "application/json": {"a": [1, 2, {"b": None}]}},
                      "metadata": {"image/png": {"width": 3}}}),
    ("execute_result", {"data": {"text/plain": "3"}, "metadata": {}, "execution_count": 4}),
    ("error", {"ename": "ValueError", "evalue": "no", "traceback": ["a", "b"]}),
])
def test_valid_outputs_pass_unchanged(kind, content):
    out = output_from_msg(_msg(kind, content))
    assert out == nbformat.v4.output_from_msg(_msg(kind, content))
    assert data_problem(content.get("data", {}), content.get("metadata", {})) == "" \
        or kind in ("stream", "error")


@pytest.mark.parametrize("kind,content", [
    ("stream", {"name": "weird", "text": "x"}),
    ("stream", {"name": "stdout", "text": 5}),
    ("error", {"ename": "E", "evalue": "v", "traceback": "not a list"}),
    ("execute_result", {"data": {"text/plain": "3"}, "metadata": {}, "execution_count": "4"}),
    ("display_data", None),
])
def test_other_invalid_messages_become_notes(kind, content):
    out = output_from_msg(_msg(kind, content))
    assert out.output_type == "stream" and out.text.startswith("[grader]")


# ------------------------------------------------------------------ feedback guard


def test_instructor_only_text_is_markers_and_hidden_tests():
    sources = [REPO / "notebooks" / n for n in NOTEBOOKS]
    sensitive = instructor_only_text(sources)
    assert 'grade_unit("rnn_forward", rnn_forward, globals())' in sensitive
    assert "BEGIN SOLUTION" in sensitive and "BEGIN HIDDEN TESTS" in sensitive
    # the answer key's lines are not in it: correct students write the same
    assert not any("out = W[x]" in s or "Each step backwards multiplies" in s for s in sensitive)
    for name in NOTEBOOKS:   # every solution region of the source carries a marker
        source = _nb(name)
        for cell in source["cells"]:
            if is_solution(cell):
                assert find_leaks("".join(cell["source"]), sensitive), grade_id(cell)
    page = "<html><body><p>grade_unit(&quot;rnn_forward&quot;, rnn_forward,\n globals())</p>" \
           "<style>BEGIN SOLUTION</style></body></html>"
    assert find_leaks(visible_text(page), sensitive) == \
        ['grade_unit("rnn_forward", rnn_forward, globals())']


def test_ids_with_underscores_and_look_alike_lms_names_stay_apart(course, tmp_path):
    archive = _zip(tmp_path / "lms.zip", [
        (f"{ASSIGNMENT}_jane_doe_attempt_2026-11-20-09-00-00_{RNN}", "jane"),
        (f"{ASSIGNMENT}_john_doe_attempt_2026-11-20-09-00-00_{RNN}", "john"),
        (f"Homework 3_amy_attempt_2026-11-20-09-00-00_{RNN}", "amy"),    # another LMS title
        (f"Homework 3_x_amy_attempt_2026-11-20-09-00-00_{RNN}", "x_amy"),
    ])
    got = collect(course, archive)
    assert "jane_doe" in got.students and "john_doe" in got.students
    assert (course.root / "submitted" / "jane_doe" / ASSIGNMENT / RNN).read_text() == "jane"
    assert (course.root / "submitted" / "john_doe" / ASSIGNMENT / RNN).read_text() == "john"
    # 'Homework 3_amy' and 'Homework 3_x_amy' would both be 'amy': two students, flagged
    twins = [s for s in got.students if s not in ("jane_doe", "john_doe")]
    assert len(twins) == 2 and "amy" not in got.students
    contents = sorted((course.root / "submitted" / s / ASSIGNMENT / RNN).read_text() for s in twins)
    assert contents == ["amy", "x_amy"]
    assert all(any("would share the id 'amy'" in p for p in got.notes[s]) for s in twins)


def test_hard_links_to_course_files_are_refused_and_shared_files_flagged(course, tmp_path):
    subs = tmp_path / "subs"
    for name in ("amy", "bob", "cat"):
        (subs / name).mkdir(parents=True)
    os.link(course.source_dir(ASSIGNMENT) / RNN, subs / "amy" / RNN)   # the instructor's notebook
    (subs / "bob" / LSTM).write_text("bob's work")
    os.link(subs / "bob" / LSTM, subs / "cat" / LSTM)                    # the same file as bob's
    got = collect(course, subs)
    assert _files(course, "amy") == []
    assert any("hard link to a file of the course" in p for p in got.notes["amy"])
    assert _files(course, "bob") == [LSTM] and _files(course, "cat") == [LSTM]
    assert any("very same file (a hard link) as cat/" in p for p in got.notes["bob"])
    assert any("very same file (a hard link) as bob/" in p for p in got.notes["cat"])


def test_submissions_kept_inside_the_course_folder_are_imported(course):
    incoming = course.root / "incoming"          # the instructor keeps downloads in the course
    (incoming / "amy").mkdir(parents=True)
    (incoming / "amy" / RNN).write_text("{}")
    assert collect(course, incoming).students == ["amy"]
    assert _files(course, "amy") == [RNN]
    again = collect(course, course.root / "submitted")  # even the course's own submitted/
    assert again.students == ["amy"] and _files(course, "amy") == [RNN]


def test_grading_submitted_again_never_follows_a_link_at_any_depth(course):
    """``grade`` without SUBMISSIONS reads submitted/ as it is: links there are not followed."""
    from autograder.grading.jobs import build_jobs
    sub = course.root / "submitted"
    (sub / "amy" / ASSIGNMENT).mkdir(parents=True)
    os.symlink(course.source_dir(ASSIGNMENT) / RNN, sub / "amy" / ASSIGNMENT / RNN)   # a file
    os.symlink(course.source_dir(ASSIGNMENT) / LSTM, sub / "amy" / ASSIGNMENT / "data.json")
    (sub / "bob").mkdir()
    os.symlink(course.source_dir(ASSIGNMENT), sub / "bob" / ASSIGNMENT)    # the assignment folder
    (sub / "eve" / ASSIGNMENT).mkdir(parents=True)
    (sub / "eve" / ASSIGNMENT / LSTM).write_text(json.dumps({"cells": [], "metadata": {},
                                                             "nbformat": 4, "nbformat_minor": 5}))
    os.symlink(sub / "eve", sub / "cat")                                  # another student
    (sub / "dan" / ASSIGNMENT).mkdir(parents=True)
    os.link(course.source_dir(ASSIGNMENT) / RNN, sub / "dan" / ASSIGNMENT / RNN)    # a hard link
    os.mkfifo(sub / "dan" / ASSIGNMENT / LSTM)                                  # a FIFO
    jobs, missing = build_jobs(course, ASSIGNMENT, ["amy", "bob", "cat", "dan", "eve"], "x")
    assert [(j.student, j.notebook) for j in jobs] == [("eve", "LSTM_Captioning")]
    assert "data.json" not in jobs[0].files and not jobs[0].unreadable   # eve's own
    expected = {"amy": "RNN_Captioning.ipynb is a symbolic link",
                "bob": f"submitted/bob/{ASSIGNMENT} is a symbolic link",
                "cat": "submitted/cat is a symbolic link",
                "dan": "a hard link to a file of the course"}
    for student, why in expected.items():
        for notebook in ("RNN_Captioning", "LSTM_Captioning"):
            if student in ("amy", "dan") and notebook == "LSTM_Captioning":  # not submitted
                continue
            reason, problems = missing[(student, notebook)]
            assert "was not submitted" in reason and any(why in p for p in problems), \
                (student, notebook, problems)
    assert any("data.json is a symbolic link" in p for p in missing[("amy", "RNN_Captioning")][1])
    assert any("not a regular file" in p for p in missing[("dan", "LSTM_Captioning")][1])


@pytest.mark.parametrize("make, problem", [
    (lambda: {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
              "x": [{}] * 2_000_001}, "JSON objects and lists"),
    (lambda: {"cells": [{"cell_type": "raw", "metadata": {}, "source": ""}] * 100_000,
              "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, "100,000 cells"),
])
def test_a_notebook_too_big_to_parse_is_graded_as_the_release_with_the_reason(
        course, tmp_path, make, problem):
    """Valid JSON the coordinator would need gigabytes for is never parsed; the reason is named."""
    from autograder.grading.notebook_names import grade_ids_in
    from autograder.grading.restore import read_submitted
    path = tmp_path / RNN
    path.write_text(json.dumps(make()))
    nb, why = read_submitted(path)
    assert nb is None and problem in why and "graded as the release" in why
    assert restore_notebook(_nb(), _nb(), nb).nb["cells"]   # graded as released
    if "objects" in problem:
        assert grade_ids_in(path.read_bytes()) == set()


def test_the_course_notebooks_are_far_below_the_parsing_limits():
    from autograder.grading.restore import MAX_CELLS, MAX_JSON_CONTAINERS
    data = (REPO / "notebooks" / RNN).read_bytes()
    assert (data.count(b"{") + data.count(b"[")) * 100 < MAX_JSON_CONTAINERS
    assert len(_nb()["cells"]) * 20 < MAX_CELLS


def _move_last_question_first(nb):
    at = [i for i, c in enumerate(nb["cells"]) if "**Your answer:**" in "".join(c["source"])][-1]
    block = nb["cells"][at - 1:at + 1]    # the question's text and its answer
    del nb["cells"][at - 1:at + 1]
    nb["cells"][0:0] = block


def _crlf(nb):
    for cell in nb["cells"]:
        cell["source"] = "".join(cell["source"]).replace("\n", "\r\n")


def _reverse(nb):
    nb["cells"].reverse()


def _new_ids_no_outputs(nb):
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"vscode-{i}"
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None


@pytest.mark.parametrize("edit", [_move_last_question_first, _crlf, _reverse, _new_ids_no_outputs])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_lost_metadata_and_moved_cells_keep_every_answer_in_its_place(name, edit):
    """Written answers all start alike ("**Your answer:**"): each goes with the question by it."""
    source = _nb(name)
    mine = _answered(name)
    for i, cell in enumerate(mine["cells"]):
        if is_solution(cell) and cell["cell_type"] == "markdown":
            cell["source"] = f"**Your answer:**\n\nmy answer {i}"
    expected = {grade_id(c): "".join(c["source"]) for c in mine["cells"] if is_solution(c)}
    for cell in mine["cells"]:
        cell["metadata"] = {}
    edit(mine)
    restored = restore_notebook(source, source, mine)
    got = {grade_id(c): c["source"].replace("\r\n", "\n") for c in restored.nb["cells"]
           if is_solution(c)}
    assert got == expected
    assert [grade_id(c) for c in restored.nb["cells"] if grade_id(c)] == \
        [grade_id(c) for c in source["cells"] if grade_id(c)]
    assert restored.review and "lost the nbgrader metadata" in restored.review[0]


def test_a_zip_bomb_of_many_files_stops_at_the_students_own_limit(course, tmp_path, monkeypatch):
    """Each file under the per-file limit, together far over it: the notebook is still read."""
    import autograder.grading.collect_lms as lms
    monkeypatch.setattr(lms, "MAX_STUDENT_BYTES", 3 * 2**20)
    zeros = b"\0" * 2**20
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:   # a few kB compressed
        for i in range(8):
            zf.writestr(f"{ASSIGNMENT}_amy_attempt_2026-11-20-09-00-00_junk{i}.npy", zeros)
        zf.writestr(f"{ASSIGNMENT}_amy_attempt_2026-11-20-09-00-00_{RNN}", "{}")
        zf.writestr(f"{ASSIGNMENT}_bob_attempt_2026-11-20-09-00-00_{RNN}", "{}")
        zf.writestr(f"{ASSIGNMENT}_bob_attempt_2026-11-20-09-00-00_data.npy", zeros)
    got = collect(course, archive)
    assert _files(course, "amy") == sorted([RNN, "junk0.npy", "junk1.npy", "timestamp.txt"])
    assert sum("over 3 MB" in p for p in got.notes["amy"]) == 6
    assert _files(course, "bob") == sorted([RNN, "data.npy", "timestamp.txt"])
    assert "bob" not in got.notes
