"""The Kneser-Ney n-gram baselines, against numbers computed by hand."""

from __future__ import annotations

import math

import pytest

from assignment.ngram import KneserNeyCharModel


def test_unigram_is_absolute_discounting_interpolated_with_uniform():
    # "aab": c(a) = 2, c(b) = 1, 3 in all, 2 types, d = 0.75, V = 2:
    # P(a) = (2 - 0.75) / 3 + 0.75 * 2 / 3 * 1/2 = 2/3, P(b) = 0.25 / 3 + 0.25 = 1/3
    model = KneserNeyCharModel("aab", order=1)
    assert model.probability("", "a") == pytest.approx(2 / 3)
    assert model.probability("zzz", "b") == pytest.approx(1 / 3)  # the history is ignored


def test_bigram_on_abab_by_hand():
    # bigrams: ab x2, ba x1. Continuation counts of the unigrams: b (after a), a (after b):
    # P1(a) = P1(b) = (1 - 0.75) / 2 + 0.75 * 2 / 2 * 1/2 = 0.5
    # P2(b|a) = (2 - 0.75) / 2 + 0.75 * 1 / 2 * 0.5 = 0.8125, P2(a|a) = 0.1875
    # P2(a|b) = (1 - 0.75) / 1 + 0.75 * 1 / 1 * 0.5 = 0.625,  P2(b|b) = 0.375
    model = KneserNeyCharModel("abab", order=2)
    assert model.probability("a", "b") == pytest.approx(0.8125)
    assert model.probability("a", "a") == pytest.approx(0.1875)
    assert model.probability("b", "a") == pytest.approx(0.625)
    assert model.probability("b", "b") == pytest.approx(0.375)
    expected = (-math.log2(0.8125) - math.log2(0.625)) / 2
    assert model.bits_per_character("aba") == pytest.approx(expected)


def test_probabilities_sum_to_one_for_seen_and_unseen_contexts():
    text = "the cat sat on the mat. the dog sat on the log.\n"
    model = KneserNeyCharModel(text, order=4, vocabulary="xyz")
    for history in ["the", "t s", "qqq", "", "og."]:
        assert sum(model.probability(history, c) for c in model.vocabulary) == pytest.approx(1.0)


def test_unseen_character_of_the_vocabulary_gets_a_probability_above_zero():
    model = KneserNeyCharModel("aaaa", order=3, vocabulary="ab")
    assert 0 < model.probability("aa", "b") < 0.5


def test_higher_orders_predict_a_repetitive_text_better():
    text = "abcabcabcabcabcabc" * 5
    bpc = [KneserNeyCharModel(text, order=n).bits_per_character("abcabcabc") for n in (1, 2, 3)]
    assert bpc[0] > bpc[1] > bpc[2]


def test_bad_order_is_refused_with_its_value():
    with pytest.raises(ValueError, match="order must be a positive integer"):
        KneserNeyCharModel("abc", order=0)
