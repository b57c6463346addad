"""The embedded synthetic captioning dataset (the package assignment/synthetic_coco/).

Most tests share one small real build (300 train / 60 val images) in a
temporary folder; a few make their own tiny builds. Nothing is mocked except
the one crash that a test injects on purpose.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from assignment import synthetic_coco as sc
from assignment.checksums import ChecksumError, read_manifest, verify_manifest
from assignment.coco_format import END_INDEX, NULL_INDEX, START_INDEX, UNK_INDEX
from assignment.synthetic_coco import build as build_module
from assignment.synthetic_coco import captions as captions_module
from assignment.synthetic_coco import render as render_module
from assignment.synthetic_coco.captions import TEMPLATES, caption_scene, describe_scene
from assignment.synthetic_coco.features import FEATURE_DIM, extract_features
from assignment.synthetic_coco.layout import FILENAMES
from assignment.synthetic_coco.render import render_scene
from assignment.synthetic_coco.scenes import (
    BACKGROUND_RGB, BACKGROUNDS, COLOR_RGB, COLORS, SHAPES, SIZES, Scene, SceneObject, sample_scene,
    scene_from_attributes,
)
from assignment.synthetic_coco.vocabulary import MIN_WORD_COUNT, build_vocab, encode_caption
from assignment.synthetic_coco.words import SYNONYMS, plural

REPO = Path(__file__).resolve().parent.parent
NUM_TRAIN, NUM_VAL, PER_IMAGE = 300, 60, 5


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(folder, summary) of one small build shared by the read-only tests."""
    out = tmp_path_factory.mktemp("synthetic") / "synthetic_coco"
    summary = sc.build_dataset(out_dir=out, num_train=NUM_TRAIN, num_val=NUM_VAL, verbose=False)
    return out, summary


def _load_probe_module():
    spec = importlib.util.spec_from_file_location("feature_probe", REPO / "datasets" / "feature_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _decoded_captions(folder: Path, split: str):
    """[(image index, [words])] of a split, <UNK> kept, special tokens dropped."""
    vocab = json.loads((folder / "coco2014_vocab.json").read_text())
    with h5py.File(folder / "coco2014_captions.h5", "r") as f:
        captions, idxs = f[f"{split}_captions"][:], f[f"{split}_image_idxs"][:]
    words = vocab["idx_to_word"]
    return [(int(i), [words[t] for t in row if t > END_INDEX]) for row, i in zip(captions, idxs)]


def _scenes(folder: Path, split: str) -> list[Scene]:
    with h5py.File(folder / f"{split}2014_images.h5", "r") as f:
        attrs = {k: f["attributes"][k][:] for k in f["attributes"]}
    return [scene_from_attributes(attrs, i) for i in range(len(attrs["num_objects"]))]


# --- what a caption claims, checked against the scene ----------------------

# word -> (kind, value) for every attribute word a caption can contain, e.g.
# LEXICON["box"] == ("shape", "square"), LEXICON["grey"] == ("background", "gray").
LEXICON = {form: (kind, value) for (kind, value), (common, rare) in SYNONYMS.items()
           for word in common + rare for form in ((word, plural(word)) if kind == "shape" else (word,))}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3}
_PLURAL_GENERIC = {"shapes", "objects"}
_POSITION_WORDS = {"left", "right", "top", "bottom", "center", "middle"}


def _caption_problems(words: list[str], scene: Scene) -> list[str]:
    """Claims of a caption that are false of the scene (empty list: all true).

    Checks every colour, shape, size and background word, every count
    ("two red circles" means exactly two red circles), and, for one-object
    scenes, every position word.
    """
    problems = []
    colors = {COLORS[o.color] for o in scene.objects}
    shapes = {SHAPES[o.shape] for o in scene.objects}
    sizes = {SIZES[o.size] for o in scene.objects}
    for word in words:
        kind, value = LEXICON.get(word, (None, None))
        if kind == "color" and value not in colors:
            problems.append(f"colour {word!r} but colours are {colors}")
        if kind == "shape" and value not in shapes:
            problems.append(f"shape {word!r} but shapes are {shapes}")
        if kind == "size" and value not in sizes:
            problems.append(f"size {word!r} but sizes are {sizes}")
        if kind == "background" and value != BACKGROUNDS[scene.background]:
            problems.append(f"background {word!r} but it is {BACKGROUNDS[scene.background]}")
    for k, word in enumerate(words):
        if word not in ("two", "three"):
            continue
        color = shape = size = None
        distinct = False
        for follower in words[k + 1:]:
            kind, value = LEXICON.get(follower, (None, None))
            if follower == "different":
                distinct = True
            elif kind == "size":
                size = SIZES.index(value)
            elif kind == "color":
                color = COLORS.index(value)
            elif kind == "shape" or follower in _PLURAL_GENERIC:
                shape = SHAPES.index(value) if kind == "shape" else None
                break
            else:
                problems.append(f"unexpected word {follower!r} after {word!r}")
                break
        count = sum(captions_module._matches(o, color, shape, size) for o in scene.objects)
        if count != NUMBER_WORDS[word]:
            problems.append(f"says {word} but {count} objects match")
        if distinct and len(shapes) != len(scene.objects):
            problems.append("says different shapes but two share a shape")
        if words[k + 2:k + 5] == ["of", "different", "colors"] and len(colors) != len(scene.objects):
            problems.append("says different colors but two share a colour")
    if len(scene.objects) == 1:
        obj = scene.objects[0]
        truth = {"left": obj.col == 0, "right": obj.col == 2, "top": obj.row == 0,
                 "bottom": obj.row == 2, "center": (obj.row, obj.col) == (1, 1), "middle": obj.col == 1}
        problems += [f"position word {w!r} is false" for w in words if w in _POSITION_WORDS and not truth[w]]
    return problems


# --- layout -----------------------------------------------------------------

def test_build_writes_exactly_the_coco_layout_files(built):
    folder, _ = built
    assert sorted(p.name for p in folder.iterdir()) == sorted([*FILENAMES, "MANIFEST.json"])
    assert set(FILENAMES) == {
        "coco2014_captions.h5", "coco2014_vocab.json",
        "train2014_vgg16_fc7.h5", "train2014_vgg16_fc7_pca.h5", "train2014_urls.txt", "train2014_images.h5",
        "val2014_vgg16_fc7.h5", "val2014_vgg16_fc7_pca.h5", "val2014_urls.txt", "val2014_images.h5",
    }


def test_caption_file_has_the_coco_keys_dtypes_and_shapes(built):
    folder, _ = built
    with h5py.File(folder / "coco2014_captions.h5", "r") as f:
        assert set(f.keys()) == {"train_captions", "train_image_idxs", "val_captions", "val_image_idxs"}
        for split, n in (("train", NUM_TRAIN), ("val", NUM_VAL)):
            captions, idxs = f[f"{split}_captions"], f[f"{split}_image_idxs"]
            assert captions.dtype == np.int32 and captions.shape == (n * PER_IMAGE, 17)
            assert idxs.dtype == np.int32 and idxs.shape == (n * PER_IMAGE,)
            # every image has exactly PER_IMAGE captions
            assert np.array_equal(np.bincount(idxs[:], minlength=n), np.full(n, PER_IMAGE))


def test_feature_files_have_raw_and_pca_features(built):
    folder, _ = built
    for split, n in (("train", NUM_TRAIN), ("val", NUM_VAL)):
        with h5py.File(folder / f"{split}2014_vgg16_fc7.h5", "r") as f:
            assert list(f.keys()) == ["features"]
            assert f["features"].dtype == np.float32 and f["features"].shape == (n, FEATURE_DIM)
            assert FEATURE_DIM > 512 and np.isfinite(f["features"][:]).all()
        with h5py.File(folder / f"{split}2014_vgg16_fc7_pca.h5", "r") as f:
            assert list(f.keys()) == ["features"]
            assert f["features"].dtype == np.float32 and f["features"].shape == (n, 512)


def test_pca_is_fitted_on_train_only(built):
    folder, _ = built
    with h5py.File(folder / "train2014_vgg16_fc7_pca.h5", "r") as f:
        train = f["features"][:].astype(np.float64)
    with h5py.File(folder / "val2014_vgg16_fc7_pca.h5", "r") as f:
        val = f["features"][:].astype(np.float64)
    # centred with the train mean: exactly zero mean on train, not on val
    assert np.abs(train.mean(axis=0)).max() < 1e-3
    assert np.abs(val.mean(axis=0)).max() > 1e-2
    # components in decreasing order of train variance
    variances = train.var(axis=0)[:50]
    assert np.all(np.diff(variances) <= 1e-4 * variances[0])


def test_images_file_holds_images_and_scene_attributes(built):
    folder, _ = built
    with h5py.File(folder / "val2014_images.h5", "r") as f:
        images = f["images"]
        assert images.dtype == np.uint8 and images.shape == (NUM_VAL, 64, 64, 3)
        assert images.compression == "gzip" and images.chunks == (1, 64, 64, 3)
        attrs = f["attributes"]
        for key in ("num_objects", "background"):
            assert attrs[key].shape == (NUM_VAL,)
        for key in ("color", "shape", "size", "row", "col", "center_x", "center_y"):
            assert attrs[key].shape == (NUM_VAL, 3)
            # -1 exactly where there is no object
            present = np.arange(3)[None, :] < attrs["num_objects"][:][:, None]
            assert np.array_equal(attrs[key][:] >= 0, present)
        assert json.loads(attrs.attrs["color_names"]) == list(COLORS)
        assert json.loads(attrs.attrs["shape_names"]) == list(SHAPES)
        # the stored image is the rendering of the stored scene
        scene = scene_from_attributes(attrs, 7)
        assert np.array_equal(images[7], render_scene(scene))


def test_url_files_have_one_line_per_image(built):
    folder, _ = built
    for split, n in (("train", NUM_TRAIN), ("val", NUM_VAL)):
        lines = (folder / f"{split}2014_urls.txt").read_text().splitlines()
        assert lines == [f"synthetic://{split}2014/{i:06d}" for i in range(n)]


def test_every_h5_file_carries_the_same_dataset_id(built):
    folder, summary = built
    ids = set()
    for name in FILENAMES:
        if name.endswith(".h5"):
            with h5py.File(folder / name, "r") as f:
                ids.add(f.attrs["dataset_id"])
    assert ids == {summary["dataset_id"]}
    assert "seed231" in summary["dataset_id"] and f"train{NUM_TRAIN}" in summary["dataset_id"]


# --- captions and vocabulary ------------------------------------------------

def test_caption_rows_are_start_words_end_then_null_padding(built):
    folder, summary = built
    with h5py.File(folder / "coco2014_captions.h5", "r") as f:
        for split in ("train", "val"):
            captions = f[f"{split}_captions"][:]
            assert (captions[:, 0] == START_INDEX).all()
            assert ((captions >= 0) & (captions < summary["vocab_size"])).all()
            is_end = captions == END_INDEX
            assert (is_end.sum(axis=1) == 1).all(), "exactly one <END> per row"
            end = is_end.argmax(axis=1)
            assert (end >= 2).all() and (end <= 16).all(), "1 to 15 words"
            after_end = np.arange(17)[None, :] > end[:, None]
            assert (captions[after_end] == NULL_INDEX).all(), "<NULL> after <END>"
            before_end = np.arange(17)[None, :] < end[:, None]
            assert (captions[before_end] != NULL_INDEX).all(), "no <NULL> before <END>"
            assert (captions[:, 1:] != START_INDEX).all(), "<START> only in front"
            assert (captions != UNK_INDEX).mean() > 0.99


def test_vocabulary_json_is_consistent_and_in_coco_order(built):
    folder, summary = built
    vocab = json.loads((folder / "coco2014_vocab.json").read_text())
    idx_to_word, word_to_idx = vocab["idx_to_word"], vocab["word_to_idx"]
    assert idx_to_word[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    assert len(idx_to_word) == len(set(idx_to_word)) == len(word_to_idx) == summary["vocab_size"]
    assert all(word_to_idx[w] == i for i, w in enumerate(idx_to_word))
    # words by decreasing train frequency, ties alphabetical
    with h5py.File(folder / "coco2014_captions.h5", "r") as f:
        counts = np.bincount(f["train_captions"][:].ravel(), minlength=len(idx_to_word))
    order = [(-counts[i], w) for i, w in enumerate(idx_to_word)][4:]
    assert order == sorted(order)
    assert counts[4:].min() >= MIN_WORD_COUNT


def test_rare_words_become_unk():
    captions = [["a", "red", "circle"]] * 5 + [["a", "crimson", "circle"]]
    idx_to_word = build_vocab(captions, min_count=5)
    assert idx_to_word == ["<NULL>", "<START>", "<END>", "<UNK>", "a", "circle", "red"]
    word_to_idx = {w: i for i, w in enumerate(idx_to_word)}
    row = encode_caption(["a", "crimson", "circle"], word_to_idx)
    assert row.tolist() == [1, 4, 3, 5, 2] + [0] * 12


def test_unk_occurs_in_the_built_captions(built):
    folder, summary = built
    assert summary["num_unk_tokens"] > 0
    with h5py.File(folder / "coco2014_captions.h5", "r") as f:
        assert (f["train_captions"][:] == UNK_INDEX).any()


def test_built_captions_are_true_of_their_scenes(built):
    folder, _ = built
    for split in ("train", "val"):
        scenes = _scenes(folder, split)
        for image, words in _decoded_captions(folder, split):
            problems = _caption_problems(words, scenes[image])
            assert not problems, f"{split} image {image}: {' '.join(words)!r}: {problems}"


def test_grammar_captions_are_true_and_short_on_many_scenes():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        scene = sample_scene(rng)
        caption = describe_scene(scene, rng)
        assert 1 <= len(caption.words) <= 15
        assert not _caption_problems(caption.words, scene), (caption, scene)


def test_relation_words_agree_with_positions():
    """'a r b' must hold for every relation r between the two described objects."""
    holds = {
        "left": lambda a, b: a.col < b.col, "right": lambda a, b: a.col > b.col,
        "above": lambda a, b: a.row < b.row, "below": lambda a, b: a.row > b.row,
        "under": lambda a, b: a.row > b.row, "beneath": lambda a, b: a.row > b.row,
        "next": lambda a, b: abs(a.row - b.row) + abs(a.col - b.col) == 1,
        "beside": lambda a, b: abs(a.row - b.row) + abs(a.col - b.col) == 1,
    }
    rng = np.random.default_rng(1)
    checked = 0
    for cell_a, cell_b in [(0, 1), (0, 8), (4, 1), (6, 2), (3, 5), (7, 4)]:
        # distinct colours and shapes: any colour or shape word names one object
        a = SceneObject(color=0, shape=0, size=1, row=cell_a // 3, col=cell_a % 3, x=0, y=0)
        b = SceneObject(color=2, shape=3, size=1, row=cell_b // 3, col=cell_b % 3, x=0, y=0)
        scene = Scene(background=1, objects=(a, b))
        for _ in range(300):
            caption = describe_scene(scene, rng)
            if caption.template not in ("relation", "definite_relation"):
                continue
            words = caption.words
            k = next(i for i, w in enumerate(words) if w in holds)
            named = [LEXICON[w] for w in words if w in LEXICON and LEXICON[w][0] in ("color", "shape")]
            first = a if named[0][1] in ("red", "circle") else b
            second = b if first is a else a
            assert holds[words[k]](first, second), f"{' '.join(words)!r} is false ({a}, {b})"
            checked += 1
    assert checked > 200


def test_captions_have_variety(built):
    folder, _ = built
    captions = [" ".join(words) for _, words in _decoded_captions(folder, "train")]
    assert len(set(captions)) > 0.6 * len(captions)
    rng = np.random.default_rng(2)
    templates = {c.template for _ in range(300) for c in caption_scene(sample_scene(rng), rng)}
    assert templates == set(TEMPLATES)
    words = {w for c in captions for w in c.split()}
    for needed in ("left", "above", "below", "next", "two", "three", "big", "large", "small", "tiny",
                   "box", "disc", "corner", "background"):
        assert needed in words, f"{needed!r} never occurs in the train captions"


def test_captions_of_one_image_are_mostly_distinct(built):
    folder, _ = built
    by_image: dict[int, set] = {}
    for image, words in _decoded_captions(folder, "train"):
        by_image.setdefault(image, set()).add(" ".join(words))
    assert np.mean([len(v) for v in by_image.values()]) > 4.5


# --- rendering --------------------------------------------------------------

def test_render_scene_draws_the_object_on_the_background():
    obj = SceneObject(color=COLORS.index("blue"), shape=SHAPES.index("square"),
                         size=1, row=0, col=2, x=53, y=11)
    image = render_scene(Scene(background=BACKGROUNDS.index("white"), objects=(obj,)))
    assert image.dtype == np.uint8 and image.shape == (64, 64, 3)
    assert np.array_equal(image[11, 53], COLOR_RGB[COLORS.index("blue")].astype(np.uint8))
    assert np.array_equal(image[50, 10], BACKGROUND_RGB[BACKGROUNDS.index("white")].astype(np.uint8))


def test_shapes_are_distinct_masks():
    masks = [(render_module._TEMPLATES[(s, 1)] > 0.5) for s in range(len(SHAPES))]
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            differ = np.mean(masks[i] != masks[j])
            assert differ > 0.05, f"{SHAPES[i]} and {SHAPES[j]} look alike"


# --- features ---------------------------------------------------------------

def test_features_carry_the_scene_content(built):
    """A linear probe beats the majority baseline by far, even trained on 300 images.

    Measured as the fraction of the baseline's errors that the probe removes
    (0 = no better than guessing the commonest class, 1 = perfect). On this
    build it is 0.45-1.0; the default 8000-image build reaches 0.75-1.0.
    """
    folder, _ = built
    results = _load_probe_module().probe_accuracies(folder, pca=True)
    for name, r in results.items():
        error_removed = (r["accuracy"] - r["majority_baseline"]) / (1 - r["majority_baseline"])
        assert error_removed > 0.25, (name, r)
    assert results["background"]["accuracy"] > 0.95


def test_features_are_a_fixed_function_of_the_pixels(built):
    folder, _ = built
    with h5py.File(folder / "val2014_images.h5", "r") as f:
        images = f["images"][:8]
    first, again = extract_features(images), extract_features(images[::-1])[::-1]
    assert np.allclose(first, again, atol=1e-5), "features must not depend on the batch"


# --- manifest, determinism, rebuilds ----------------------------------------

def test_manifest_records_the_build_and_verifies(built):
    folder, summary = built
    manifest = read_manifest(folder)
    assert set(manifest["files"]) == set(FILENAMES)
    for key in ("dataset_id", "seed", "builder_version", "num_train", "num_val"):
        assert manifest[key] == summary[key]
    assert manifest["dataset"] == "synthetic_coco"
    verify_manifest(folder)


def test_manifest_catches_one_flipped_byte(built, tmp_path):
    folder, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    target = copy / "train2014_vgg16_fc7_pca.h5"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    verify_manifest(copy, quick=True)  # same size: only the hash can tell
    with pytest.raises(ChecksumError, match="train2014_vgg16_fc7_pca.h5"):
        verify_manifest(copy)
    assert sc.build_dataset(out_dir=copy, num_train=NUM_TRAIN, num_val=NUM_VAL, verbose=False)["skipped"] is False
    verify_manifest(copy)


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    def build(name, seed):
        sc.build_dataset(out_dir=tmp_path / name, seed=seed, num_train=60, num_val=20, verbose=False)
        return read_manifest(tmp_path / name)

    first, again, other = build("a", 7), build("b", 7), build("c", 8)
    assert first == again, "a rebuild with the same seed must be byte-identical"
    assert first["dataset_id"] != other["dataset_id"]
    for name in FILENAMES:
        if name.endswith("_urls.txt"):
            continue  # URLs only depend on the number of images
        assert first["files"][name]["sha256"] != other["files"][name]["sha256"], name


def test_existing_build_is_reused_unless_forced_or_different(built, tmp_path):
    folder, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    before = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    summary = sc.build_dataset(out_dir=copy, num_train=NUM_TRAIN, num_val=NUM_VAL, verbose=False)
    assert summary["skipped"] is True
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == before
    summary = sc.build_dataset(out_dir=copy, num_train=40, num_val=10, verbose=False)
    assert summary["skipped"] is False and read_manifest(copy)["num_train"] == 40
    summary = sc.build_dataset(out_dir=copy, num_train=40, num_val=10, force=True, verbose=False)
    assert summary["skipped"] is False


def test_is_built_only_for_complete_folders(built, tmp_path):
    folder, _ = built
    assert sc.is_built(folder)
    assert not sc.is_built(tmp_path / "missing")
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "val2014_urls.txt").unlink()
    assert not sc.is_built(copy)
    shutil.copy(folder / "val2014_urls.txt", copy / "val2014_urls.txt")
    assert sc.is_built(copy)
    with open(copy / "train2014_vgg16_fc7.h5", "r+b") as f:
        f.truncate(1000)
    assert not sc.is_built(copy)
    (copy / "MANIFEST.json").unlink()
    assert not sc.is_built(copy)


def test_failed_rebuild_keeps_the_previous_complete_folder(built, tmp_path, monkeypatch):
    folder, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated Ctrl-C while computing features")

    monkeypatch.setattr(build_module, "extract_features", crash)
    with pytest.raises(KeyboardInterrupt):
        sc.build_dataset(out_dir=copy, num_train=NUM_TRAIN, num_val=NUM_VAL, force=True, verbose=False)
    assert sc.is_built(copy)
    verify_manifest(copy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"], "no partial folder left behind"
    with pytest.raises(KeyboardInterrupt):
        sc.build_dataset(out_dir=tmp_path / "fresh", num_train=20, num_val=5, verbose=False)
    assert not (tmp_path / "fresh").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")
def test_killed_build_leaves_no_complete_looking_folder(tmp_path):
    out = tmp_path / "synthetic_coco"
    code = ("import sys; from assignment.synthetic_coco import main; "
            f"sys.exit(main(['--out', {str(out)!r}, '--num-train', '3000', '--num-val', '10', '--quiet']))")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(".synthetic_coco.partial-") and any(p.iterdir())
                      for p in tmp_path.iterdir()):
            assert process.poll() is None, "the build ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert not out.exists() and not sc.is_built(out)
    # the next build cleans up the killed build's hidden folder
    sc.build_dataset(out_dir=out, num_train=20, num_val=5, verbose=False)
    assert sc.is_built(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic_coco"]


def test_build_refuses_to_replace_a_folder_with_other_files(tmp_path):
    folder = tmp_path / "my_documents"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="thesis.tex"):
        sc.build_dataset(out_dir=folder, num_train=20, num_val=5, verbose=False)
    assert (folder / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_documents"]


# --- command line -----------------------------------------------------------

def test_cli_help_explains_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        sc.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--seed", "--num-train", "--num-val", "--force", "--quiet"):
        assert option in text


def test_cli_builds_and_reports(tmp_path, capsys):
    out = tmp_path / "cli"
    assert sc.main(["--out", str(out), "--num-train", "30", "--num-val", "10", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "coco2014_captions.h5" in text and "vocabulary" in text and "MB" in text
    assert read_manifest(out)["seed"] == 3
    assert sc.main(["--out", str(out), "--num-train", "0"]) == 1
    assert "num_train" in capsys.readouterr().err
