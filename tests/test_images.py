"""Real COCO images come from URLs, many dead: a picture never stops a Run All.

A real HTTP server on 127.0.0.1 serves one real PNG, answers 404 for a dead
link, and never answers for a hanging one; the images that cannot be had become
placeholders that carry the reason, and the plots write that reason on them.
"""

from __future__ import annotations

import http.server
import io
import socket
import threading

import matplotlib
import numpy as np
import pytest

from assignment.data import DataError, load_coco_data, load_images
from assignment.images import ImagePlaceholder, fetch_images
from assignment.plots import show_captioned_images, show_image_with_captions
from test_data_loading import write_coco_layout

matplotlib.use("Agg")


class _Handler(http.server.BaseHTTPRequestHandler):
    png = b""
    release = threading.Event()

    def do_GET(self):
        if self.path.startswith("/hang"):  # accepts, then never answers (until the test ends)
            self.release.wait(30)
            return
        if self.path == "/photo.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(self.png)))
            self.end_headers()
            self.wfile.write(self.png)
            return
        if self.path == "/garbage.jpg":
            body = b"<html>this is not a picture</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_error(404, "Not Found")

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_flickr():
    import matplotlib.image as mpimg

    buffer = io.BytesIO()
    mpimg.imsave(buffer, np.full((6, 9, 3), 0.4), format="png")
    _Handler.png = buffer.getvalue()
    _Handler.release = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Handler.release.set()
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_and_slow_links_become_placeholders_with_their_reason(tmp_path, flaky_flickr, capsys):
    base = flaky_flickr
    urls = [f"{base}/photo.png", f"{base}/gone/123.jpg", f"{base}/hang/9.jpg",
            f"http://127.0.0.1:{_closed_port()}/x.jpg", f"{base}/garbage.jpg"] * 4
    data = load_coco_data(write_coco_layout(tmp_path / "real", urls={"val": urls}))
    images = load_images(data, "val", [0, 1, 2, 3, 4], timeout=0.5)

    assert len(images) == 5
    photo = images[0]
    assert not isinstance(photo, ImagePlaceholder)
    assert photo.shape == (6, 9, 3) and photo.dtype == np.uint8 and photo[0, 0, 0] == 102
    gone, hang, refused, garbage = images[1:]
    assert all(isinstance(im, ImagePlaceholder) for im in (gone, hang, refused, garbage))
    assert all(im.dtype == np.uint8 and im.ndim == 3 and im.shape[2] == 3
               for im in (gone, hang, refused, garbage))
    assert gone.reason == "HTTP 404 Not Found" and gone.url == urls[1]
    assert "no answer within 0.5 s" in hang.reason
    assert "refused" in refused.reason
    assert "not a readable image" in garbage.reason
    # one line says what happened, with no traceback
    out = capsys.readouterr().out
    assert "4 of 5 images could not be downloaded" in out and "placeholders" in out


def test_the_old_error_is_still_there_for_who_asks_for_it(tmp_path, flaky_flickr):
    data = load_coco_data(write_coco_layout(
        tmp_path / "real", urls={"train": [f"{flaky_flickr}/gone/{i}.jpg" for i in range(40)]}))
    with pytest.raises(DataError, match=r"3\.jpg \(HTTP 404 Not Found\).*internet"):
        load_images(data, "train", [3], placeholders=False)


def test_images_are_downloaded_side_by_side(flaky_flickr):
    # The server answers /together/* only once all eight requests are in: one at a time,
    # the first would wait for the others and time out. Side by side (so that many dead or
    # slow links cost about one timeout, not one each), all eight arrive and are served.
    barrier = threading.Barrier(8)
    original = _Handler.do_GET

    def together(self):
        if self.path.startswith("/together/"):
            try:
                barrier.wait(timeout=15)
            except threading.BrokenBarrierError:
                self.send_error(503, "Alone")
                return
            self.path = "/photo.png"
        original(self)

    _Handler.do_GET = together
    try:
        images = fetch_images([f"{flaky_flickr}/together/{i}.png" for i in range(8)], timeout=10)
    finally:
        _Handler.do_GET = original
    assert [getattr(im, "reason", "") for im in images] == [""] * 8
    assert all(im.shape == (6, 9, 3) for im in images)


def test_a_placeholder_shows_its_reason_in_the_plots():
    placeholder = ImagePlaceholder("HTTP 404 Not Found", "http://farm4.staticflickr.com/1/abc.jpg")
    fig = show_image_with_captions(placeholder, "a dog", [["a", "dog"]])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("image not available" in t and "HTTP 404 Not Found" in t and "abc.jpg" in t
               for t in texts), texts
    real = np.zeros((4, 4, 3), dtype=np.uint8)
    fig = show_captioned_images([real, placeholder], ["a", "b"], [[["a"]], [["b"]]])
    assert [len(ax.texts) for ax in fig.axes[:2]] == [0, 1]
    # slicing or copying a placeholder keeps the reason
    assert placeholder.copy().reason == "HTTP 404 Not Found"
