#!/usr/bin/env python
"""Build ``datasets/corpora/assignment_source.txt``: the second corpus of the language model.

    python datasets/build_code_corpus.py            # writes the committed snapshot again
    python datasets/build_code_corpus.py --check    # exit 1 if the committed file differs

The character-level language model needs a text with quotes, brackets and
indentation, so that single hidden units have something to track. This
project's own Python source (the student package ``assignment/``, MIT licence,
see pyproject.toml) is such a text and may be shipped. It is read from one
fixed git commit (``SNAPSHOT_COMMIT``), not from the working tree, so the
result is byte-identical on every machine and does not change when the package
does: the files ``assignment/*.py`` of that commit, in sorted order, each
after a line ``# ==== <path> ====``, below the licence notice.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "datasets" / "corpora" / "assignment_source.txt"
SNAPSHOT_COMMIT = "4abb4d3310bb71b09bc7c0f61f7fcb586b21f022"
NOTICE = (
    "# The Python source of the student package `assignment/` of the\n"
    "# rnn-captioning-assignment project, commit {commit}.\n"
    "# Licence: MIT (the project's licence, see pyproject.toml): permission is granted,\n"
    "# free of charge, to use, copy, modify and distribute this text, provided this\n"
    "# notice is included; it is provided \"as is\", without warranty of any kind.\n"
)


def _git(*args: str) -> bytes:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        sys.exit(f"build_code_corpus: `git {' '.join(args)}` failed ({err}); run this script "
                 f"inside a clone of the project that has commit {SNAPSHOT_COMMIT}.")


def build(commit: str = SNAPSHOT_COMMIT) -> bytes:
    """The corpus bytes: the notice, then every assignment/*.py of ``commit`` in sorted order."""
    names = _git("ls-tree", "--name-only", commit, "assignment/").decode().split()
    parts = [NOTICE.format(commit=commit).encode()]
    for path in sorted(p for p in names if p.endswith(".py")):
        parts.append(f"\n# ==== {path} ====\n".encode())
        parts.append(_git("show", f"{commit}:{path}"))
    return b"".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed file instead of writing it")
    args = parser.parse_args(argv)
    data = build()
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        same = OUT.is_file() and OUT.read_bytes() == data
        print(f"{OUT.name}: {'matches' if same else 'DIFFERS from'} the snapshot ({len(data)} bytes, sha256 {digest})")
        return 0 if same else 1
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(data)} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
