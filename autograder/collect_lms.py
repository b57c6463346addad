"""LMS zips for ``autograder.collect``: ids from the LMS prefix only, conflicts, timestamps.

Instructor-only. ``read_zip(archive, regexp, skipped, assignment)`` reads every
member of an LMS download as bytes, by base name only (no paths, no link
members, no special files), and groups them by the LMS's own prefix: the
pattern (default ``collect.DEFAULT_ZIP_REGEXP``) is anchored at the start and
the first ``_attempt_<timestamp>_`` ends the prefix, whatever the student
named the file. Among one student's files for one name the newest LMS
timestamp wins; equal times are a conflict (flagged). Two prefixes never share
a student id (``_lms_names``).
"""

from __future__ import annotations

import datetime as _dt
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .collect import MAX_FILE_BYTES, CollectError, _format_time, _parse_time, _Upload

__all__ = ["read_zip"]


def _lms_names(prefixes: dict, assignment: str) -> dict:
    """LMS prefix -> (student name, note or ''): never one name for two prefixes.

    The name is what follows ``<assignment>_`` when the prefix starts with the
    assignment's id (so ids may hold underscores), else the pattern's
    ``student_id``. Two prefixes that would give one name (``..._jane_doe`` and
    ``..._john_doe`` both ``doe``) are two students: each keeps its whole prefix.
    """
    names = {}
    for prefix, student in prefixes.items():
        head = f"{assignment}_"
        names[prefix] = prefix[len(head):] if prefix.startswith(head) and \
            len(prefix) > len(head) else student
    out = {}
    for prefix, name in names.items():
        twins = sorted(p for p, n in names.items() if n == name)
        if len(twins) > 1:
            out[prefix] = (prefix, f"the LMS names {', '.join(map(repr, twins))} would share the "
                                   f"id {name!r}: graded as different students under their "
                                   "whole LMS names")
        else:
            out[prefix] = (name, "")
    return out


def read_zip(archive: Path, regexp: str, skipped: list, assignment: str) -> dict:
    """student name -> _Upload, from nbgrader's LMS naming (first _attempt_ ends the prefix)."""
    try:
        pattern = re.compile(regexp)
    except re.error as err:
        raise CollectError(f"--zip-regexp {regexp!r} is not a regular expression: {err}") from None
    if "student_id" not in pattern.groupindex or "file_id" not in pattern.groupindex:
        raise CollectError(f"--zip-regexp {regexp!r} needs the named groups (?P<student_id>...) "
                           "and (?P<file_id>...)")
    claims = {}   # (LMS prefix, file name) -> [(timestamp or None, raw timestamp, member)]
    uploads = {}  # LMS prefix -> _Upload
    prefixes = {}  # LMS prefix -> the pattern's student_id
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise CollectError(f"{archive} cannot be read as a zip file: {err}") from None
    with zf:
        for info in zf.infolist():
            member = info.filename
            base = PurePosixPath(member.replace("\\", "/")).name
            if info.is_dir() or not base or "__MACOSX" in member.split("/"):
                continue
            match = pattern.match(base)
            if not match or not match.group("student_id") or not match.group("file_id"):
                skipped.append(f"{member}: does not match the LMS pattern {regexp!r}")
                continue
            student = base[:match.end("student_id")]   # the whole LMS prefix, for now
            prefixes.setdefault(student, match.group("student_id"))
            kind = stat.S_IFMT(info.external_attr >> 16)   # 0: a zip without Unix modes
            if kind not in (0, stat.S_IFREG):
                why = "a symbolic link" if kind == stat.S_IFLNK else "not a regular file"
                skipped.append(f"{member}: {why} in the zip (never followed)")
                uploads.setdefault(student, _Upload(student)).problems.append(
                    f"{base} is {why}: not imported (only regular files are graded)")
                continue
            file_id = PurePosixPath(match.group("file_id")).name
            if "." not in file_id:  # nbgrader-style patterns leave the extension out
                file_id += "".join(PurePosixPath(base).suffixes[-1:])
            raw = match.groupdict().get("timestamp") or ""
            when = _parse_time(raw) if raw else None
            upload = uploads.setdefault(student, _Upload(student))
            if raw and when is None:
                upload.problems.append(f"{base}: the LMS timestamp {raw[:40]!r} is not a time: "
                                       "graded without it (no late penalty from this file)")
            if info.file_size > MAX_FILE_BYTES:
                skipped.append(f"{member}: larger than {MAX_FILE_BYTES // 2**20} MB")
                upload.problems.append(f"{base} was not imported: larger than "
                                       f"{MAX_FILE_BYTES // 2**20} MB")
                continue
            claims.setdefault((student, file_id), []).append((when, raw, info, base))
        for (student, file_id), found in sorted(claims.items(), key=lambda kv: kv[0]):
            upload = uploads[student]
            if file_id == "timestamp.txt":
                skipped.append(f"{_newest_name(found)}: the student's own timestamp.txt (the "
                               "LMS's time is used)")
                continue
            found.sort(key=lambda f: (f[0] is not None, f[0] or _dt.datetime.min))
            newest = found[-1]
            ties = [f for f in found if f[0] == newest[0]]
            if len(ties) > 1:
                names = ", ".join(sorted(f[3] for f in ties))
                chosen = sorted(ties, key=lambda f: (f[3] != f"{file_id}", f[3]))[0]
                upload.problems.append(f"conflict: {len(ties)} files claim {file_id} with the "
                                       f"same time ({names}); graded {chosen[3]}")
                newest = chosen
            for older in found:
                if older is not newest and older not in ties:
                    upload.info.append(f"{older[3]} replaced by the newer upload {newest[3]}")
            try:
                data = zf.read(newest[2])
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as err:
                upload.problems.append(f"{newest[3]} could not be read from the zip ({err})")
                continue
            upload.files[file_id] = data
            upload.times[file_id] = newest[0]
            if newest[0] is not None and (upload.timestamp is None or newest[0] > upload.timestamp):
                upload.timestamp = newest[0]
    out = {}
    for prefix, (name, note) in _lms_names(prefixes, assignment).items():
        upload = out[name] = uploads[prefix]
        upload.original = name
        if note:
            upload.problems.insert(0, note)
        if upload.timestamp is not None:
            upload.info.append(f"submitted at {_format_time(upload.timestamp)} (the LMS file names)")
    return out


def _newest_name(found) -> str:
    return sorted(f[3] for f in found)[-1]


