"""What do single hidden units track? Features per character, correlations, colouring.

    features = character_features(text)          # dict name -> (L,) float array
    r = unit_feature_correlations(hidden, features)   # hidden (L, H) -> dict name -> (H,)
    best = best_units(r)                         # name -> (unit, r)
    HTML(colour_text_html(text, hidden[:, unit]))

The features, one value per character of the text (the value at the
character itself):

    inside_quotes     1 inside a string literal, quotes included: '...' and "..." end at the
                      line's end, triple quotes (Python docstrings) may span lines
    bracket_depth     how many (, [ or { are open, the opening bracket included
    position_in_line  characters since the last newline (0 for the first one)
    speaker_name      1 on a line that follows an empty line (or starts the text), ends
                      with ':' and has no other ':' (the speaker lines of a play), newline
                      excluded

A unit's activation is compared with each feature by Pearson's correlation
over all characters; a feature that is constant on the text gets r = 0.
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["FEATURES", "character_features", "unit_feature_correlations", "best_units",
           "colour_text_html"]

FEATURES = ("inside_quotes", "bracket_depth", "position_in_line", "speaker_name")
_OPEN, _CLOSE = "([{", ")]}"


def _inside_quotes(text: str) -> np.ndarray:
    out = np.zeros(len(text))
    quote, i = None, 0  # quote: the delimiter of the open string ("'", '"', "'''", '"""')
    while i < len(text):
        c = text[i]
        if quote is None:
            if c in "'\"":
                quote = c * 3 if text[i:i + 3] == c * 3 else c
                out[i:i + len(quote)] = 1
                i += len(quote)
                continue
        else:
            out[i] = 1
            if c == "\\":  # an escaped character cannot close the string
                out[i + 1:i + 2] = 1
                i += 2
                continue
            if text.startswith(quote, i):
                out[i:i + len(quote)] = 1
                i += len(quote)
                quote = None
                continue
            if c == "\n" and len(quote) == 1:  # a one-line string ends with its line
                out[i] = 0
                quote = None
        i += 1
    return out


def _bracket_depth(text: str) -> np.ndarray:
    out = np.zeros(len(text))
    depth = 0
    for i, c in enumerate(text):
        if c in _OPEN:
            depth += 1
        out[i] = depth
        if c in _CLOSE:
            depth = max(depth - 1, 0)
    return out


def _position_in_line(text: str) -> np.ndarray:
    out = np.zeros(len(text))
    position = 0
    for i, c in enumerate(text):
        out[i] = position
        position = 0 if c == "\n" else position + 1
    return out


def _speaker_name(text: str) -> np.ndarray:
    out = np.zeros(len(text))
    start, previous_empty = 0, True
    for line in text.split("\n"):
        if previous_empty and line.endswith(":") and line.count(":") == 1:
            out[start:start + len(line)] = 1
        previous_empty = line.strip() == ""
        start += len(line) + 1
    return out


def character_features(text: str) -> dict:
    """name -> (len(text),) float64 array, for every name in ``FEATURES``."""
    return {"inside_quotes": _inside_quotes(text), "bracket_depth": _bracket_depth(text),
            "position_in_line": _position_in_line(text), "speaker_name": _speaker_name(text)}


def unit_feature_correlations(hidden, features: dict) -> dict:
    """name -> (H,) Pearson correlation of every unit of ``hidden`` (L, H) with that feature."""
    hidden = np.asarray(hidden, dtype=np.float64)
    if hidden.ndim != 2:
        raise ValueError(f"hidden must be (L, H): one row of activations per character, got shape {hidden.shape}")
    centred = hidden - hidden.mean(axis=0)
    unit_norms = np.linalg.norm(centred, axis=0)
    result = {}
    for name, values in features.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (hidden.shape[0],):
            raise ValueError(f"feature {name!r} has shape {values.shape}; it needs one value per "
                             f"row of hidden, ({hidden.shape[0]},)")
        v = values - values.mean()
        denominator = unit_norms * np.linalg.norm(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(denominator > 0, (v @ centred) / np.where(denominator > 0, denominator, 1), 0.0)
        result[name] = r
    return result


def best_units(correlations: dict) -> dict:
    """name -> (unit index, r) of the unit with the largest |r| for each feature."""
    best = {}
    for name, r in correlations.items():
        unit = int(np.argmax(np.abs(r)))
        best[name] = (unit, float(r[unit]))
    return best


def colour_text_html(text: str, activation, limit=None) -> str:
    """HTML of ``text`` with each character's background coloured by its activation.

    Blue for negative, red for positive, white at zero; ``limit`` is the
    activation shown at full colour (default: the largest |activation|).
    Newlines stay line breaks.
    """
    activation = np.asarray(activation, dtype=np.float64).ravel()
    if activation.shape != (len(text),):
        raise ValueError(f"activation needs one value per character: {len(text)}, got {activation.shape[0]}")
    limit = float(limit or max(np.abs(activation).max(), 1e-12))
    spans = []
    for c, a in zip(text, np.clip(activation / limit, -1, 1)):
        strength = int(round(255 * (1 - abs(a))))
        colour = f"255,{strength},{strength}" if a > 0 else f"{strength},{strength},255"
        shown = "<br>" if c == "\n" else ("&nbsp;" if c == " " else html.escape(c))
        spans.append(f'<span style="background-color:rgb({colour})">{shown}</span>')
    return ('<div style="font-family:monospace;line-height:1.5;white-space:normal">'
            + "".join(spans) + "</div>")
