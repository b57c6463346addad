"""Loading the COCO-layout data: resolution, validation at the boundary, batches, decoding.

A small dataset with exactly the real file names, keys, dtypes and shapes is
written into a temporary folder (``write_coco_layout``); each bad-input test
breaks one thing in it and checks that the error names the file and the problem.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import socket
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from assignment import synthetic_coco
from assignment.checksums import write_manifest
from assignment.data import folders as data_folders
from assignment.data import (
    DataError, caption_tokens, decode_captions, load_coco_data, load_images,
    references_by_image, resolve_data_dir, sample_coco_minibatch,
)

WORDS = ["a", "man", "woman", "dog", "riding", "on", "the", "of", "with", "in", "wave",
         "surfboard", "sitting", "table", "red", "bus", "street", "two", "plate", "food"]
VOCAB = ["<NULL>", "<START>", "<END>", "<UNK>"] + WORDS
NULL, START, END = 0, 1, 2


def _captions(rng, num_images, per_image):
    """(num_images*per_image, 17) int32 captions and their image indices."""
    rows, idxs = [], []
    for image in range(num_images):
        for _ in range(per_image):
            n = int(rng.integers(3, 16))
            words = rng.integers(4, len(VOCAB), size=n)
            row = np.full(17, NULL, dtype=np.int32)
            row[0], row[1:n + 1], row[n + 1] = START, words, END
            rows.append(row)
            idxs.append(image)
    return np.stack(rows), np.asarray(idxs, dtype=np.int32)


def write_coco_layout(directory, num_train=40, num_val=20, per_image=3, raw_dim=4096,
                      pca_dim=512, dataset_id=None, images=False, urls=None, seed=0):
    """Write a small dataset in the real COCO captioning layout into ``directory``.

    ``images=True`` adds the synthetic-only ``{split}2014_images.h5`` (N, 8, 8, 3)
    uint8; ``dataset_id`` sets the root attribute on every .h5 file; ``urls``
    maps split -> list of URLs (default: fake Flickr URLs). Returns the folder.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts = {"train": num_train, "val": num_val}

    def stamp(f):
        if dataset_id is not None:
            f.attrs["dataset_id"] = dataset_id

    with h5py.File(directory / "coco2014_captions.h5", "w") as f:
        stamp(f)
        for split, n in counts.items():
            caps, idxs = _captions(rng, n, per_image)
            f.create_dataset(f"{split}_captions", data=caps)
            f.create_dataset(f"{split}_image_idxs", data=idxs)
    (directory / "coco2014_vocab.json").write_text(json.dumps(
        {"idx_to_word": VOCAB, "word_to_idx": {w: i for i, w in enumerate(VOCAB)}}))
    for split, n in counts.items():
        for suffix, dim in (("", raw_dim), ("_pca", pca_dim)):
            with h5py.File(directory / f"{split}2014_vgg16_fc7{suffix}.h5", "w") as f:
                stamp(f)
                f.create_dataset("features", data=rng.standard_normal((n, dim), dtype=np.float32))
        lines = (urls or {}).get(split) or [
            f"http://farm{i % 9 + 1}.staticflickr.com/{split}/{i:06d}.jpg" for i in range(n)]
        (directory / f"{split}2014_urls.txt").write_text("\n".join(lines) + "\n")
        if images:
            with h5py.File(directory / f"{split}2014_images.h5", "w") as f:
                stamp(f)
                pixels = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 8, 8, 3), np.uint8)
                f.create_dataset("images", data=pixels)  # image i is filled with the value i
    return directory


def rewrite(path, **datasets):
    """Replace (or with value None, delete) datasets of an existing .h5 file."""
    with h5py.File(path, "a") as f:
        for key, value in datasets.items():
            if key in f:
                del f[key]
            if value is not None:
                f.create_dataset(key, data=value)


def set_vocab(directory, idx_to_word, word_to_idx):
    (Path(directory) / "coco2014_vocab.json").write_text(
        json.dumps({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}))


@pytest.fixture
def coco_dir(tmp_path):
    return write_coco_layout(tmp_path / "coco_captioning")


def load_error(directory, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_coco_data(directory, **kwargs)
    return str(info.value)


# ------------------------------------------------------------------ loading

def test_loads_the_standard_layout_with_pca_features(coco_dir):
    data = load_coco_data(coco_dir)
    assert data["train_captions"].shape == (120, 17) and data["train_captions"].dtype == np.int32
    assert data["train_image_idxs"].shape == (120,) and data["train_image_idxs"].dtype == np.int32
    assert data["val_captions"].shape == (60, 17)
    assert data["train_features"].shape == (40, 512) and data["train_features"].dtype == np.float32
    assert data["val_features"].shape == (20, 512)
    assert data["idx_to_word"] == VOCAB and data["word_to_idx"]["<NULL>"] == 0
    assert data["train_urls"].shape == (40,) and data["train_urls"].dtype.kind == "U"
    assert data["train_urls"][3].endswith("000003.jpg")
    assert data["base_dir"] == str(coco_dir)


def test_loads_the_raw_fc7_features_when_pca_is_off(coco_dir):
    data = load_coco_data(coco_dir, pca_features=False)
    assert data["train_features"].shape == (40, 4096)
    assert data["val_features"].shape == (20, 4096)


def test_max_train_subsamples_caption_rows_reproducibly(coco_dir):
    full = load_coco_data(coco_dir)
    a = load_coco_data(coco_dir, max_train=10, seed=1)
    b = load_coco_data(coco_dir, max_train=10, seed=1)
    c = load_coco_data(coco_dir, max_train=10, seed=2)
    assert a["train_captions"].shape == (10, 17)
    np.testing.assert_array_equal(a["train_captions"], b["train_captions"])
    assert not np.array_equal(a["train_image_idxs"], c["train_image_idxs"])
    # every kept caption is still paired with its own image
    pairs = {(tuple(cap), int(i)) for cap, i in zip(full["train_captions"], full["train_image_idxs"])}
    assert all((tuple(cap), int(i)) in pairs for cap, i in zip(a["train_captions"], a["train_image_idxs"]))
    assert a["val_captions"].shape == full["val_captions"].shape  # only train is subsampled


def test_max_train_larger_than_the_data_keeps_everything(coco_dir):
    data = load_coco_data(coco_dir, max_train=10_000)
    assert data["train_captions"].shape == (120, 17)


def test_max_train_must_be_a_positive_integer(coco_dir):
    with pytest.raises(ValueError, match="max_train"):
        load_coco_data(coco_dir, max_train=0)


# ------------------------------------------------------------------ which folder

@pytest.fixture
def no_defaults(monkeypatch, tmp_path):
    """No env var, no real COCO folder: configuration pointed at empty temp paths."""
    monkeypatch.delenv("ASSIGNMENT_DATA_DIR", raising=False)
    monkeypatch.setattr(data_folders, "REAL_COCO_DIR", tmp_path / "no_real_coco")
    monkeypatch.setattr(data_folders, "SYNTHETIC_DIR", tmp_path / "no_synthetic")


def test_explicit_base_dir_wins_over_the_environment(no_defaults, monkeypatch, coco_dir, tmp_path):
    other = write_coco_layout(tmp_path / "other")
    monkeypatch.setenv("ASSIGNMENT_DATA_DIR", str(other))
    assert resolve_data_dir(coco_dir) == coco_dir


def test_environment_variable_wins_over_real_coco(no_defaults, monkeypatch, coco_dir, tmp_path):
    real = write_coco_layout(tmp_path / "real")
    monkeypatch.setattr(data_folders, "REAL_COCO_DIR", real)
    monkeypatch.setenv("ASSIGNMENT_DATA_DIR", str(coco_dir))
    assert resolve_data_dir() == coco_dir
    assert load_coco_data()["base_dir"] == str(coco_dir)


def test_real_coco_folder_is_used_when_downloaded(no_defaults, monkeypatch, tmp_path):
    real = write_coco_layout(tmp_path / "real")
    monkeypatch.setattr(data_folders, "REAL_COCO_DIR", real)
    assert resolve_data_dir() == real


def test_synthetic_dataset_is_the_fallback(no_defaults, monkeypatch, tmp_path):
    built = tmp_path / "synthetic"
    synthetic_coco.build_dataset(out_dir=built, num_train=24, num_val=12, verbose=False)
    monkeypatch.setattr(data_folders, "SYNTHETIC_DIR", built)
    assert resolve_data_dir() == built
    data = load_coco_data()  # the builder's output passes every check of the loader
    assert data["train_captions"].shape[1] == 17
    assert load_images(data, "val", [0]).shape[0] == 1


def test_environment_variable_naming_a_missing_folder_is_an_error(no_defaults, monkeypatch, tmp_path):
    monkeypatch.setenv("ASSIGNMENT_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="ASSIGNMENT_DATA_DIR") as info:
        resolve_data_dir()
    assert "nowhere" in str(info.value) and "does not exist" in str(info.value)


def test_missing_folder_says_how_to_get_the_data(tmp_path):
    message = load_error(tmp_path / "nowhere")
    assert "nowhere" in message and "does not exist" in message
    assert "python -m assignment.synthetic_coco" in message
    assert "get_coco_captioning.py" in message


def test_broken_synthetic_folder_says_how_to_rebuild_it(no_defaults, monkeypatch, tmp_path):
    default = write_coco_layout(tmp_path / "synthetic")  # no images file: known by its place
    monkeypatch.setattr(data_folders, "SYNTHETIC_DIR", default)
    (default / "coco2014_vocab.json").unlink()
    message = load_error(default)
    assert "python -m assignment.synthetic_coco --force`" in message
    other = write_coco_layout(tmp_path / "other", images=True)
    (other / "coco2014_vocab.json").unlink()
    assert f"python -m assignment.synthetic_coco --force --out {other}" in load_error(other)


def test_broken_real_coco_folder_says_how_to_download_it_again(no_defaults, monkeypatch, tmp_path):
    real = write_coco_layout(tmp_path / "real")
    monkeypatch.setattr(data_folders, "REAL_COCO_DIR", real)
    (real / "coco2014_vocab.json").unlink()
    assert "python datasets/get_coco_captioning.py --force" in load_error(real)


# ------------------------------------------------------------------ bad files

@pytest.mark.parametrize("name", ["coco2014_captions.h5", "coco2014_vocab.json",
                                  "train2014_vgg16_fc7_pca.h5", "val2014_urls.txt"])
def test_missing_file_is_named(coco_dir, name):
    (coco_dir / name).unlink()
    message = load_error(coco_dir)
    assert name in message and "missing" in message


def test_missing_raw_features_only_matter_when_asked_for(coco_dir):
    (coco_dir / "train2014_vgg16_fc7.h5").unlink()
    load_coco_data(coco_dir)  # PCA features are all there
    assert "train2014_vgg16_fc7.h5" in load_error(coco_dir, pca_features=False)


def test_corrupt_hdf5_file(coco_dir):
    (coco_dir / "coco2014_captions.h5").write_bytes(b"this is not HDF5" * 10)
    message = load_error(coco_dir)
    assert "coco2014_captions.h5" in message and "not a valid HDF5" in message


def test_truncated_hdf5_file(coco_dir):
    path = coco_dir / "val2014_vgg16_fc7_pca.h5"
    path.write_bytes(path.read_bytes()[:1000])
    message = load_error(coco_dir)
    assert "val2014_vgg16_fc7_pca.h5" in message and "not a valid HDF5" in message


def test_corrupt_vocabulary_json(coco_dir):
    (coco_dir / "coco2014_vocab.json").write_text('{"idx_to_word": ["<NULL>", ')
    message = load_error(coco_dir)
    assert "coco2014_vocab.json" in message and "not valid JSON" in message


def test_missing_caption_key_names_the_key_and_the_keys_found(coco_dir):
    rewrite(coco_dir / "coco2014_captions.h5", val_image_idxs=None)
    message = load_error(coco_dir)
    assert "coco2014_captions.h5" in message and "'val_image_idxs'" in message
    assert "val_captions" in message  # the keys that were found


def test_missing_features_key(coco_dir):
    path = coco_dir / "train2014_vgg16_fc7_pca.h5"
    rewrite(path, features=None, feats=np.zeros((40, 512), np.float32))
    message = load_error(coco_dir)
    assert "train2014_vgg16_fc7_pca.h5" in message and "'features'" in message and "feats" in message


def test_missing_vocabulary_key(coco_dir):
    (coco_dir / "coco2014_vocab.json").write_text(json.dumps({"idx_to_word": VOCAB}))
    message = load_error(coco_dir)
    assert "coco2014_vocab.json" in message and "'word_to_idx'" in message


def test_float_captions_are_a_dtype_error(coco_dir):
    path = coco_dir / "coco2014_captions.h5"
    with h5py.File(path, "r") as f:
        caps = f["train_captions"][...]
    rewrite(path, train_captions=caps.astype(np.float64))
    message = load_error(coco_dir)
    assert "coco2014_captions.h5" in message and "train_captions" in message
    assert "float64" in message and "int32" in message


def test_integer_features_are_a_dtype_error(coco_dir):
    rewrite(coco_dir / "val2014_vgg16_fc7_pca.h5", features=np.zeros((20, 512), np.int64))
    message = load_error(coco_dir)
    assert "val2014_vgg16_fc7_pca.h5" in message and "int64" in message and "float32" in message


def test_features_with_the_wrong_number_of_dimensions(coco_dir):
    rewrite(coco_dir / "train2014_vgg16_fc7_pca.h5", features=np.zeros(40 * 512, np.float32))
    message = load_error(coco_dir)
    assert "train2014_vgg16_fc7_pca.h5" in message and "(20480,)" in message and "2-D" in message


def test_captions_must_be_17_wide(coco_dir):
    path = coco_dir / "coco2014_captions.h5"
    with h5py.File(path, "r") as f:
        train, val = f["train_captions"][...], f["val_captions"][...]
    rewrite(path, train_captions=train[:, :16], val_captions=val[:, :16])
    message = load_error(coco_dir)
    assert "coco2014_captions.h5" in message and "(120, 16)" in message and "17" in message


def test_train_and_val_captions_must_have_the_same_width(coco_dir):
    path = coco_dir / "coco2014_captions.h5"
    with h5py.File(path, "r") as f:
        val = f["val_captions"][...]
    rewrite(path, val_captions=np.pad(val, ((0, 0), (0, 3))))
    message = load_error(coco_dir)
    assert "coco2014_captions.h5" in message and "17" in message and "20" in message


def test_caption_words_outside_the_vocabulary(coco_dir):
    path = coco_dir / "coco2014_captions.h5"
    with h5py.File(path, "r") as f:
        caps = f["val_captions"][...]
    caps[5, 3] = len(VOCAB) + 7
    rewrite(path, val_captions=caps)
    message = load_error(coco_dir)
    assert "coco2014_captions.h5" in message and str(len(VOCAB) + 7) in message
    assert "outside the vocabulary" in message and "coco2014_vocab.json" in message


def test_vocabulary_halves_that_disagree(coco_dir):
    word_to_idx = {w: i for i, w in enumerate(VOCAB)}
    word_to_idx["dog"], word_to_idx["man"] = word_to_idx["man"], word_to_idx["dog"]
    set_vocab(coco_dir, VOCAB, word_to_idx)
    message = load_error(coco_dir)
    assert "coco2014_vocab.json" in message and "disagrees" in message and "'man'" in message


def test_null_must_be_word_zero(coco_dir):
    words = ["<START>", "<NULL>"] + VOCAB[2:]
    set_vocab(coco_dir, words, {w: i for i, w in enumerate(words)})
    message = load_error(coco_dir)
    assert "coco2014_vocab.json" in message and "'<NULL>' must be word 0" in message


def test_special_tokens_are_required(coco_dir):
    words = [w for w in VOCAB if w != "<UNK>"]
    set_vocab(coco_dir, words, {w: i for i, w in enumerate(words)})
    message = load_error(coco_dir)
    assert "coco2014_vocab.json" in message and "<UNK>" in message and "special tokens" in message


def test_image_indices_beyond_the_feature_rows(coco_dir):
    path = coco_dir / "coco2014_captions.h5"
    with h5py.File(path, "r") as f:
        idxs = f["train_image_idxs"][...]
    idxs[0] = 40  # there are 40 train images: 0..39
    rewrite(path, train_image_idxs=idxs)
    message = load_error(coco_dir)
    assert "coco2014_captions.h5" in message and "train2014_vgg16_fc7_pca.h5" in message
    assert "image index 40" in message and "40 feature rows" in message


def test_url_count_must_match_the_feature_rows(coco_dir):
    path = coco_dir / "val2014_urls.txt"
    path.write_text("\n".join(path.read_text().splitlines()[:-2]) + "\n")
    message = load_error(coco_dir)
    assert "val2014_urls.txt" in message and "18 URLs" in message and "20 feature rows" in message


def test_raw_and_pca_features_must_describe_the_same_images(coco_dir):
    rewrite(coco_dir / "train2014_vgg16_fc7.h5", features=np.zeros((39, 4096), np.float32))
    message = load_error(coco_dir)
    assert "train2014_vgg16_fc7.h5" in message and "39" in message and "40" in message


def test_train_and_val_features_must_have_the_same_dimension(coco_dir):
    rewrite(coco_dir / "val2014_vgg16_fc7_pca.h5", features=np.zeros((20, 256), np.float32))
    message = load_error(coco_dir)
    assert "val2014_vgg16_fc7_pca.h5" in message and "256" in message and "512" in message


def test_files_from_two_datasets_are_caught_by_their_ids(tmp_path):
    one = write_coco_layout(tmp_path / "one", dataset_id="synthetic-seed-1")
    write_coco_layout(tmp_path / "two", dataset_id="synthetic-seed-2")
    (one / "val2014_vgg16_fc7_pca.h5").write_bytes((tmp_path / "two" / "val2014_vgg16_fc7_pca.h5").read_bytes())
    message = load_error(one)
    assert "val2014_vgg16_fc7_pca.h5" in message and "synthetic-seed-2" in message
    assert "synthetic-seed-1" in message and "two different datasets" in message


def test_files_from_two_datasets_without_ids_are_caught_by_the_row_checks(tmp_path):
    small = write_coco_layout(tmp_path / "small", num_train=10)
    big = write_coco_layout(tmp_path / "big", num_train=40)
    # captions of the big dataset point at images 0..39; the small one has 10 feature rows
    (small / "coco2014_captions.h5").write_bytes((big / "coco2014_captions.h5").read_bytes())
    message = load_error(small)
    assert "image index 39" in message and "different datasets" in message


def test_truncated_file_is_caught_by_the_manifest(coco_dir):
    names = sorted(p.name for p in coco_dir.iterdir())
    write_manifest(coco_dir, names)
    load_coco_data(coco_dir)
    path = coco_dir / "train2014_urls.txt"
    path.write_text(path.read_text() + "extra\n")
    message = load_error(coco_dir)
    assert "train2014_urls.txt" in message and "manifest" in message
    assert "get_coco_captioning.py" in message  # and how to get the data again


# ------------------------------------------------------------------ minibatches and decoding

@pytest.fixture
def data(coco_dir):
    return load_coco_data(coco_dir)


def test_minibatch_pairs_each_caption_with_its_image(data):
    captions, features, urls = sample_coco_minibatch(data, batch_size=16, split="val",
                                                     rng=np.random.default_rng(0))
    assert captions.shape == (16, 17) and features.shape == (16, 512) and urls.shape == (16,)
    for cap, feat, url in zip(captions, features, urls):
        rows = np.flatnonzero((data["val_captions"] == cap).all(axis=1))
        images = data["val_image_idxs"][rows]
        assert any(np.array_equal(feat, data["val_features"][i]) and url == data["val_urls"][i]
                   for i in images)


def test_minibatch_is_reproducible_with_a_seeded_generator(data):
    a = sample_coco_minibatch(data, 8, rng=np.random.default_rng(5))
    b = sample_coco_minibatch(data, 8, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_minibatch_rejects_an_unknown_split(data):
    with pytest.raises(ValueError, match="split must be 'train' or 'val', got 'test'"):
        sample_coco_minibatch(data, split="test")


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_minibatch_rejects_a_bad_batch_size(data, batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        sample_coco_minibatch(data, batch_size=batch_size)


def test_minibatch_rejects_a_legacy_random_state(data):
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        sample_coco_minibatch(data, 4, rng=np.random.RandomState(0))


IDX = {w: i for i, w in enumerate(VOCAB)}


def _encode(*words):
    row = [IDX[w] for w in words]
    return np.asarray(row + [NULL] * (17 - len(row)), dtype=np.int32)


def test_decode_one_caption_keeps_start_and_end_and_drops_padding():
    caption = _encode("<START>", "a", "dog", "on", "the", "table", "<END>")
    assert decode_captions(caption, VOCAB) == "<START> a dog on the table <END>"


def test_decode_stops_after_end_and_returns_a_list_for_a_batch():
    first = _encode("<START>", "a", "red", "bus", "<END>", "man", "dog")
    second = _encode("<START>", "two", "<UNK>", "<END>")
    assert decode_captions(np.stack([first, second]), VOCAB) == [
        "<START> a red bus <END>", "<START> two <UNK> <END>"]


def test_caption_tokens_are_the_words_only():
    caption = _encode("<START>", "a", "man", "riding", "a", "wave", "<END>", "dog")
    assert caption_tokens(caption, VOCAB) == ["a", "man", "riding", "a", "wave"]


def test_references_group_all_captions_of_each_image(data):
    refs = references_by_image(data, "val")
    assert sorted(refs) == list(range(20))
    assert all(len(captions) == 3 for captions in refs.values())
    first = data["val_captions"][np.flatnonzero(data["val_image_idxs"] == 7)[0]]
    assert refs[7][0] == caption_tokens(first, VOCAB)


# ------------------------------------------------------------------ images

def test_images_come_from_the_images_file_in_the_requested_order(tmp_path):
    data = load_coco_data(write_coco_layout(tmp_path / "synthetic", images=True, dataset_id="s1"))
    images = load_images(data, "train", [5, 2, 5, 39])
    assert images.dtype == np.uint8 and images.shape == (4, 8, 8, 3)
    assert [int(im[0, 0, 0]) for im in images] == [5, 2, 5, 39]  # image i is filled with i


def test_image_indices_are_checked(tmp_path):
    data = load_coco_data(write_coco_layout(tmp_path / "synthetic", images=True))
    with pytest.raises(ValueError, match=r"\[0, 20\)"):
        load_images(data, "val", [20])


@pytest.fixture
def image_server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving two PNG 'photos' of different sizes."""
    import matplotlib.image as mpimg

    root = tmp_path / "flickr"
    root.mkdir()
    for name, shape, value in (("a.png", (6, 9, 3), 0.2), ("b.png", (4, 5, 3), 0.8)):
        buffer = io.BytesIO()
        mpimg.imsave(buffer, np.full(shape, value), format="png")
        (root / name).write_bytes(buffer.getvalue())
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_coco_images_are_fetched_from_their_urls(tmp_path, image_server):
    urls = {"val": [f"{image_server}/a.png", f"{image_server}/b.png"] * 10}
    data = load_coco_data(write_coco_layout(tmp_path / "real", urls=urls))
    images = load_images(data, "val", [1, 0])
    assert [im.shape for im in images] == [(4, 5, 3), (6, 9, 3)]
    assert all(im.dtype == np.uint8 for im in images)
    assert images[0][0, 0, 0] == round(0.8 * 255)


def test_offline_real_coco_images_give_a_helpful_error(tmp_path):
    urls = {"train": [f"http://127.0.0.1:{_closed_port()}/{i}.jpg" for i in range(40)]}
    data = load_coco_data(write_coco_layout(tmp_path / "real", urls=urls))
    with pytest.raises(DataError) as info:
        load_images(data, "train", [3], placeholders=False)
    message = str(info.value)
    assert "3.jpg" in message and "internet" in message and "features" in message
