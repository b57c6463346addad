"""The real-COCO downloader, against a real HTTP server on 127.0.0.1.

The server serves a small zip in the real ``coco_captioning.zip`` layout (a top
folder ``coco_captioning/`` holding the standard files), supports HTTP Range
requests and can drop the connection part-way through the first response.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import re
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from assignment.checksums import sha256_of
from assignment.data import load_coco_data
from test_data_loading import write_coco_layout

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "datasets" / "get_coco_captioning.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("get_coco_captioning", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


get_coco = _load_script()


def make_coco_zip(tmp_path, name="coco_captioning.zip", drop=()) -> bytes:
    """Bytes of a zip laid out like the course's: coco_captioning/<standard files>."""
    src = write_coco_layout(tmp_path / "zip_src" / "coco_captioning", num_train=12, num_val=6)
    (src / "train2014_images.txt").write_text("\n".join(f"COCO_train2014_{i:012d}.jpg" for i in range(12)))
    for filename in drop:
        (src / filename).unlink()
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("coco_captioning/", "")  # the directory entry real zips carry
        for file in sorted(src.iterdir()):
            archive.write(file, f"coco_captioning/{file.name}")
    return path.read_bytes()


class ZipServer:
    """HTTP server on 127.0.0.1 serving ``payload`` at /coco_captioning.zip.

    ``drop_first_after``: the first response sends only that many body bytes,
    then closes the connection. ``ignore_range``: answer 200 with the whole
    file even when a Range is asked for. ``ranges`` records the Range header
    of every request (None when absent).
    """

    def __init__(self, payload: bytes, drop_first_after=None, ignore_range=False):
        self.payload, self.drop_first_after, self.ignore_range = payload, drop_first_after, ignore_range
        self.ranges = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.ranges.append(self.headers.get("Range"))
                if self.path != "/coco_captioning.zip":
                    self.send_error(404)
                    return
                body, start = outer.payload, 0
                asked = self.headers.get("Range")
                if asked and not outer.ignore_range:
                    start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                rest = body[start:]
                if outer.drop_first_after is not None and len(outer.ranges) == 1:
                    self.wfile.write(rest[:outer.drop_first_after])
                    self.close_connection = True  # the server closes the socket mid-body
                    return
                self.wfile.write(rest)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/coco_captioning.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(payload, **kwargs):
        servers.append(ZipServer(payload, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/coco_captioning.zip"


# ------------------------------------------------------------------ the whole script

def test_download_extracts_checks_and_writes_a_manifest(tmp_path, serve, capsys):
    payload = make_coco_zip(tmp_path)
    server = serve(payload)
    out = tmp_path / "datasets" / "coco_captioning"

    assert get_coco.main(["--url", server.url, "--out", str(out), "--quiet"]) == 0

    names = sorted(p.name for p in out.iterdir())
    assert "coco2014_captions.h5" in names and "coco_captioning" not in names  # top folder flattened
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert sorted(manifest["files"]) == sorted(n for n in names if n != "MANIFEST.json")
    assert manifest["files"]["coco2014_vocab.json"]["sha256"] == sha256_of(out / "coco2014_vocab.json")
    digest = hashlib.sha256(payload).hexdigest()
    assert manifest["source_sha256"] == digest and manifest["source_sha256_verified"] is False
    assert not (tmp_path / "datasets" / "coco_captioning.zip").exists()  # zip removed after extracting
    stdout = capsys.readouterr().out
    assert digest in stdout and "not verified" in stdout  # honest about the missing checksum
    assert load_coco_data(out)["train_features"].shape == (12, 512)


def test_a_known_checksum_is_verified(tmp_path, serve, capsys):
    payload = make_coco_zip(tmp_path)
    server = serve(payload)
    digest = hashlib.sha256(payload).hexdigest()
    out = tmp_path / "coco"
    assert get_coco.main(["--url", server.url, "--out", str(out), "--sha256", digest, "--quiet"]) == 0
    assert "SHA-256 verified" in capsys.readouterr().out
    assert json.loads((out / "MANIFEST.json").read_text())["source_sha256_verified"] is True


def test_checksum_mismatch_is_a_clear_error_and_extracts_nothing(tmp_path, serve, capsys):
    server = serve(make_coco_zip(tmp_path))
    out = tmp_path / "coco"
    assert get_coco.main(["--url", server.url, "--out", str(out), "--sha256", "0" * 64, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Checksum mismatch" in err and "0" * 64 in err
    assert not out.exists()
    assert not list(tmp_path.glob("coco.zip*"))  # neither the zip nor a .part to resume from


def test_offline_exits_with_code_2_and_explains_what_to_do(tmp_path, capsys):
    out = tmp_path / "coco"
    assert get_coco.main(["--url", closed_port_url(), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Could not reach" in err and "127.0.0.1" in err
    assert "python -m assignment.synthetic_coco" in err and "offline" in err
    assert "run the same command again" in err
    assert not out.exists()


def test_offline_command_line_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", closed_port_url(), "--out", str(tmp_path / "coco")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "synthetic" in result.stderr


def test_a_zip_with_a_broken_layout_is_rejected_without_a_manifest(tmp_path, serve, capsys):
    server = serve(make_coco_zip(tmp_path, drop=["coco2014_vocab.json"]))
    out = tmp_path / "coco"
    assert get_coco.main(["--url", server.url, "--out", str(out), "--quiet"]) == 1
    assert "coco2014_vocab.json" in capsys.readouterr().err
    assert not (out / "MANIFEST.json").exists()


def test_an_existing_download_is_not_fetched_again(tmp_path, serve, capsys):
    server = serve(make_coco_zip(tmp_path))
    out = tmp_path / "coco"
    assert get_coco.main(["--url", server.url, "--out", str(out), "--quiet"]) == 0
    assert get_coco.main(["--url", server.url, "--out", str(out)]) == 0
    assert len(server.ranges) == 1 and "already there" in capsys.readouterr().out


# ------------------------------------------------------------------ download()

def test_interrupted_download_resumes_with_a_range_request(tmp_path, serve):
    payload = make_coco_zip(tmp_path)
    server = serve(payload, drop_first_after=100_000)
    dest = tmp_path / "dl" / "coco_captioning.zip"
    part = dest.with_name(dest.name + ".part")

    with pytest.raises(get_coco.NetworkError, match="run again to resume"):
        get_coco.download(server.url, dest, chunk=16_384, quiet=True)
    assert part.stat().st_size == 100_000 and not dest.exists()

    digest = get_coco.download(server.url, dest, sha256=hashlib.sha256(payload).hexdigest(),
                               chunk=16_384, quiet=True)
    assert server.ranges == [None, "bytes=100000-"]
    assert digest == hashlib.sha256(payload).hexdigest()
    assert dest.read_bytes() == payload and not part.exists()


def test_a_server_that_ignores_range_gets_a_fresh_download(tmp_path, serve):
    payload = make_coco_zip(tmp_path)
    server = serve(payload, ignore_range=True)
    dest = tmp_path / "dl" / "coco_captioning.zip"
    dest.parent.mkdir()
    dest.with_name(dest.name + ".part").write_bytes(b"stale bytes from another file")
    get_coco.download(server.url, dest, quiet=True)
    assert server.ranges == ["bytes=29-"]
    assert dest.read_bytes() == payload


def test_a_part_file_longer_than_the_download_starts_over(tmp_path, serve):
    payload = make_coco_zip(tmp_path)
    server = serve(payload)
    dest = tmp_path / "dl" / "coco_captioning.zip"
    dest.parent.mkdir()
    dest.with_name(dest.name + ".part").write_bytes(b"x" * (len(payload) + 10))
    get_coco.download(server.url, dest, quiet=True)
    assert server.ranges == [f"bytes={len(payload) + 10}-", None]
    assert dest.read_bytes() == payload


def test_http_errors_are_download_errors(tmp_path, serve):
    server = serve(b"")
    with pytest.raises(get_coco.DownloadError, match="404"):
        get_coco.download(server.url.replace("coco_captioning", "missing"), tmp_path / "x.zip", quiet=True)


# ------------------------------------------------------------------ extract()

def test_extract_flattens_the_top_folder(tmp_path):
    zip_path = tmp_path / "coco_captioning.zip"
    zip_path.write_bytes(make_coco_zip(tmp_path, name="built.zip"))
    names = get_coco.extract(zip_path, tmp_path / "out")
    assert "coco2014_captions.h5" in names and all("/" not in n for n in names)
    assert (tmp_path / "out" / "val2014_urls.txt").is_file()
    assert not (tmp_path / "out.extracting").exists()


def test_extract_refuses_paths_outside_the_folder(tmp_path):
    zip_path = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("coco_captioning/../../escape.txt", "x")
    with pytest.raises(get_coco.DownloadError, match="unsafe path"):
        get_coco.extract(zip_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_rejects_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "coco_captioning.zip"
    path.write_bytes(b"<html>Service unavailable</html>")
    with pytest.raises(get_coco.DownloadError, match="not a valid zip"):
        get_coco.extract(path, tmp_path / "out")
