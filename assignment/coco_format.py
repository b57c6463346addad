"""The COCO captioning data format: file names, caption rows and special tokens.

The real COCO captioning data (the layout Stanford's CS231n assignment uses)
and the synthetic dataset share these files::

    coco2014_captions.h5        {split}_captions (M, 17) int32, {split}_image_idxs (M,) int32
    coco2014_vocab.json         {"idx_to_word": [...], "word_to_idx": {...}}
    {split}2014_vgg16_fc7.h5    features (N, D) float32
    {split}2014_vgg16_fc7_pca.h5  features (N, 512) float32
    {split}2014_urls.txt        one image URL per feature row
    {split}2014_images.h5       images (N, H, W, 3) uint8 (synthetic data only)

A caption row is ``<START> w1 .. wk <END> <NULL> ...``: at most MAX_WORDS
words, CAPTION_LENGTH tokens in all. Every vocabulary starts with the special
tokens in this order, so their indices are the same everywhere.

The loader (``assignment.data``), the builder (``assignment.synthetic_coco``)
and the autograder's captioning cases read these names from here.
"""

from __future__ import annotations

SPLITS = ("train", "val")

CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"

MAX_WORDS = 15                  # words between <START> and <END>
CAPTION_LENGTH = MAX_WORDS + 2  # tokens per caption row

SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
NULL_TOKEN, START_TOKEN, END_TOKEN, UNK_TOKEN = SPECIAL_TOKENS
# Their indices: <NULL> (padding, masked out of the loss) is 0.
NULL_INDEX, START_INDEX, END_INDEX, UNK_INDEX = range(len(SPECIAL_TOKENS))


def features_file(split: str, pca: bool) -> str:
    """File name of the VGG-16 fc7 features of ``split`` (PCA-512 variant if ``pca``)."""
    return f"{split}2014_vgg16_fc7{'_pca' if pca else ''}.h5"


def urls_file(split: str) -> str:
    """File name of the image URLs of ``split``, one per feature row."""
    return f"{split}2014_urls.txt"


def images_file(split: str) -> str:
    """File name of the rendered images of ``split`` (synthetic data only)."""
    return f"{split}2014_images.h5"


def check_split(split) -> str:
    """``split`` if it is 'train' or 'val'; a ValueError saying so otherwise."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return split
