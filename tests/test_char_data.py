"""Corpus text, vocabulary, splits and the chunk iterator of truncated BPTT."""

from __future__ import annotations

import numpy as np
import pytest

from assignment.char_data import ChunkIterator, CharVocabulary, load_corpus, split_text


def test_vocabulary_is_sorted_and_encode_decode_round_trip():
    vocab = CharVocabulary.from_text("hello, world\n")
    assert vocab.chars == sorted(set("hello, world\n"))
    encoded = vocab.encode("world, hello")
    assert encoded.dtype == np.int64
    assert vocab.decode(encoded) == "world, hello"


def test_encoding_an_unknown_character_names_it():
    with pytest.raises(ValueError, match="'z'"):
        CharVocabulary.from_text("abc").encode("abz")


def test_split_keeps_order_and_holds_out_the_end():
    train, val = split_text(np.arange(100), val_fraction=0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))


def test_split_of_a_too_short_text_says_so():
    with pytest.raises(ValueError, match="too short"):
        split_text(np.arange(3), val_fraction=0.1)


def test_chunks_continue_each_stream_where_the_previous_chunk_ended():
    text = np.arange(103)
    chunks = ChunkIterator(text, batch_size=3, chunk_length=5)
    assert len(chunks) == 34 // 5  # streams of (103 - 1) // 3 = 34 characters
    pieces = list(chunks)
    stream_inputs = np.concatenate([inputs for inputs, _ in pieces], axis=1)
    stream_targets = np.concatenate([targets for _, targets in pieces], axis=1)
    for b in range(3):
        start = b * 34
        assert stream_inputs[b].tolist() == list(range(start, start + 30))
        assert stream_targets[b].tolist() == list(range(start + 1, start + 31))


def test_chunk_iterator_rejects_streams_shorter_than_a_chunk():
    with pytest.raises(ValueError, match="smaller batch_size or chunk_length"):
        ChunkIterator(np.arange(20), batch_size=4, chunk_length=10)


def test_load_corpus_names_the_choices_for_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="tinyshakespeare"):
        load_corpus(tmp_path / "missing.txt")
