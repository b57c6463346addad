"""Character n-gram language models: the baselines a recurrent network must beat.

    model = KneserNeyCharModel(train_text, order=3, vocabulary=vocab.chars)
    model.bits_per_character(val_text)   # average -log2 p(next char | previous n-1 chars)

Smoothing: interpolated Kneser-Ney with one absolute discount ``d`` (0.75 by
default) at every order (Chen & Goodman, 1998). For a context ``h`` of length
k-1 and a character ``w``,

    P_k(w | h) = max(c_k(h w) - d, 0) / c_k(h .)  +  d * N_k(h .) / c_k(h .) * P_{k-1}(w | h')

where ``h'`` is ``h`` without its first character, ``c_k(h .)`` is the sum of
``c_k(h x)`` over all characters ``x`` and ``N_k(h .)`` the number of distinct
characters seen after ``h``. At the highest order ``c_k`` counts occurrences;
at the lower orders it counts the distinct characters seen *before* the
n-gram (the Kneser-Ney continuation count: how many contexts a string follows,
not how often). Below order 1 is the uniform distribution over the vocabulary,
so every character has a probability above zero. A context never seen
(``c_k(h .) = 0``) falls back to the order below. Order 1 is the unigram
model (absolute discounting interpolated with the uniform distribution).

The character at position i of a held-out text is predicted from the
characters before it in that text, as a recurrent network that starts reading
at position 0 does. Near the start, with a history of j < n-1 characters, the
model of order j+1 is used (occurrence counts at its top order).
"""

from __future__ import annotations

import math
from collections import Counter

__all__ = ["KneserNeyCharModel"]


class _Level:
    """Counts of one order k: c_k(g) for strings g of length k, and per context its total and types."""

    def __init__(self, counts: Counter):
        self.counts = counts
        self.totals = Counter()  # context (k-1 chars) -> c_k(h .)
        self.types = Counter()   # context -> N_k(h .)
        for gram, count in counts.items():
            self.totals[gram[:-1]] += count
            self.types[gram[:-1]] += 1


class KneserNeyCharModel:
    """An interpolated Kneser-Ney character model of order ``order`` (1 = unigram)."""

    def __init__(self, text: str, order: int, vocabulary=None, discount: float = 0.75):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be a positive integer (1 = unigram), got {order!r}")
        if not 0 < discount < 1:
            raise ValueError(f"discount must be between 0 and 1, got {discount!r}")
        if len(text) < order:
            raise ValueError(f"a training text of {len(text)} characters has no {order}-grams")
        self.order, self.discount = order, float(discount)
        self.vocabulary = sorted(set(text) | set(vocabulary or ()))
        # index k-1 holds order k: occurrence counts, and continuation counts (how many
        # distinct characters precede each k-gram) for the orders below the top one
        self._occurrences = [_Level(Counter(text[i:i + k] for i in range(len(text) - k + 1)))
                             for k in range(1, order + 1)]
        self._continuations = [_Level(Counter(gram[1:] for gram in self._occurrences[k].counts))
                               for k in range(1, order)]

    def probability(self, history: str, char: str) -> float:
        """P(char | the last order-1 characters of history)."""
        if char not in self.vocabulary:
            raise ValueError(f"{char!r} is not in the model's vocabulary")
        p = 1.0 / len(self.vocabulary)
        d = self.discount
        top = min(self.order, len(history) + 1)
        for k in range(1, top + 1):
            context = history[len(history) - (k - 1):] if k > 1 else ""
            level = self._occurrences[k - 1] if k == top else self._continuations[k - 1]
            total = level.totals.get(context, 0)
            if total == 0:
                continue
            count = level.counts.get(context + char, 0)
            p = max(count - d, 0.0) / total + d * level.types[context] / total * p
        return p

    def bits_per_character(self, text: str) -> float:
        """Average -log2 P(text[i] | text[:i]) over i = 1 .. len(text)-1."""
        if len(text) < 2:
            raise ValueError("bits per character need a text of at least two characters")
        n = self.order
        total = sum(-math.log2(self.probability(text[max(0, i - n + 1):i], text[i]))
                    for i in range(1, len(text)))
        return total / (len(text) - 1)
