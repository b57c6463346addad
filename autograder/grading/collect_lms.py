"""LMS zips for ``autograder.grading.collect``: ids from the LMS prefix only, conflicts, timestamps.

Instructor-only. ``read_zip(archive, regexp, skipped, assignment)`` reads every
member of an LMS download as bytes (never written by its path; no link
members, no special files), and groups them by the LMS's own prefix: the
pattern (default ``collect.DEFAULT_ZIP_REGEXP``) is anchored at the start of
the first path component that holds a whole prefix (``_lms_name``: folders
before it are ignored, a ``/`` or ``\\`` after it is part of the student's file
name) and the first ``_attempt_<timestamp>_`` ends the prefix, whatever the
student named the file. Among one student's files for one name the newest LMS
timestamp wins; equal times are a conflict (flagged). Two prefixes never share
a student id (``_lms_names``).
"""

from __future__ import annotations

import datetime as _dt
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .upload import (MAX_FILE_BYTES, MAX_STUDENT_BYTES, CollectError, Upload, format_time,
                     parse_time)

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


_SEP = "\x00"   # joins a member's path components while matching (no file name holds it)


def _lms_name(pattern, parts: list):
    """(name, match) of a zip member whose path components are ``parts``, or (name, None).

    The LMS's name is where the first component starts whose own text holds
    the whole LMS prefix (up to the student id): folders before it are the
    LMS's or the unzipping tool's (``/`` or a Windows ``\\``); anything after
    the prefix, separators included, is the file name the student chose, so a
    file the student called ``x\\<another student's download name>`` stays theirs.
    """
    for i in range(len(parts)):
        name = _SEP.join(parts[i:])
        match = pattern.match(name)
        if match and match.group("student_id") and match.group("file_id") \
                and _SEP not in name[:match.end("student_id")] \
                and match.group("file_id").split(_SEP)[-1]:
            return name, match
    return _SEP.join(parts[-1:]), None


def read_zip(archive: Path, regexp: str, skipped: list, assignment: str) -> dict:
    """student name -> Upload, from nbgrader's LMS naming (first _attempt_ ends the prefix)."""
    try:
        pattern = re.compile(regexp)
    except re.error as err:
        raise CollectError(f"--zip-regexp {regexp!r} is not a regular expression: {err}") from None
    if "student_id" not in pattern.groupindex or "file_id" not in pattern.groupindex:
        raise CollectError(f"--zip-regexp {regexp!r} needs the named groups (?P<student_id>...) "
                           "and (?P<file_id>...)")
    claims = {}   # (LMS prefix, file name) -> [(timestamp or None, raw timestamp, member)]
    uploads = {}  # LMS prefix -> Upload
    prefixes = {}  # LMS prefix -> the pattern's student_id
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise CollectError(f"{archive} cannot be read as a zip file: {err}") from None
    with zf:
        for info in zf.infolist():
            member = info.filename
            parts = re.split(r"[\\/]", member)
            if info.is_dir() or not parts[-1] or "__MACOSX" in parts:
                continue
            base, match = _lms_name(pattern, parts)
            if match is None:
                skipped.append(f"{member}: does not match the LMS pattern {regexp!r}")
                continue
            student = base[:match.end("student_id")]   # the whole LMS prefix, for now
            prefixes.setdefault(student, match.group("student_id"))
            kind = stat.S_IFMT(info.external_attr >> 16)   # 0: a zip without Unix modes
            if kind not in (0, stat.S_IFREG):
                why = "a symbolic link" if kind == stat.S_IFLNK else "not a regular file"
                skipped.append(f"{member}: {why} in the zip (never followed)")
                uploads.setdefault(student, Upload(student)).problems.append(
                    f"{base} is {why}: not imported (only regular files are graded)")
                continue
            file_id = match.group("file_id").split(_SEP)[-1]
            base = base.replace(_SEP, "/")
            if "." not in file_id:  # nbgrader-style patterns leave the extension out
                file_id += "".join(PurePosixPath(base).suffixes[-1:])
            raw = match.groupdict().get("timestamp") or ""
            when = parse_time(raw) if raw else None
            upload = uploads.setdefault(student, Upload(student))
            if raw and when is None:
                upload.problems.append(f"{base}: the LMS timestamp {raw[:40]!r} is not a time: "
                                       "graded without it (no late penalty from this file)")
            if info.file_size > MAX_FILE_BYTES:
                skipped.append(f"{member}: larger than {MAX_FILE_BYTES // 2**20} MB")
                upload.problems.append(f"{base} was not imported: larger than "
                                       f"{MAX_FILE_BYTES // 2**20} MB")
                continue
            claims.setdefault((student, file_id), []).append((when, raw, info, base))
        totals = {}   # LMS prefix -> bytes taken (notebooks first), as for folders
        for (student, file_id), found in sorted(claims.items(), key=lambda kv: (
                kv[0][0], not kv[0][1].lower().endswith(".ipynb"), kv[0][1])):
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
            size = newest[2].file_size
            if totals.get(student, 0) + size > MAX_STUDENT_BYTES:
                skipped.append(f"{newest[3]}: over {MAX_STUDENT_BYTES // 2**20} MB in all")
                upload.problems.append(f"{newest[3]} was not imported: the submission is over "
                                       f"{MAX_STUDENT_BYTES // 2**20} MB")
                continue
            totals[student] = totals.get(student, 0) + size
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
            upload.info.append(f"submitted at {format_time(upload.timestamp)} (the LMS file names)")
    return out


def _newest_name(found) -> str:
    return sorted(f[3] for f in found)[-1]


