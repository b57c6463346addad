"""BLEU: how much a generated caption overlaps with the reference captions.

BLEU-n (Papineni et al., 2002) is the geometric mean of the clipped n-gram
precisions for orders 1..n, times a brevity penalty that stops a system from
scoring well with very short captions. It is computed over the whole corpus
(counts are summed over all captions before dividing), with no smoothing:
the same convention as ``nltk.translate.bleu_score.corpus_bleu`` with its
default settings, which the test suite checks against.

    bleu_scores(references, hypotheses)      -> {'BLEU-1': ..., ..., 'BLEU-4': ...}
    evaluate_captioning_bleu(model, data)    -> the same for a model's greedy captions
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _check_corpus(references, hypotheses):
    if len(references) != len(hypotheses):
        raise ValueError(
            f"references has {len(references)} entries but hypotheses has {len(hypotheses)}: "
            "give one list of reference captions per generated caption."
        )
    for i, (refs, hyp) in enumerate(zip(references, hypotheses)):
        if isinstance(hyp, str) or (refs and isinstance(refs[0], str)):
            raise TypeError(
                f"entry {i}: captions must be lists of tokens (e.g. 'a red disc'.split()), and "
                "references a list of such lists per hypothesis; got a plain string."
            )
        if len(refs) == 0:
            raise ValueError(f"entry {i}: no reference captions for this hypothesis.")


def corpus_bleu(references, hypotheses, max_n=4):
    """Corpus BLEU with uniform weights over n-gram orders 1..max_n.

    Inputs:
        references: list over hypotheses of lists of reference token lists
        hypotheses: list of token lists
        max_n: highest n-gram order (BLEU-4: max_n=4)
    Returns:
        float in [0, 1]; 0 if some order has no matching n-gram at all.
    """
    _check_corpus(references, hypotheses)
    matches = [0] * max_n
    totals = [0] * max_n
    hyp_len = ref_len = 0
    for refs, hyp in zip(references, hypotheses):
        hyp_len += len(hyp)
        # the reference length closest to the hypothesis length (the shorter on ties)
        ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = _ngrams(hyp, n)
            # clip: an n-gram counts at most as often as it appears in any one reference
            most = Counter()
            for r in refs:
                most |= _ngrams(r, n)
            matches[n - 1] += sum(min(c, most[g]) for g, c in counts.items())
            totals[n - 1] += max(1, sum(counts.values()))
    if hyp_len == 0 or min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return brevity * math.exp(log_precision)


def bleu_scores(references, hypotheses, max_n=4):
    """BLEU-1 .. BLEU-max_n as a dict {'BLEU-1': ..., ...}."""
    return {f"BLEU-{n}": corpus_bleu(references, hypotheses, n) for n in range(1, max_n + 1)}


def evaluate_captioning_bleu(model, data, split="val", num_images=None, max_length=30,
                             batch_size=500, return_captions=False):
    """BLEU of a captioning model's greedy captions against all references.

    One caption is generated per image (``model.sample``) and compared with
    every reference caption of that image.

    Inputs:
        model: has ``sample(features, max_length) -> (N, max_length) ints``
        data: dict from ``load_coco_data``
        split: 'train' or 'val'
        num_images: evaluate the first this many images that have captions (default all)
    Returns:
        dict {'BLEU-1': ..., 'BLEU-4': ...}; with ``return_captions`` also
        (image_idxs, generated token lists).
    """
    from .backend import asarray, to_numpy
    from .data import caption_tokens, references_by_image

    refs_by_image = references_by_image(data, split)
    image_idxs = np.array(sorted(refs_by_image))
    if num_images is not None:
        image_idxs = image_idxs[:num_images]
    features = data[f"{split}_features"]
    hypotheses = []
    for start in range(0, len(image_idxs), batch_size):
        batch = image_idxs[start:start + batch_size]
        sampled = to_numpy(model.sample(asarray(features[batch]), max_length=max_length))
        hypotheses += [caption_tokens(row, data["idx_to_word"]) for row in sampled]
    references = [refs_by_image[i] for i in image_idxs]
    scores = bleu_scores(references, hypotheses)
    if return_captions:
        return scores, image_idxs, hypotheses
    return scores
