"""What a speaker's estimate is worth, stated from measured validation figures, never from adjectives.

Probabilities are fractions in [0, 1]; `seconds_used` is seconds of speech the model heard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


from forensic_s2f.numbers import probability_text
from forensic_s2f.report.validation import ValidationFigures



# Below these gains over always answering the commonest bracket (exact, within one), the report
# calls the age estimate a hint: the shipped model's are -1.4 and +5.0 points.
AGE_GAIN_EXACT, AGE_GAIN_WITHIN = 0.05, 0.10


def percent(rate: float | None) -> str:
    """A rate as '96.9 %', or 'not measured'."""
    return "not measured" if rate is None else f"{100 * rate:.1f} %"


def most_probable(probabilities: dict[str, float]) -> tuple[str, float] | None:
    if not probabilities:
        return None
    label, p = max(probabilities.items(), key=lambda item: item[1])
    return label, float(p)


def probability_spread(prediction: dict[str, Any], attribute: str) -> dict[str, float] | None:
    """Per-class standard deviation of the probabilities across ensemble members, as
    prediction.json records it (`gender_member_spread`, `age_member_spread`); None if absent."""
    spread = prediction.get(f"{attribute}_member_spread")
    if isinstance(spread, dict) and spread:
        return {label: float(value) for label, value in spread.items()}
    return None


def estimated_age(prediction: dict[str, Any]) -> tuple[str, float] | None:
    """The model's age estimate (`age_estimate`, the rule its validation scored) and that bracket's
    own probability; the most probable bracket where an older prediction lacks an estimate."""
    ages = prediction.get("age", {})
    label = prediction.get("age_estimate")
    if label in ages:
        return label, float(ages[label])
    return most_probable(ages)


def age_estimate_text(prediction: dict[str, Any]) -> str:
    """'30-44 (0.45; ±1 bracket 0.91)': the estimate, its own probability and, where the prediction
    records it (`age_estimate_within_one`), the probability of it or an adjacent bracket."""
    age = estimated_age(prediction)
    if age is None:
        return "-"
    within = prediction.get("age_estimate_within_one")
    if within is None:
        return f"{age[0]} ({probability_text(age[1])})"
    return f"{age[0]} ({probability_text(age[1])}; \u00b11 bracket {probability_text(float(within))})"


def confidence_statement(prediction: dict[str, Any], figures: ValidationFigures | None,
                         warnings: Sequence[str] = ()) -> list[str]:
    """Sentences stating how often estimates like this one were right in validation.

    `warnings` are the speaker's audio warnings: validation used clean single-speaker clips, so
    any warning means the measured figures overstate this estimate's reliability.
    """
    if not prediction:
        return ["No estimate was made for this speaker, so no confidence applies."]
    if figures is None:
        return ["No measured validation figures are available for this model: how often such estimates are right "
                "is unknown. Treat the estimate as unvalidated."]
    seconds = prediction.get("seconds_used")
    statements = []
    row = figures.for_seconds(seconds) if seconds is not None else None
    if row is None and seconds is not None and figures.by_seconds:
        statements.append(f"This speaker gave only {seconds:.1f} s of speech, less than the shortest duration "
                          f"validated ({figures.by_seconds[0].seconds:g} s): the figures below are for longer speech "
                          "and overstate the reliability of this estimate.")

    def measured(metric: str) -> tuple[float | None, str]:
        """The metric at the speaker's duration where measured, else on whole validation clips."""
        value = getattr(row, metric) if row is not None else None
        if value is not None:
            return value, f"hearing {row.heard} (this speaker: {seconds:.1f} s of speech)"
        return getattr(figures, metric), "on whole validation clips"

    protocol = f" ({figures.protocol})" if figures.protocol else ""
    gender = most_probable(prediction.get("gender", {}))
    if gender is not None:
        rate, basis = measured("gender_accuracy")
        text = (f"Gender: in validation{protocol}, {basis}, the most probable gender was the annotated one for "
                f"{percent(rate)} of clips.")
        group = figures.group("gender", gender[0])
        if group is not None and group.gender_accuracy is not None:
            text += f" For clips annotated {gender[0]}, it was right for {percent(group.gender_accuracy)}"
            text += f" ({group.clips} clips)." if group.clips else "."
        statements.append(text)
    age = estimated_age(prediction)
    if age is not None:
        exact, exact_basis = measured("age_exact")
        within, within_basis = measured("age_within_one")
        if exact_basis == within_basis:
            text = (f"Age bracket: {exact_basis}, the estimated bracket was exactly right for {percent(exact)} "
                    f"of clips and right or one bracket off for {percent(within)}.")
        else:
            text = (f"Age bracket: {within_basis}, the estimated bracket was right or one bracket off for "
                    f"{percent(within)} of clips; {exact_basis}, it was exactly right for {percent(exact)}.")
        if figures.age_baseline is not None:
            bracket, base_exact, base_within = figures.age_baseline
            text += (f" Always answering {bracket}, the commonest bracket, scored {percent(base_exact)} exact and "
                     f"{percent(base_within)} within one on the same clips")
            little = figures.age_exact - base_exact < AGE_GAIN_EXACT and figures.age_within_one - base_within < AGE_GAIN_WITHIN
            text += ": the age estimate adds little to that, so treat it as a hint, never a finding." if little else "."
        within = prediction.get("age_estimate_within_one")
        own = prediction.get("age", {}).get(age[0])
        if within is not None:
            text += (f" For this speaker the model gives {probability_text(float(within))} to {age[0]} or an adjacent "
                     "bracket (its own, calibrated, probability)")
            text += f", and {probability_text(float(own))} to {age[0]} itself." if own is not None else "."
        statements.append(text)
    recall = {figure.k: figure for figure in figures.retrieval}
    if recall:
        best = recall.get(10) or recall[max(recall)]
        pool = f"{figures.retrieval_pool_size} " if figures.retrieval_pool_size else ""
        rate = dict(row.recall).get(best.k) if row is not None else None
        basis = f"hearing {row.heard}" if rate is not None else "on whole validation clips"
        rate = best.rate if rate is None else rate
        statements.append(f"Face: {basis}, the true canonical face was among the {best.k} closest of {pool}candidates "
                          f"for {percent(rate)} of validation clips, against {percent(best.chance)} by chance. "
                          "The face image conveys group-level traits, not an individual's appearance.")
    if warnings:
        statements.append(f"These figures were measured on clean, wide-band clips of a single speaker. This speaker's "
                          f"audio raised {len(warnings)} warning{'s' if len(warnings) != 1 else ''} (listed above), so "
                          "the figures are likely to overstate the reliability of this estimate.")
    return statements
