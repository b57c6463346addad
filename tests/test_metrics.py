"""BLEU agrees with NLTK's corpus_bleu (an independent, widely used implementation)."""

import math

import numpy as np
import pytest

from assignment.metrics import bleu_scores, corpus_bleu

nltk_bleu = pytest.importorskip("nltk.translate.bleu_score", reason="nltk is in the dev extra")

WEIGHTS = {1: (1.0,), 2: (0.5, 0.5), 3: (1 / 3,) * 3, 4: (0.25,) * 4}


def _random_corpus(rng, n, vocab=12):
    words = [f"w{i}" for i in range(vocab)]
    refs, hyps = [], []
    for _ in range(n):
        refs.append([list(rng.choice(words, size=rng.integers(4, 12))) for _ in range(rng.integers(1, 5))])
        hyps.append(list(rng.choice(words, size=rng.integers(2, 12))))
    return refs, hyps


@pytest.mark.filterwarnings("ignore::UserWarning")  # NLTK says when a BLEU order scores zero
@pytest.mark.parametrize("seed", range(5))
def test_corpus_bleu_matches_nltk_on_random_corpora(seed):
    refs, hyps = _random_corpus(np.random.default_rng(seed), 60)
    for n in range(1, 5):
        expected = nltk_bleu.corpus_bleu(refs, hyps, weights=WEIGHTS[n])
        assert math.isclose(corpus_bleu(refs, hyps, n), expected, rel_tol=1e-12, abs_tol=1e-15)


def test_bleu_matches_nltk_on_captions_with_brevity_penalty():
    refs = [[["a", "red", "circle", "left", "of", "a", "blue", "square"],
             ["a", "blue", "box", "right", "of", "a", "red", "disc"]],
            [["two", "green", "triangles"], ["a", "pair", "of", "green", "triangles"]]]
    hyps = [["a", "red", "circle", "left", "of", "a", "square"], ["two", "green", "triangles"]]
    ours = bleu_scores(refs, hyps)
    for n in range(1, 5):
        assert math.isclose(ours[f"BLEU-{n}"], nltk_bleu.corpus_bleu(refs, hyps, weights=WEIGHTS[n]),
                            rel_tol=1e-12)
    assert ours["BLEU-1"] < 1.0  # the short first hypothesis pays the brevity penalty


def test_perfect_caption_scores_one_and_disjoint_caption_scores_zero():
    ref = [[["a", "red", "circle", "above", "a", "green", "star"]]]
    assert corpus_bleu(ref, [ref[0][0]]) == pytest.approx(1.0)
    assert corpus_bleu(ref, [["blue", "square"]]) == 0.0


def test_bleu_rejects_strings_and_mismatched_lengths():
    with pytest.raises(TypeError, match="lists of tokens"):
        corpus_bleu([["a red circle"]], ["a red circle"])
    with pytest.raises(ValueError, match="one list of reference captions per generated caption"):
        corpus_bleu([[["a"]], [["b"]]], [["a"]])
