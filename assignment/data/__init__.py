"""Loading the captioning data: real COCO or the embedded synthetic dataset.

Both live in the standard COCO captioning layout (``assignment.coco_format``,
the one Stanford's CS231n assignment uses), so the same cells work on either::

    data = load_coco_data(max_train=5000)                 # dict of arrays, see its docstring
    captions, features, urls = sample_coco_minibatch(data, batch_size=100)
    print(decode_captions(captions[:3], data["idx_to_word"]))
    images = load_images(data, "val", [0, 1, 2])

One module per step:
    folders        which folder is read (``resolve_data_dir``), DataError and how to fix one
    readers        each file read and checked at the boundary
    loading        ``load_coco_data``: the files read and checked against each other
    batches        ``sample_coco_minibatch``
    captions       ``decode_captions``, ``caption_tokens``, ``references_by_image``
    image_loading  ``load_images``

A missing or corrupt file, a wrong key, dtype or shape, a caption word outside
the vocabulary or files from two different datasets raise :class:`DataError`
naming the file, the problem and the command that fixes it.
"""

from .batches import sample_coco_minibatch
from .captions import caption_tokens, decode_captions, references_by_image
from .folders import DataError, resolve_data_dir
from .image_loading import load_images
from .loading import load_coco_data

__all__ = [
    "DataError", "resolve_data_dir", "load_coco_data", "sample_coco_minibatch", "decode_captions",
    "caption_tokens", "references_by_image", "load_images",
]
