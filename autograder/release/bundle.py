"""The student bundle ``<assignment>_student.zip``: what students download.

Instructor-only. The released notebooks, the ``assignment`` package with its
public checks, the COCO download script, the language model's corpora, and a
README with the point table. Deterministic: fixed zip timestamps and sorted
entries, so the same sources give the same bytes; refused when the course
secret appears anywhere in it.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from .course import REPO
from .errors import ReleaseError

STUDENT_BUNDLE_FILES = Path(__file__).resolve().parent / "student_bundle"

# Fixed timestamp of every zip entry, so the bundle's bytes depend on content only.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def point_table(points) -> str:
    """Markdown table of the graded cells of every notebook, with totals."""
    rows = ["| notebook | graded cell | points |", "|---|---|---:|"]
    grand = 0
    for notebook, cells in points.items():
        for cell in cells:
            rows.append(f"| {notebook} | {cell.grade_id} | {_fmt(cell.points)}"
                        f"{' (written answer, graded by hand)' if cell.manual else ''} |")
        total = sum(cell.points for cell in cells)
        grand += total
        rows.append(f"| {notebook} | **total** | **{_fmt(total)}** |")
    rows.append(f"| | **assignment total** | **{_fmt(grand)}** |")
    return "\n".join(rows)


def _fmt(p):
    return f"{p:g}"


def student_bundle_entries(course, assignment, points):
    """Sorted [(path inside the zip, bytes)] of the student bundle."""
    top = assignment
    entries = {}
    for name in course.notebooks(assignment):
        entries[name] = (course.release_dir(assignment) / name).read_bytes()
    package = REPO / "assignment"
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(REPO)
        if path.is_file() and not _skipped(rel):
            entries[rel.as_posix()] = path.read_bytes()
    entries["datasets/get_coco_captioning.py"] = (REPO / "datasets" / "get_coco_captioning.py") \
        .read_bytes()
    for path in sorted((REPO / "datasets" / "corpora").iterdir()):  # the language model's texts
        entries[f"datasets/corpora/{path.name}"] = path.read_bytes()
    entries["pyproject.toml"] = (STUDENT_BUNDLE_FILES / "pyproject.toml").read_bytes()
    entries["environment.yml"] = (STUDENT_BUNDLE_FILES / "environment.yml").read_bytes()
    readme = (STUDENT_BUNDLE_FILES / "README.md").read_text()
    entries["README.md"] = readme.replace("{point_table}", point_table(points)).encode()
    return [(f"{top}/{rel}", data) for rel, data in sorted(entries.items())]


def _skipped(rel):
    parts = rel.parts
    return (any(p == "__pycache__" or p.startswith(".") for p in parts)
            or rel.suffix in (".pyc", ".pyo"))


def write_student_bundle(course, assignment, points, secret):
    entries = student_bundle_entries(course, assignment, points)
    leaks = [name for name, data in entries
             if secret.hex().encode() in data or secret in data]
    if leaks:
        raise ReleaseError(f"the course secret appears in {', '.join(leaks)}; not writing the "
                           f"student bundle")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permission bits below mean the same everywhere
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    path = course.bundle_path(assignment)
    tmp = path.with_suffix(".zip.part")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    return path
