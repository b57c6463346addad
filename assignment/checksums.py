"""Checksum manifests for dataset folders.

A dataset folder carries ``MANIFEST.json``: for every data file, its size in
bytes and its SHA-256. The builder writes it; the loader checks it, so a
half-written or edited file is caught with a message that names the file,
instead of surfacing later as a strange shape or a NaN loss. The messages say
what is wrong; the caller adds how to fix it (rebuild or download again).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST_NAME = "MANIFEST.json"
_CHUNK = 1 << 20


class ChecksumError(RuntimeError):
    """A data file is missing, truncated or differs from its manifest entry."""


def sha256_of(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: str | Path, filenames, extra: dict | None = None) -> Path:
    """Record size and SHA-256 of ``filenames`` (relative to ``directory``).

    ``extra`` is stored alongside (e.g. the seed and the builder version) so a
    reader can tell how the folder was made.
    """
    directory = Path(directory)
    files = {}
    for name in sorted(filenames):
        path = directory / name
        files[name] = {"bytes": path.stat().st_size, "sha256": sha256_of(path)}
    manifest = {"files": files}
    if extra:
        manifest.update(extra)
    out = directory / MANIFEST_NAME
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(out)  # atomic: a crash never leaves half a manifest
    return out


def read_manifest(directory: str | Path) -> dict | None:
    """The parsed manifest of ``directory``, or None if it has none."""
    path = Path(directory) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        manifest["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise ChecksumError(f"{path} is not a valid manifest ({err}).") from None
    return manifest


def verify_manifest(directory: str | Path, filenames=None, quick: bool = False) -> None:
    """Check files of ``directory`` against its manifest.

    ``filenames`` limits the check to those files (default: all listed).
    ``quick`` compares sizes only (cheap; catches truncation); otherwise the
    SHA-256 of each file is recomputed. Raises :class:`ChecksumError` naming
    the first file that does not match. A folder without a manifest passes
    (the real COCO download has none until it is verified).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    if manifest is None:
        return
    entries = manifest["files"]
    names = entries.keys() if filenames is None else filenames
    for name in names:
        if name not in entries:
            continue
        path = directory / name
        want = entries[name]
        if not path.exists():
            raise ChecksumError(f"{path} is listed in {directory / MANIFEST_NAME} but does not exist.")
        size = path.stat().st_size
        if size != want["bytes"]:
            raise ChecksumError(
                f"{path} has {size} bytes but the manifest says {want['bytes']}: "
                "the file is truncated or was changed."
            )
        if not quick and sha256_of(path) != want["sha256"]:
            raise ChecksumError(
                f"{path} does not match its SHA-256 in the manifest: the file is "
                "corrupt or was changed."
            )
