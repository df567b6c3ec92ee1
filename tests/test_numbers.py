"""Probabilities never read as certainties they are not."""

from __future__ import annotations

import numpy as np

from forensic_s2f.numbers import percent_text, probability_text


def test_probabilities_strictly_between_0_and_1_never_read_as_0_or_1():
    assert (percent_text(0.9977), probability_text(0.9977)) == ("99.7%", "0.997")
    assert (percent_text(0.9999), probability_text(0.9999)) == ("99.9%", "0.999")
    assert (percent_text(0.0004), probability_text(0.0004)) == ("0.1%", "0.001")
    assert (percent_text(0.95), probability_text(0.95)) == ("95%", "0.95")
    assert (percent_text(1.0), probability_text(1.0), percent_text(0.0), probability_text(0.0)) == ("100%", "1.00", "0%", "0.00")
    for p in np.linspace(1e-6, 1 - 1e-6, 20001):
        assert percent_text(p) not in ("0%", "100%", "0.0%", "100.0%")
        assert probability_text(p) not in ("0.00", "1.00", "0.000", "1.000")
