"""Downloading the images of real COCO, which live at their (Flickr) URLs.

Many of those URLs are dead, and networks can be slow or absent. A picture is
never worth stopping a notebook's Run All: ``fetch_images`` returns a grey
``ImagePlaceholder`` that carries the reason for every image it could not get,
and ``assignment.plots`` draws the reason where the image would be.

    images = fetch_images(urls, timeout=10)      # downloads in parallel
    [getattr(im, "reason", None) for im in images]
"""

from __future__ import annotations

import io
import socket
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

DEFAULT_TIMEOUT = 10.0          # seconds per image, for the whole download
MAX_BYTES = 50 * 2**20          # no COCO image is near this
PLACEHOLDER_SHAPE = (120, 160, 3)

__all__ = ["ImageUnavailable", "ImagePlaceholder", "download_image", "fetch_images",
           "DEFAULT_TIMEOUT"]


class ImageUnavailable(Exception):
    """An image could not be downloaded or decoded; ``reason`` says why, in a few words."""

    def __init__(self, url, reason):
        super().__init__(f"{url}: {reason}")
        self.url, self.reason = url, reason


class ImagePlaceholder(np.ndarray):
    """A grey uint8 (H, W, 3) image standing in for one that could not be downloaded.

    ``reason`` says why (e.g. "HTTP 404 Not Found", "no answer within 10 s"), ``url`` where
    it was looked for. It is an ordinary image array otherwise, so code that draws or stacks
    images keeps working; ``assignment.plots`` writes the reason on it.
    """

    reason: str = ""
    url: str = ""

    def __new__(cls, reason, url="", shape=PLACEHOLDER_SHAPE):
        image = np.full(shape, 215, dtype=np.uint8).view(cls)
        image.reason, image.url = str(reason), str(url)
        return image

    def __array_finalize__(self, obj):
        self.reason = getattr(obj, "reason", "")
        self.url = getattr(obj, "url", "")

    def describe(self, width=28):
        """The text drawn on the placeholder."""
        name = Path(urllib.parse.urlparse(self.url).path).name
        lines = ["image not available", textwrap.fill(self.reason, width)]
        if name:
            lines.append(textwrap.shorten(name, width, placeholder="..."))
        return "\n".join(lines)


def _reason(err) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}".strip()
    reason = getattr(err, "reason", err)
    if isinstance(reason, (TimeoutError, socket.timeout)) or isinstance(err, TimeoutError):
        return "no answer in time (slow or no network)"
    if isinstance(reason, socket.gaierror):
        return "no network (the host name could not be resolved)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return str(reason) or type(err).__name__


def _read(url, timeout) -> bytes:
    """The body at ``url``, within ``timeout`` seconds for the whole download."""
    deadline = time.monotonic() + timeout
    with urllib.request.urlopen(url, timeout=timeout) as response:
        chunks, size = [], 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            # read1: what one receive brings (bounded by the socket's timeout), so that a
            # server trickling bytes cannot hold us much past the deadline
            chunk = response.read1(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BYTES:
                raise ImageUnavailable(url, f"larger than {MAX_BYTES // 2**20} MiB")


def download_image(url: str, timeout: float = DEFAULT_TIMEOUT) -> np.ndarray:
    """Download one image and decode it to uint8 (H, W, 3); raises ImageUnavailable."""
    import matplotlib.image as mpimg

    try:
        payload = _read(url, timeout)
    except ImageUnavailable:
        raise
    except TimeoutError:
        raise ImageUnavailable(url, f"no answer within {timeout:g} s (slow or no network)") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = _reason(err)
        if reason.startswith("no answer"):
            reason = f"no answer within {timeout:g} s (slow or no network)"
        raise ImageUnavailable(url, reason) from None
    suffix = Path(urllib.parse.urlparse(url).path).suffix.lower().lstrip(".") or None
    try:
        image = mpimg.imread(io.BytesIO(payload), format=suffix)
    except Exception as err:  # Pillow/PNG decoders raise many kinds
        raise ImageUnavailable(url, f"not a readable image ({err})") from None
    if image.dtype != np.uint8:  # PNGs decode to floats in [0, 1]
        image = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    if image.ndim == 2:  # greyscale: repeat into three channels
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]  # drop alpha


def fetch_images(urls, timeout: float = DEFAULT_TIMEOUT, placeholders: bool = True) -> list:
    """Download ``urls`` in parallel: a list of uint8 (H_i, W_i, 3) images, in order.

    An image that cannot be had within ``timeout`` seconds becomes an ImagePlaceholder
    with the reason (or, with ``placeholders=False``, the first failure is raised as
    ImageUnavailable). With many dead links the whole call still takes about one timeout.
    """
    urls = [str(u) for u in urls]
    if not urls:
        return []
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}.")

    def one(url):
        try:
            return download_image(url, timeout)
        except ImageUnavailable as err:
            return err

    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        results = list(pool.map(one, urls))
    failures = [r for r in results if isinstance(r, ImageUnavailable)]
    if failures and not placeholders:
        raise failures[0]
    if failures:
        print(f"{len(failures)} of {len(urls)} images could not be downloaded and are shown as "
              f"grey placeholders ({failures[0].reason}{', ...' if len(failures) > 1 else ''}).")
    return [ImagePlaceholder(r.reason, r.url) if isinstance(r, ImageUnavailable) else r
            for r in results]
