"""Character features, unit correlations and the colouring of text by a unit."""

from __future__ import annotations

import numpy as np
import pytest

from assignment.unit_probes import (best_units, character_features, colour_text_html,
                                    unit_feature_correlations)


def test_features_of_a_small_text_by_hand():
    text = 'ROMEO:\nHi (a[b]) "x" \'y\n\nJULIET:\nSay: "a\nb'
    f = character_features(text)
    digits = lambda name: "".join(str(int(v)) for v in f[name])
    assert digits("speaker_name") == "111111" + "0" * 19 + "1111111" + "0" * 10
    assert digits("bracket_depth") == "0000000000112221" + "0" * 26
    quotes = digits("inside_quotes")
    assert quotes[text.index('"x"'):text.index('"x"') + 3] == "111"
    assert quotes[text.index("'y")] == "1" and quotes[text.index("'y") + 2] == "0"  # ends with the line
    assert quotes[-1] == "0"  # a one-line string does not continue on the next line
    assert f["position_in_line"][:8].tolist() == [0, 1, 2, 3, 4, 5, 6, 0]


def test_triple_quoted_string_spans_lines():
    text = 'x = """a\nb"""\ny'
    inside = character_features(text)["inside_quotes"]
    assert inside[text.index("b")] == 1 and inside[-1] == 0


def test_a_unit_equal_to_a_feature_has_correlation_one_and_is_found():
    text = "ab(cd)e\nfg[h]\n"
    features = character_features(text)
    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((len(text), 4))
    hidden[:, 2] = -3 * features["bracket_depth"] + 1
    r = unit_feature_correlations(hidden, features)
    assert r["bracket_depth"][2] == pytest.approx(-1.0)
    assert best_units(r)["bracket_depth"] == (2, pytest.approx(-1.0))
    assert np.all(r["inside_quotes"] == 0)  # a constant feature: r = 0, not NaN


def test_correlations_reject_a_feature_of_the_wrong_length():
    with pytest.raises(ValueError, match="one value per"):
        unit_feature_correlations(np.zeros((5, 2)), {"f": np.zeros(4)})


def test_colouring_has_one_span_per_character_red_for_positive_blue_for_negative():
    html = colour_text_html("a<\n", np.array([1.0, -1.0, 0.0]))
    assert html.count("<span") == 3
    assert "rgb(255,0,0)\">a<" in html and "rgb(0,0,255)\">&lt;<" in html and "<br>" in html
