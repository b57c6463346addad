"""The demo's language model: train the reference character model, then show what it learnt.

Instructor-only. ``train_language_model`` trains the answer key's LSTM (the
language-model notebook's solution cells, ``truncated_bptt_step``,
``multilayer_forward`` and ``sample_chars``, built by
``autograder.answer_key.solution``) on tiny-shakespeare with truncated
backpropagation through time, as the notebook does, and measures held-out
bits per character of the model and of the character n-gram baselines; it
also samples from the model, primed with a speaker's name, at three
temperatures. ``report`` formats the result for the terminal::

    print(report(train_language_model(quick=True)))

``quick`` trains briefly on part of the text (seconds; what the notebook does
while it is graded); the full run matches the notebook's own (minutes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from assignment.backend import asarray, to_numpy, xp
from assignment.char_data import ChunkIterator, CharVocabulary, load_corpus, split_text
from assignment.char_lm import PARAM_NAMES, CharLMTrainer, bits_per_character, init_char_lm
from assignment.ngram import KneserNeyCharModel

from ..answer_key.solution import reference

__all__ = ["LanguageModelRun", "train_language_model", "report", "TEMPERATURES", "PRIME"]

TEMPERATURES = (0.5, 1.0, 1.5)
PRIME = "JULIET:\n"


@dataclass
class LanguageModelRun:
    """What one training run measured."""

    bpc: dict          # model name -> held-out bits per character (baselines first)
    samples: dict      # temperature -> sampled text (the prime first)
    iterations: int    # training chunks of the model
    train_seconds: float
    total_seconds: float


def train_language_model(quick=False, seed=0, hidden_size=128, corpus="tinyshakespeare"):
    """Train the reference LSTM on ``corpus``; n-gram baselines, its bits per character, samples."""
    start = time.perf_counter()
    ref = reference()
    text = load_corpus(corpus)
    vocab = CharVocabulary.from_text(text)
    train_data, val_data = split_text(vocab.encode(text), val_fraction=0.1)
    eval_data = val_data[:5_000] if quick else val_data
    ngram_train = vocab.decode(train_data[:100_000] if quick else train_data)
    ngram_val = vocab.decode(eval_data)
    bpc = {}
    for order in range(1, 6):
        model = KneserNeyCharModel(ngram_train, order=order, vocabulary=vocab.chars)
        bpc["unigram" if order == 1 else f"{order}-gram"] = model.bits_per_character(ngram_val)

    iterations = 200 if quick else 1500
    params = init_char_lm(len(vocab), hidden_size, cell_type="lstm", seed=seed)
    chunks = ChunkIterator(train_data, batch_size=32, chunk_length=50)
    trainer = CharLMTrainer(params, ref.truncated_bptt_step, chunks, "lstm", learning_rate=3e-3,
                            progress=False)
    trained = time.perf_counter()
    trainer.train(iterations)
    train_seconds = time.perf_counter() - trained
    bpc["LSTM"] = bits_per_character(ref.multilayer_forward, params, eval_data, "lstm")

    uniforms = asarray(np.random.default_rng(seed).random(80 if quick else 300))
    state = xp.zeros((1, 1, hidden_size), dtype=params["Whs"].dtype)
    samples = {}
    for temperature in TEMPERATURES:
        sampled = ref.sample_chars(asarray(vocab.encode(PRIME)), state, state,
                                   *(params[name] for name in PARAM_NAMES), uniforms,
                                   temperature, "lstm")
        samples[temperature] = PRIME + vocab.decode(to_numpy(sampled))
    return LanguageModelRun(bpc, samples, iterations, train_seconds,
                            time.perf_counter() - start)


def report(run: LanguageModelRun) -> str:
    """The bits-per-character table and the samples, as text."""
    lines = ["Character language model (tiny-shakespeare), held-out bits per character:",
             f"  {'model':10} bits/char"]
    lines += [f"  {name:10} {value:9.3f}" for name, value in run.bpc.items()]
    lines.append(f"  (LSTM: {run.iterations} training chunks of 32 x 50 characters in "
                 f"{run.train_seconds:.0f} s; {run.total_seconds:.0f} s in all)")
    for temperature, text in run.samples.items():
        lines += ["", f"Sample at temperature {temperature}:", text]
    return "\n".join(lines)
