"""autograder.demo.lm_demo: the reference language model that `make demo` trains and shows."""

from __future__ import annotations

import math

import pytest

from assignment.char_data import CharVocabulary, load_corpus
from autograder.demo.lm_demo import PRIME, TEMPERATURES, report, train_language_model

pytestmark = pytest.mark.slow  # trains a network (seconds)


@pytest.fixture(scope="module")
def quick_run():
    return train_language_model(quick=True)


def test_the_table_has_every_baseline_and_the_model_in_order(quick_run):
    assert list(quick_run.bpc) == ["unigram", "2-gram", "3-gram", "4-gram", "5-gram", "LSTM"]
    assert all(math.isfinite(v) and 0 < v < 8 for v in quick_run.bpc.values())
    baselines = [quick_run.bpc[k] for k in ["unigram", "2-gram", "3-gram", "4-gram", "5-gram"]]
    assert baselines == sorted(baselines, reverse=True)  # longer contexts predict better
    # even a short training run has learnt more than the character frequencies
    assert quick_run.bpc["LSTM"] < quick_run.bpc["unigram"]


def test_samples_start_with_the_prime_use_the_corpus_characters_and_repeat_under_a_seed(quick_run):
    chars = set(CharVocabulary.from_text(load_corpus("tinyshakespeare")).chars)
    assert list(quick_run.samples) == list(TEMPERATURES)
    for text in quick_run.samples.values():
        assert text.startswith(PRIME) and len(text) > len(PRIME) and set(text) <= chars
    assert train_language_model(quick=True).samples == quick_run.samples


def test_the_report_prints_the_table_and_the_samples(quick_run):
    text = report(quick_run)
    for name, value in quick_run.bpc.items():
        assert f"{name:10} {value:9.3f}" in text
    for temperature, sample in quick_run.samples.items():
        assert f"Sample at temperature {temperature}:\n{sample}" in text
