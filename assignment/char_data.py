"""Text for the character-level language model: corpora, vocabulary, splits, chunks.

    text = load_corpus("tinyshakespeare")      # or "assignment_source", or a path
    vocab = CharVocabulary.from_text(text)     # vocab.encode(text) -> (L,) int array
    train, val = split_text(vocab.encode(text), val_fraction=0.1)
    for inputs, targets in ChunkIterator(train, batch_size=32, chunk_length=50):
        ...                                    # (B, T) each; targets are inputs shifted by one

Truncated backpropagation through time trains on one long text. ChunkIterator
cuts it into ``B`` streams, stream ``b`` starting at ``b * len(text) // B``, and
walks all of them forward ``T`` characters at a time: chunk ``k+1`` of stream
``b`` continues exactly where chunk ``k`` ended, so the hidden state at the end
of one chunk is the right state to start the next one with.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["CORPUS_DIR", "CORPUS_ENV_VAR", "CORPORA", "load_corpus", "CharVocabulary",
           "split_text", "ChunkIterator"]

CORPUS_ENV_VAR = "ASSIGNMENT_CORPUS_DIR"
CORPUS_DIR = Path(__file__).resolve().parents[1] / "datasets" / "corpora"
CORPORA = {"tinyshakespeare": "tinyshakespeare.txt", "assignment_source": "assignment_source.txt"}


def _corpus_dir() -> Path:
    env = os.environ.get(CORPUS_ENV_VAR, "").strip()
    return Path(env).expanduser() if env else CORPUS_DIR


def load_corpus(name_or_path) -> str:
    """The text of a corpus: a name in ``CORPORA`` or the path of a UTF-8 text file."""
    name = str(name_or_path)
    path = _corpus_dir() / CORPORA[name] if name in CORPORA else Path(name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"No corpus at {path}. Pass one of {', '.join(map(repr, CORPORA))} (read from "
            f"datasets/corpora/, or from the folder in ${CORPUS_ENV_VAR} when it is set) or the "
            "path of a UTF-8 text file.")
    text = path.read_text(encoding="utf-8")
    if len(text) < 2:
        raise ValueError(f"The corpus {path} has {len(text)} characters; a language model needs "
                         "at least two (an input and its next character).")
    return text


class CharVocabulary:
    """The distinct characters of a text, sorted, each with an index 0..V-1."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        if not self.chars:
            raise ValueError("a vocabulary needs at least one character")
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocabulary":
        return cls(text)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """(len(text),) int64 indices; a character outside the vocabulary is an error."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}; build the "
                             "vocabulary from a text that contains them (e.g. the whole corpus).")
        return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, indices) -> str:
        """The string of a sequence of indices."""
        return "".join(self.chars[int(i)] for i in np.asarray(indices).ravel())


def split_text(encoded, val_fraction=0.1):
    """(train, val): the first ``1 - val_fraction`` of the text, and the rest (held out)."""
    encoded = np.asarray(encoded)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction!r}")
    cut = int(round(len(encoded) * (1 - val_fraction)))
    if cut < 2 or len(encoded) - cut < 2:
        raise ValueError(f"a text of {len(encoded)} characters is too short to split with "
                         f"val_fraction={val_fraction}: each part needs at least two characters.")
    return encoded[:cut], encoded[cut:]


class ChunkIterator:
    """Chunks of ``B`` parallel streams of a text for truncated BPTT.

    Each item is ``(inputs, targets)``, both (B, T) int arrays, with
    ``targets[b, t] == inputs[b, t + 1]`` within a chunk and across chunks
    (targets are the next characters). ``len(iterator)`` chunks make one pass
    over the text; ``chunk_index`` is 0 at the start of each pass, when a
    language model should start from a zero state.
    """

    def __init__(self, encoded, batch_size, chunk_length):
        encoded = np.asarray(encoded)
        for name, value in (("batch_size", batch_size), ("chunk_length", chunk_length)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        stream_length = (len(encoded) - 1) // batch_size
        if stream_length < chunk_length:
            raise ValueError(
                f"a text of {len(encoded)} characters gives {batch_size} streams of "
                f"{stream_length} characters, shorter than one chunk of {chunk_length}: "
                "use a smaller batch_size or chunk_length.")
        self.batch_size, self.chunk_length = int(batch_size), int(chunk_length)
        starts = np.arange(batch_size) * stream_length
        # (B, stream_length + 1): each stream with one more character for the last target
        self.streams = encoded[starts[:, None] + np.arange(stream_length + 1)]
        self.num_chunks = stream_length // chunk_length

    def __len__(self) -> int:
        return self.num_chunks

    def chunk(self, k):
        """(inputs, targets) of chunk ``k`` (0 <= k < len(self)), each (B, T)."""
        start = (k % self.num_chunks) * self.chunk_length
        window = self.streams[:, start:start + self.chunk_length + 1]
        return window[:, :-1], window[:, 1:]

    def __iter__(self):
        for k in range(self.num_chunks):
            yield self.chunk(k)
