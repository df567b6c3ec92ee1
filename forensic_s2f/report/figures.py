"""Report figures as PNG bytes: speaker timelines and attribute probabilities.

Deterministic: Agg backend, fixed size and DPI, fixed hash salt, no software or date
metadata, so the same data always gives the same bytes.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from forensic_s2f.numbers import probability_text  # noqa: E402

DPI = 200
FIGURE_WIDTH_INCHES = 6.8
STYLE = {
    "svg.hashsalt": "fs2f-report",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
SPEAKER_COLOURS = plt.get_cmap("tab10").colors
CLASS_ORDER = ("female", "male", "<18", "18-29", "30-44", "45-59", "60+")


def ordered(probabilities: dict[str, float]) -> list[str]:
    """Class labels in their natural order (genders, then age brackets youngest first); unknown ones last."""
    rank = {label: index for index, label in enumerate(CLASS_ORDER)}
    return sorted(probabilities, key=lambda label: (rank.get(label, len(rank)), label))


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def timeline_png(segments: list[tuple[str, float, float]], duration_seconds: float, labels: list[str]) -> bytes:
    """Who spoke when: one row per speaker label, bars from start to end (seconds)."""
    with plt.rc_context(STYLE):
        rows = max(len(labels), 1)
        figure, axes = plt.subplots(figsize=(FIGURE_WIDTH_INCHES, 0.8 + 0.32 * rows), layout="constrained")
        for row, label in enumerate(labels):
            spans = [(start, end - start) for name, start, end in segments if name == label]
            axes.broken_barh(spans, (row - 0.35, 0.7), facecolors=SPEAKER_COLOURS[row % len(SPEAKER_COLOURS)])
        if not labels:
            axes.text(0.5, 0.5, "no speech attributed to any speaker", transform=axes.transAxes,
                      ha="center", va="center", color="0.35")
        axes.set_yticks(range(len(labels)), labels)
        axes.set_ylim(rows - 0.5, -0.5)
        axes.set_xlim(0, max(duration_seconds, 1e-3))
        axes.set_xlabel("time from start of recording (s)")
        axes.grid(axis="x", color="0.88", linewidth=0.6)
        axes.set_axisbelow(True)
        return _png(figure)


def attribute_png(gender: dict[str, float], gender_spread: dict[str, float] | None,
                  age: dict[str, float], age_spread: dict[str, float] | None) -> bytes:
    """Gender and age-bracket probabilities as bars, with ±1 standard deviation across ensemble members."""
    with plt.rc_context(STYLE):
        figure, (left, right) = plt.subplots(
            1, 2, figsize=(FIGURE_WIDTH_INCHES, 1.75), layout="constrained", width_ratios=[2, 5])
        for axes, probabilities, spread, title in (
            (left, gender, gender_spread, "gender"), (right, age, age_spread, "age bracket"),
        ):
            labels = ordered(probabilities)
            values = [probabilities[label] for label in labels]
            errors = [spread.get(label, 0.0) for label in labels] if spread else None
            axes.bar(labels, values, color="#4c72b0", width=0.6, yerr=errors, capsize=3,
                     error_kw={"elinewidth": 0.8, "ecolor": "0.2"})
            for x, value in enumerate(values):
                axes.text(x, min(value + (errors[x] if errors else 0) + 0.03, 1.02), probability_text(value),
                          ha="center", va="bottom", fontsize=7)
            axes.set_ylim(0, 1.12)
            axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
            axes.set_ylabel("probability")
            axes.set_title(title + ("" if spread else " (member spread not recorded)"))
            axes.grid(axis="y", color="0.88", linewidth=0.6)
            axes.set_axisbelow(True)
        return _png(figure)
