"""Building the synthetic dataset: scenes, captions, vocabulary, images, features, manifest.

``build_dataset`` is what ``python -m assignment.synthetic_coco`` (and
``rnn-assignment data``) runs. Every random draw comes from a stream seeded
by (seed, split, purpose), so the train scenes do not change when num_val
changes and the same parameters give byte-identical files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..checksums import write_manifest
from ..coco_format import CAPTIONS_FILE, SPLITS, UNK_INDEX, VOCAB_FILE, features_file, images_file, urls_file
from .captions import caption_scene
from .features import FEATURE_DIM, extract_features
from .h5files import write_h5, write_images
from .layout import DEFAULT_DIR, FILENAMES, build_params, file_sizes_mb, matching_build
from .output_folder import replace_folder
from .pca import PCA_DIM, fit_pca
from .render import render_scene
from .scenes import IMAGE_SIZE, sample_scene
from .vocabulary import build_vocab, encode_caption


def _rng(seed: int, split: str, purpose: str) -> np.random.Generator:
    """An independent stream per (split, purpose): the train scenes do not
    change when num_val changes, and the captions not when rendering does."""
    return np.random.default_rng([seed, SPLITS.index(split), ("scenes", "captions").index(purpose)])


def _log(verbose: bool, message: str) -> None:
    if verbose:
        print(message, flush=True)


def _make_split(split: str, num_images: int, seed: int, captions_per_image: int, verbose: bool):
    """Scenes, images (N, 64, 64, 3) uint8 and captions (lists of words) of one split."""
    scene_rng, caption_rng = _rng(seed, split, "scenes"), _rng(seed, split, "captions")
    scenes = [sample_scene(scene_rng) for _ in range(num_images)]
    images = np.stack([render_scene(s) for s in scenes]) if scenes else \
        np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    captions, image_idxs = [], []
    for i, scene in enumerate(scenes):
        for caption in caption_scene(scene, caption_rng, captions_per_image):
            captions.append(caption.words)
            image_idxs.append(i)
    _log(verbose, f"  {split}: {num_images} scenes rendered, {len(captions)} captions")
    return scenes, images, captions, np.array(image_idxs, dtype=np.int32)


def build_dataset(out_dir: str | Path = DEFAULT_DIR, seed: int = 231, num_train: int = 8000,
                  num_val: int = 1000, captions_per_image: int = 5, force: bool = False,
                  verbose: bool = True) -> dict:
    """Build the synthetic dataset into ``out_dir``; return a summary dict.

    If ``out_dir`` already holds a verified build with the same parameters,
    nothing is rebuilt (unless ``force``) and the summary says ``skipped``.

    Summary keys: out_dir, dataset_id, seed, num_train, num_val,
    captions_per_image, num_train_captions, num_val_captions, vocab_size,
    num_unk_tokens, feature_dim, pca_dim, seconds (per step and total),
    file_sizes_mb, total_mb, skipped.
    """
    for name, value, low in (("seed", seed, 0), ("num_train", num_train, 1), ("num_val", num_val, 1),
                             ("captions_per_image", captions_per_image, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    out_dir = Path(out_dir).resolve()
    params = build_params(int(seed), int(num_train), int(num_val), int(captions_per_image))
    dataset_id = params["dataset_id"]

    if not force:
        manifest = matching_build(out_dir, params)
        if manifest is not None:
            _log(verbose, f"The synthetic dataset in {out_dir} is complete and verified "
                          f"({dataset_id}); nothing to do. Use --force to rebuild.")
            summary = {key: manifest[key] for key in params if key != "dataset"}
            summary.update(out_dir=str(out_dir), skipped=True, file_sizes_mb=file_sizes_mb(out_dir))
            summary["total_mb"] = round(sum(summary["file_sizes_mb"].values()), 2)
            return summary

    def fill(folder: Path) -> dict:
        _log(verbose, f"Building the synthetic captioning dataset ({dataset_id}) in {out_dir} ...")
        return _build_into(folder, params, verbose)

    summary = replace_folder(out_dir, fill)
    summary["out_dir"] = str(out_dir)
    if verbose:
        _print_summary(summary)
    return summary


def _build_into(directory: Path, params: dict, verbose: bool) -> dict:
    """Write every file of the dataset into ``directory``; the summary dict."""
    start = time.perf_counter()
    seconds = {}
    seed, dataset_id, per_image = params["seed"], params["dataset_id"], params["captions_per_image"]

    # 1. Scenes, images and captions (words).
    t = time.perf_counter()
    splits = {split: _make_split(split, params[f"num_{split}"], seed, per_image, verbose)
              for split in SPLITS}
    seconds["scenes_and_captions"] = time.perf_counter() - t

    # 2. Vocabulary from the train captions only, then encode both splits.
    idx_to_word = build_vocab(splits["train"][2])
    word_to_idx = {w: i for i, w in enumerate(idx_to_word)}
    (directory / VOCAB_FILE).write_text(
        json.dumps({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}, indent=1) + "\n")
    arrays = {}
    for split, (_, _, captions, image_idxs) in splits.items():
        arrays[f"{split}_captions"] = np.stack([encode_caption(w, word_to_idx) for w in captions])
        arrays[f"{split}_image_idxs"] = image_idxs
    write_h5(directory / CAPTIONS_FILE, dataset_id, arrays)

    # 3. Images, their scene attributes and the URLs.
    t = time.perf_counter()
    for split, (scenes, images, _, _) in splits.items():
        write_images(directory / images_file(split), dataset_id, images, scenes)
        urls = "".join(f"synthetic://{split}2014/{i:06d}\n" for i in range(len(images)))
        (directory / urls_file(split)).write_text(urls)
    seconds["write_images"] = time.perf_counter() - t

    # 4. Features, then PCA fitted on train only and applied to both splits.
    t = time.perf_counter()
    raw = {split: extract_features(splits[split][1], progress=verbose, desc=f"{split} features")
           for split in SPLITS}
    seconds["features"] = time.perf_counter() - t
    _log(verbose, f"  features: {FEATURE_DIM} per image in {seconds['features']:.1f} s")
    t = time.perf_counter()
    scale = np.float32(1.0 / np.sqrt(np.mean(np.square(raw["train"], dtype=np.float64)) + 1e-12))
    mean, components = fit_pca(raw["train"])
    projected = {split: ((raw[split] - mean) @ components).astype(np.float32) for split in raw}
    # One global factor so that a PCA component has variance 1 on average:
    # h0 = features @ W_proj then starts at a sensible scale.
    pca_scale = np.float32(1.0 / np.sqrt(np.mean(np.var(projected["train"], axis=0)) + 1e-12))
    seconds["pca"] = time.perf_counter() - t
    for split in raw:
        write_h5(directory / features_file(split, pca=False), dataset_id, {"features": raw[split] * scale})
        write_h5(directory / features_file(split, pca=True), dataset_id,
                 {"features": projected[split] * pca_scale})

    # 5. The manifest last: its presence marks the folder complete.
    t = time.perf_counter()
    write_manifest(directory, FILENAMES, extra={k: v for k, v in params.items()})
    seconds["manifest"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - start

    summary = {key: value for key, value in params.items() if key != "dataset"}
    summary.update(
        num_train_captions=len(arrays["train_captions"]), num_val_captions=len(arrays["val_captions"]),
        vocab_size=len(idx_to_word),
        num_unk_tokens=int(sum((arrays[f"{split}_captions"] == UNK_INDEX).sum() for split in SPLITS)),
        feature_dim=FEATURE_DIM, pca_dim=PCA_DIM,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        file_sizes_mb=file_sizes_mb(directory), skipped=False,
    )
    summary["total_mb"] = round(sum(summary["file_sizes_mb"].values()), 2)
    return summary


def _print_summary(summary: dict) -> None:
    print(f"Done in {summary['seconds']['total']:.1f} s: {summary['out_dir']}")
    for name, mb in summary["file_sizes_mb"].items():
        print(f"  {name:32s} {mb:8.2f} MB")
    print(f"  {'total':32s} {summary['total_mb']:8.2f} MB")
    print(f"  images: {summary['num_train']} train, {summary['num_val']} val; captions: "
          f"{summary['num_train_captions']} train, {summary['num_val_captions']} val; "
          f"vocabulary: {summary['vocab_size']} words ({summary['num_unk_tokens']} <UNK> tokens)")
