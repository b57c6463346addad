#!/usr/bin/env python
"""Download the real COCO captioning data (precomputed VGG-16 features).

    python datasets/get_coco_captioning.py            # into datasets/coco_captioning/
    python datasets/get_coco_captioning.py --force    # download and extract again

This fetches the ``coco_captioning.zip`` that the Stanford course distributes
(captions, vocabulary, fc7 features and their PCA-512 variant, image URLs),
about a gigabyte. Nothing else in the assignment needs it: the embedded
synthetic dataset (``python -m assignment.synthetic_coco``) works offline.
Once the folder exists, ``load_coco_data()`` picks it up automatically.

Steps, each a function the tests call on their own:
    download  resumable: bytes go to ``<zip>.part``; run again after a dropped
              connection and it asks the server for the rest (HTTP Range)
    verify    SHA-256 against ``--sha256`` / ``KNOWN_SHA256`` when one is known;
              otherwise the digest is printed and recorded, not invented
    extract   into ``--out`` (the zip's top folder is flattened), atomically
    check     ``assignment.data.load_coco_data(out)`` reads the layout
    manifest  ``MANIFEST.json`` (size and SHA-256 of every file), so later
              loads catch truncated or edited files

Exit codes: 0 done, 1 bad download or layout, 2 network unreachable.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script from a source checkout
    sys.path.insert(0, str(REPO_ROOT))

from assignment.checksums import MANIFEST_NAME, sha256_of, write_manifest  # noqa: E402
from assignment.data.folders import REAL_COCO_DIR  # noqa: E402

DEFAULT_URL = "https://cs231n.stanford.edu/coco_captioning.zip"
# The course does not publish a checksum for the zip. Once an instructor has a
# trusted copy, put its SHA-256 here (the script prints it after a download)
# so every later download is verified against it.
KNOWN_SHA256: str | None = None
CHUNK = 1 << 20  # 1 MiB
EXIT_OK, EXIT_FAILED, EXIT_NETWORK = 0, 1, 2


class DownloadError(RuntimeError):
    """The download or the archive is bad (checksum mismatch, not a zip, HTTP error)."""


class NetworkError(DownloadError):
    """The server could not be reached or the connection dropped (rerun to resume)."""


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, flush=True)


def download(url: str, dest, sha256: str | None = None, chunk: int = CHUNK,
             timeout: float = 30.0, quiet: bool = False) -> str:
    """Download ``url`` to ``dest``, resuming a previous partial download.

    Bytes are appended to ``dest + '.part'``; if that file exists, the server
    is asked only for the rest (``Range: bytes=<size>-``). A server that
    ignores the range gets a fresh download. ``dest`` appears only once the
    download is complete and, when ``sha256`` is given, matches it.

    Returns the SHA-256 hex digest of the file. Raises NetworkError when the
    host cannot be reached or the connection drops (the ``.part`` file is
    kept: call again to continue), DownloadError on an HTTP error or a
    checksum mismatch (the bad file is deleted).
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():  # a previous run finished the download
        return _verified(dest, sha256, url)  # deletes it if it does not match

    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "rnn-captioning-assignment"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        _say(f"Resuming {url} after {offset / 1e6:.1f} MB already in {part}", quiet)
    else:
        _say(f"Downloading {url}", quiet)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # our .part is not a prefix of this file: start over
            part.unlink()
            return download(url, dest, sha256, chunk, timeout, quiet)
        raise DownloadError(f"The server answered {err.code} {err.reason} for {url}.") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise NetworkError(f"Could not reach {url}: {getattr(err, 'reason', err)}.") from None

    with response:
        if offset and response.status == 206:
            mode = "ab"
        else:  # 200: whole file (a fresh start, or the server ignores Range)
            mode, offset = "wb", 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        next_report = 0.0
        try:
            with open(part, mode) as f:
                while True:
                    block = response.read(chunk)
                    if not block:
                        break
                    f.write(block)
                    received += len(block)
                    if total and not quiet and received / total >= next_report:
                        print(f"  {received / 1e6:8.1f} / {total / 1e6:.1f} MB", flush=True)
                        next_report += 0.1
        except (OSError, http.client.HTTPException) as err:
            raise NetworkError(
                f"The connection to {url} dropped after {received} bytes ({err}). "
                f"The {received} bytes are kept in {part}: run again to resume."
            ) from None
    if total is not None and received < total:
        raise NetworkError(
            f"The connection to {url} closed after {received} of {total} bytes. "
            f"They are kept in {part}: run again to resume."
        )
    digest = _verified(part, sha256, url)
    part.replace(dest)
    return digest


def _verified(path: Path, sha256: str | None, url: str) -> str:
    """SHA-256 of ``path``; a file that does not match ``sha256`` is deleted (resuming cannot fix it)."""
    digest = sha256_of(path)
    if sha256 is not None and digest != sha256.strip().lower():
        path.unlink()
        raise DownloadError(
            f"Checksum mismatch for {url}: the download has SHA-256 {digest} but "
            f"{sha256.strip().lower()} was expected. The file was deleted; run again to download it "
            "afresh, and if this repeats the file on the server has changed (pass the new "
            "digest with --sha256 only if you trust it)."
        )
    return digest


def extract(zip_path, out_dir) -> list:
    """Extract ``zip_path`` into ``out_dir`` and return the relative file names.

    A single top folder in the zip (``coco_captioning/...``) is flattened, so
    the files land directly in ``out_dir``. Files go to a temporary sibling
    folder first and ``out_dir`` is replaced only when everything is out.
    """
    zip_path, out_dir = Path(zip_path), Path(out_dir)
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as err:
        raise DownloadError(
            f"{zip_path} is not a valid zip archive ({err}). Delete it and run again."
        ) from None
    with archive:
        members = [m for m in archive.infolist()
                   if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
        parts = [PurePosixPath(m.filename).parts for m in members]
        for m, p in zip(members, parts):
            if PurePosixPath(m.filename).is_absolute() or ".." in p:
                raise DownloadError(f"{zip_path} contains an unsafe path {m.filename!r}; not extracting.")
        tops = {p[0] for p in parts}
        strip = 1 if len(tops) == 1 and all(len(p) > 1 for p in parts) else 0

        staging = out_dir.with_name(out_dir.name + ".extracting")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        names = []
        for m, p in zip(members, parts):
            name = "/".join(p[strip:])
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(m) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
            names.append(name)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.replace(out_dir)
    return sorted(names)


def _offline_message(err: Exception) -> str:
    return (
        f"\nDownload failed: {err}\n\n"
        "The real COCO features need internet access (roughly 1 GB from the course server).\n"
        "You do not need them to do the assignment: the embedded synthetic dataset works\n"
        "offline and is what load_coco_data() uses by default:\n"
        "    python -m assignment.synthetic_coco\n\n"
        "To retry the COCO download later, run the same command again;\n"
        "a partial download is kept and resumed where it stopped."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Download the precomputed COCO captioning features into datasets/coco_captioning/.")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"zip to download (default: {DEFAULT_URL})")
    parser.add_argument("--out", type=Path, default=REAL_COCO_DIR,
                        help=f"folder to extract into (default: {REAL_COCO_DIR})")
    parser.add_argument("--sha256", default=KNOWN_SHA256,
                        help="expected SHA-256 of the zip (default: the known one, if any)")
    parser.add_argument("--force", action="store_true", help="download and extract even if --out exists")
    parser.add_argument("--keep-zip", action="store_true", help="keep the zip after extracting")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the summary")
    args = parser.parse_args(argv)

    from assignment.data import DataError, load_coco_data

    out: Path = args.out
    zip_path = out.with_name(out.name + ".zip")  # the .part file sits next to it while downloading
    if out.exists() and not args.force:
        if (out / MANIFEST_NAME).exists():
            print(f"{out} is already there (use --force to download it again).")
            return EXIT_OK
        print(
            f"{out} exists but has no {MANIFEST_NAME}: it was not made by this script, or a "
            "previous run stopped before checking it. Run again with --force to replace it.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if args.force and zip_path.exists():
        zip_path.unlink()  # a partial .part is still resumed
    try:
        digest = download(args.url, zip_path, sha256=args.sha256, quiet=args.quiet)
    except NetworkError as err:
        print(_offline_message(err), file=sys.stderr)
        return EXIT_NETWORK
    except DownloadError as err:
        print(f"Download failed: {err}", file=sys.stderr)
        return EXIT_FAILED
    if args.sha256:
        print(f"SHA-256 verified: {digest}")
    else:
        print(
            f"SHA-256 of the download: {digest}\n"
            "No published checksum is known for this file, so it was not verified against one.\n"
            f"It is recorded in {out / MANIFEST_NAME} (source_sha256); pass it with --sha256 "
            "to check later downloads."
        )

    try:
        names = extract(zip_path, out)
    except DownloadError as err:
        print(f"Extraction failed: {err}", file=sys.stderr)
        return EXIT_FAILED
    try:
        data = load_coco_data(out)  # raises DataError naming the file if the layout is off
    except DataError as err:
        print(f"The downloaded data does not have the expected layout: {err}", file=sys.stderr)
        return EXIT_FAILED
    write_manifest(out, names, extra={
        "source_url": args.url,
        "source_sha256": digest,
        "source_sha256_verified": bool(args.sha256),
        "downloaded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
    if not args.keep_zip:
        zip_path.unlink()
    print(
        f"COCO captioning data ready in {out}: {data['train_captions'].shape[0]} train / "
        f"{data['val_captions'].shape[0]} val captions, {data['train_features'].shape[0]} / "
        f"{data['val_features'].shape[0]} images, {len(data['idx_to_word'])} words."
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
