"""The shipped corpora are the files their README describes, byte for byte."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assignment.char_data import CORPORA, CORPUS_DIR, load_corpus

REPO = Path(__file__).resolve().parents[1]
README = CORPUS_DIR / "README.md"


def _readme_rows():
    """file name -> (size, sha256) from the table in datasets/corpora/README.md."""
    rows = {}
    for line in README.read_text().splitlines():
        match = re.match(r"\| `([^`]+)` \|.*\| ([\d,]+) bytes, sha256 ([0-9a-f]{64}) \|", line)
        if match:
            rows[match[1]] = (int(match[2].replace(",", "")), match[3])
    return rows


def test_readme_lists_every_corpus():
    assert sorted(_readme_rows()) == sorted(CORPORA.values())


@pytest.mark.parametrize("filename", sorted(CORPORA.values()))
def test_corpus_has_the_size_and_sha256_of_its_readme_row(filename):
    data = (CORPUS_DIR / filename).read_bytes()
    size, digest = _readme_rows()[filename]
    assert len(data) == size
    assert hashlib.sha256(data).hexdigest() == digest


def test_tinyshakespeare_has_65_distinct_characters():
    assert len(set(load_corpus("tinyshakespeare"))) == 65


def test_code_corpus_starts_with_its_licence_notice():
    assert "Licence: MIT" in load_corpus("assignment_source")[:400]


def test_code_corpus_is_rebuilt_byte_for_byte_by_its_script():
    script = REPO / "datasets" / "build_code_corpus.py"
    commit = re.search(r'SNAPSHOT_COMMIT = "([0-9a-f]{40})"', script.read_text())[1]
    if subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO,
                      capture_output=True).returncode != 0:
        pytest.skip(f"this checkout does not have the snapshot commit {commit} (a shallow clone?)")
    proc = subprocess.run([sys.executable, str(script), "--check"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
